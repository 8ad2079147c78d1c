"""The leak detector's controls, run in every suite run so its verdicts can be trusted.

Positive: 2,000 calls that each keep 1 KB must be flagged, at a rate within 20%
of 1 KB per call (the Python heap; and the Rust heap when the extension can
allocate a test buffer). Negative: 2,000 calls that allocate 1 KB and keep
nothing must not be flagged. Each outcome is a validity check: a detector that
fails its controls makes the run's leak figures invalid.
"""

from __future__ import annotations

from typing import Any, Callable

from codeperf.memory.context import MemoryContext
from codeperf.memory.controls import RetainingControl, RustRetainingControl, transient_control
from codeperf.memory.leaks import LeakPlan, LeakReport, detect_leak

BYTES_PER_CALL = 1024
PLAN = LeakPlan(warmup_calls=20, batches=20, calls_per_batch=100)  # 2,000 calls
RATE_TOLERANCE = 0.20


def rate_within(report: LeakReport, heap: str, expected: float,
                tolerance: float = RATE_TOLERANCE) -> bool:
    slope = report.slope(heap)
    return slope is not None and abs(slope - expected) <= tolerance * expected


def _positive_control(ctx: MemoryContext, control: Any, phase: str, heap: str, name: str) -> None:
    """A control that retains BYTES_PER_CALL per call must be flagged, at its true rate."""
    entry_id = f"controls/positive/{heap}/1KB"
    with ctx.sampler.phase(f"controls/positive/{phase}"):
        report = detect_leak(control, PLAN, label=f"positive control ({name})", rust=ctx.rust,
                             on_stop=_partial(ctx, entry_id, heap))
    control.release()
    ctx.add_result(_entry(entry_id, report, heap))
    ctx.add_validity(f"leak-control/positive/{heap}/flagged", report.series[heap].leak,
                     _detail(report, heap))
    ctx.add_validity(f"leak-control/positive/{heap}/rate-within-20pct",
                     rate_within(report, heap, BYTES_PER_CALL), _detail(report, heap))
    ctx.log(f"controls: positive ({name}): {_line(report, heap)}")


def run(ctx: MemoryContext) -> None:

    _positive_control(ctx, RetainingControl(BYTES_PER_CALL), "python", "python_heap", "Python heap")

    if ctx.rust.available and hasattr(ctx.rust.module, "allocate_for_test"):
        _positive_control(ctx, RustRetainingControl(ctx.rust, BYTES_PER_CALL), "rust", "rust_heap",
                          "Rust heap")
    else:
        reason = ctx.rust.reason or "codeperf._rust has no allocate_for_test()"
        ctx.log(f"controls: Rust-heap positive control SKIPPED ({reason})")
        ctx.add_result({"id": "controls/positive/rust_heap/1KB", "kind": "skipped", "reason": reason})

    with ctx.sampler.phase("controls/negative"):
        report = detect_leak(transient_control(BYTES_PER_CALL), PLAN, label="negative control",
                             rust=ctx.rust, on_stop=_partial(ctx, "controls/negative/1KB", None))
    ctx.add_result(_entry("controls/negative/1KB", report, None))
    ctx.add_validity("leak-control/negative/not-flagged", not report.leak,
                     {"flagged_series": [k for k, s in report.series.items() if s.leak]})
    ctx.log(f"controls: negative: {'flagged (detector unreliable!)' if report.leak else 'not flagged'}"
            f"; {_line(report, 'python_heap')}")


def _partial(ctx: MemoryContext, entry_id: str, heap: str | None) -> Callable[[LeakReport], None]:
    return lambda report: ctx.add_result(_entry(entry_id, report, heap))


def _entry(entry_id: str, report: LeakReport, heap: str | None) -> dict[str, Any]:
    entry = report.to_entry(entry_id)
    entry["control"] = {"expected_bytes_per_call": BYTES_PER_CALL if heap else 0,
                        "heap": heap, "rate_tolerance": RATE_TOLERANCE}
    return entry


def _detail(report: LeakReport, heap: str) -> dict[str, Any]:
    fit = report.series[heap].fit
    return {"expected_bytes_per_call": BYTES_PER_CALL,
            "measured_bytes_per_call": fit.slope if fit else None,
            "ci_low": fit.slope_ci_low if fit else None, "ci_high": fit.slope_ci_high if fit else None}


def _line(report: LeakReport, heap: str) -> str:
    fit = report.series[heap].fit
    if fit is None:
        return f"{heap} not measured"
    return (f"{fit.slope:,.1f} B/call (95% CI {fit.slope_ci_low:,.1f} .. {fit.slope_ci_high:,.1f}), "
            f"{'flagged' if report.series[heap].leak else 'not flagged'}")
