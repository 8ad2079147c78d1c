"""The memory suite: run components, sample the timeline, evaluate targets, write memory.json."""

from __future__ import annotations

import gc
import importlib
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable, Sequence

from codeperf.harness import exitcodes, systems
from codeperf.harness.contract import SetupError
from codeperf.harness.envelope import Interrupted, Recorder
from codeperf.harness.targets import evaluate
from codeperf.memory import gcstats
from codeperf.memory.components import COMPONENT_NAMES, registry
from codeperf.memory.components.engine import OPS
from codeperf.memory.context import ComponentSkipped, MemoryContext, stderr_log
from codeperf.memory.heaps import rust_heap
from codeperf.memory.timeline import TimelineSampler

TRACEMALLOC_FRAMES = 1  # file:line of the allocation; deeper stacks cost time on every allocation
SAMPLE_INTERVAL_S = 0.02
MB = 1_000_000  # targets say "MB": SI megabytes, the stricter reading of the seed's "500MB"
# Which components measure each target's metric. A target none of whose components
# was requested is "not run"; one whose component was skipped here (ComponentSkipped)
# is "not run" too, named in the verdict: a peak over the components that did run
# is not the target's peak. A source that ran but could not measure fails it.
TARGET_SOURCES = {
    "peak_rss_mb": {"engine", "experts", "concurrency", "mcp"},
    "leak.max_bytes_per_100_ops": {"leaks", "experts", "mcp"},
    "rust_reduction_pct.min": {"engine"},
}


def target_metrics(ctx: MemoryContext) -> dict[str, float | None]:
    """The metrics targets.toml names, from what the components measured in this run."""
    peaks = ctx.normal_load_rss_peaks
    rates = ctx.leak_rates
    reductions = ctx.rust_reductions
    # "The least of the operations" needs every operation: a component cut short
    # (failed, interrupted) must not pass the target on the ones it reached.
    complete = (set(OPS) <= set(reductions)
                and all(v is not None for v in reductions.values()))
    metrics: dict[str, float | None] = {
        "peak_rss_mb": max(peaks.values()) / MB if peaks else None,
        "leak.max_bytes_per_100_ops": max(rates.values()) if rates else None,
        "rust_reduction_pct.min": min(reductions.values()) if complete else None,  # type: ignore[type-var]
    }
    for op, pct in reductions.items():
        metrics[f"rust_reduction_pct.{op}"] = pct
    return metrics


def run_suite(out_dir: Path, components: Sequence[str] = (), *, quick: bool = False,
              experts_file: Path | None = None, allow_remote: bool = False,
              sample_interval_s: float = SAMPLE_INTERVAL_S,
              log: Callable[[str], None] = stderr_log) -> int:
    chosen = list(components) or list(COMPONENT_NAMES)
    available = registry()
    unknown = [c for c in chosen if c not in available]
    if unknown:  # the one SetupError of the suite contract: nothing measured, exit 2
        raise SetupError(f"unknown component(s) {', '.join(unknown)}; known: "
                         f"{', '.join(available)}")
    circle = None
    if experts_file is not None:
        from codeperf.experts.config import ExpertsConfigError, load

        try:  # before anything is measured: a wrong key is a usage error, not a failed component
            circle = load(experts_file).experts
        except ExpertsConfigError as exc:
            raise SetupError(str(exc)) from None
    if "experts" in chosen and circle is None:
        from codeperf.memory.components.experts import builtin_circle

        circle = builtin_circle().experts
    out_dir = Path(out_dir)
    config = {"components": chosen, "quick": quick, "tracemalloc_frames": TRACEMALLOC_FRAMES,
              "sample_interval_s": sample_interval_s,
              "experts_file": str(experts_file) if experts_file else None,
              "allow_remote": allow_remote,
              # Which experts the "experts" component queries (none when it does not run).
              "systems": systems.experts(circle) if "experts" in chosen and circle else []}
    started_tracing = not tracemalloc.is_tracing()
    rust = rust_heap()
    preloaded = preload([m for name in chosen for m in available[name].preload])
    # Everything alive now (the interpreter, the imports above) is not under test: out
    # of the collector's generations, full collections and GC pauses are the code's own.
    gc.collect()
    gc.freeze()
    config["preloaded_modules"] = preloaded
    if started_tracing:
        tracemalloc.start(TRACEMALLOC_FRAMES)
    sampler = TimelineSampler(sample_interval_s, rust=rust)
    ctx = MemoryContext(quick=quick, rust=rust, sampler=sampler, out_dir=out_dir, log=log,
                        options={"experts_file": experts_file, "allow_remote": allow_remote})
    try:
        with Recorder("memory", out_dir, config) as recorder:
            recorder.envelope.config["rust_heap"] = ({"available": True} if rust.available
                                                     else {"available": False, "reason": rust.reason})
            if not rust.available:
                log(f"memory: Rust heap not measured: {rust.reason}")
            sampler.start()
            try:
                with ctx.cleanup:
                    for name in chosen:
                        _run_component(ctx, recorder, available[name])
            finally:
                sampler.stop()
                recorder.add_result(_timeline_entry(sampler))
                for check, ok, detail in ctx.validity:
                    recorder.add_validity(check, ok, detail)
                ctx.validity.clear()
            metrics = target_metrics(ctx)
            recorder.add_result(_summary_entry(ctx, metrics))
            for target in evaluate("memory", metrics,
                                   not_run=not_run_targets(chosen, ctx.skipped)):
                recorder.add_target(target)
            recorder.mark_complete()
    except (KeyboardInterrupt, Interrupted):
        log(f"memory: interrupted; partial results in {out_dir / 'memory.json'}")
        return exitcodes.INTERRUPTED
    finally:
        if started_tracing:
            tracemalloc.stop()
        gc.unfreeze()
    envelope = recorder.envelope
    print_summary(envelope.to_dict(), log)
    log(f"memory: wrote {recorder.path}")
    return recorder.exit_code


def not_run_targets(chosen: Sequence[str], skipped: dict[str, str]) -> dict[str, str]:
    """metric -> why its target is "not run": no source component requested, or one skipped."""
    out = {}
    for metric, sources in TARGET_SOURCES.items():
        if not sources & set(chosen):
            out[metric] = (f"needs component {' or '.join(sorted(sources))}; ran "
                           + ", ".join(chosen))
            continue
        gone = sorted(sources & set(skipped))
        if gone:
            out[metric] = "skipped: " + "; ".join(f"component {c} ({skipped[c]})" for c in gone)
    return out


def preload(modules: Sequence[str]) -> list[str]:
    """Import the components' heavy modules now, before tracing starts; the ones that
    fail are left to their component, which skips with the reason."""
    done = []
    for name in dict.fromkeys(modules):
        try:
            importlib.import_module(name)
        except Exception:
            continue
        done.append(name)
    return done


def _run_component(ctx: MemoryContext, recorder: Recorder, component: Any) -> None:
    """Run one component; its entries reach the envelope however it ends.

    A component records entries as it measures them (`ctx.add_result`). If it
    fails or is interrupted, those entries (and the in-flight leak run's batches,
    which `detect_leak` hands over) are recorded with `"partial": true` beside the
    error, and a checkpoint is written before the exception goes on.
    """
    ctx.log(f"memory: component {component.name}: {component.description}")
    started = time.perf_counter()
    ctx.results = []
    finished = skipped = False
    try:
        with gcstats.monitoring() as gc_monitor, ctx.sampler.phase(component.name):
            try:
                component.run(ctx)
                finished = True
            except ComponentSkipped as exc:
                ctx.log(f"memory: component {component.name}: SKIPPED ({exc})")
                ctx.results.append({"id": component.name, "kind": "skipped", "reason": str(exc)})
                ctx.skipped[component.name] = str(exc)
                finished = skipped = True
            except Interrupted:  # SIGTERM ends the run (a BaseException; kept explicit)
                raise
            except Exception as exc:  # one broken component does not stop the others
                ctx.log(f"memory: component {component.name}: FAILED ({type(exc).__name__}: {exc})")
                recorder.add_error("component", f"{component.name}: {type(exc).__name__}: {exc}",
                                   component=component.name)
            finally:  # Ctrl-C and SIGTERM too: the collections seen until then are real
                if not skipped:
                    ctx.results.append({"id": f"gc/{component.name}", "kind": "gc",
                                        "summary": {**gc_monitor.summary(),
                                                    "duration_s": time.perf_counter() - started}})
    finally:
        for entry in ctx.results:
            recorder.add_result(entry if finished else {**entry, "partial": True})
        if not finished and ctx.results:
            ctx.log(f"memory: component {component.name}: kept {len(ctx.results)} entries "
                    f"measured before it stopped (partial)")
        ctx.results = []
        recorder.save()  # a checkpoint after every component, however it ended
    if finished and not skipped:
        ctx.log(f"memory: component {component.name}: done in {time.perf_counter() - started:.1f} s")


def _timeline_entry(sampler: TimelineSampler) -> dict[str, Any]:
    data = sampler.to_dict()
    # `timeline` holds only the time axis and byte series (the report charts every list
    # in it); which phase each sample belongs to is beside it.
    series = {k: data[k] for k in ("t_s", "rss_bytes", "python_heap_bytes", "rust_heap_bytes")}

    def top(key: str) -> int | None:
        values = [v for v in data[key] if v is not None]
        return max(values) if values else None

    return {"id": "timeline", "kind": "timeline",
            "summary": {"samples_count": len(data["t_s"]), "interval_s": data["interval_s"],
                        "rss_max_bytes": top("rss_bytes"),
                        "python_heap_max_bytes": top("python_heap_bytes"),
                        "rust_heap_max_bytes": top("rust_heap_bytes")},
            "timeline": series,
            "phases": {"names": data["phases"], "index": data["phase_index"],
                       "spans": data["spans"]}}


def _summary_entry(ctx: MemoryContext, metrics: dict[str, float | None]) -> dict[str, Any]:
    return {"id": "memory/targets_inputs", "kind": "summary",
            "summary": {"peak_rss_normal_load_bytes": max(ctx.normal_load_rss_peaks.values())
                        if ctx.normal_load_rss_peaks else None,
                        "leak_max_bytes_per_100_ops": metrics["leak.max_bytes_per_100_ops"],
                        "rust_reduction_min_pct": metrics["rust_reduction_pct.min"],
                        "tracemalloc_overhead_bytes": tracemalloc.get_tracemalloc_memory()
                        if tracemalloc.is_tracing() else None},
            "normal_load_rss_peaks_bytes": dict(ctx.normal_load_rss_peaks),
            "leak_rates_bytes_per_100_ops": dict(ctx.leak_rates),
            "rust_reductions_pct": dict(ctx.rust_reductions)}


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def print_summary(envelope: dict[str, Any], log: Callable[[str], None] = stderr_log) -> None:
    """A readable summary: peaks, Rust vs Python, leaks, targets, validity."""
    log("")
    log("== memory summary ==")
    results = envelope["results"]
    for r in results:
        kind, s = r.get("kind"), r.get("summary", {})
        if kind == "comparison":
            log(f"  {r['id']:48s} python {_fmt(s['python_backend_heaps_peak_bytes'], ' B')}  "
                f"rust {_fmt(s['rust_backend_heaps_peak_bytes'], ' B')}  "
                f"reduction {_fmt(s['memory_reduction_pct'], '%')}")
        elif kind == "leak":
            log(f"  {r['id']:48s} {_fmt(s.get('heaps_total_bytes_per_call'), ' B/call')} "
                f"[{_fmt(s.get('heaps_total_ci_low_bytes_per_call'))} .. "
                f"{_fmt(s.get('heaps_total_ci_high_bytes_per_call'))}]"
                f"{'  LEAK' if s.get('leak_detected') else ''}")
        elif kind == "skipped":
            log(f"  {r['id']:48s} skipped: {r.get('reason')}")
    log("targets:")
    for t in envelope["targets"]:
        log(f"  [{t['state'].upper()}] {t['name']}: measured "
            f"{_fmt(t['measured'])} {t['unit']} (target {t['op']} {t['threshold']:g})"
            f"{'  ' + t['note'] if t.get('note') else ''}")
    bad = [v for v in envelope["validity"] if not v["ok"]]
    log(f"validity: {len(envelope['validity']) - len(bad)}/{len(envelope['validity'])} checks ok"
        + "".join(f"\n  [FAIL] {v['check']}: {v.get('detail')}" for v in bad))
    for e in envelope["errors"]:
        log(f"error ({e['kind']}): {e['message']}")
