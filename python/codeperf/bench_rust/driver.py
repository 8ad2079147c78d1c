"""The bench_rust run: gate, memory and timing per case, then speedups, scaling,
targets and the envelope. scripts/bench_rust.py is only its command line."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from codeperf import engine
from codeperf.bench_rust import (analysis, cases, correctness, cost_curve, instructions, memory_pass,
                            table, timing)
from codeperf.bench_rust import baseline as bench_baseline
from codeperf.bench_rust.grid import BACKENDS, FFI_OP, REFERENCE, Size
from codeperf.harness import exitcodes
from codeperf.harness.contract import SetupError, log_to  # noqa: F401 (SetupError: the one, re-exported)
from codeperf.harness.envelope import Recorder
from codeperf.harness.targets import evaluate, load_specs

SUITE = "bench_rust"
RUST_API = ("analyze_responses", "compute_consensus", "aggregate_responses", "noop",
            "allocation_stats", "reset_peak")




@dataclass
class RustBenchConfig:
    ops: tuple[str, ...]
    sizes: tuple[Size, ...]
    settings: timing.PyperfSettings
    out: Path
    seed: int = 0
    quick: bool = False
    memory: bool = True
    memory_repetitions: int = memory_pass.REPETITIONS
    baseline: Path | None = None
    noise_pct: float = bench_baseline.DEFAULT_NOISE_PCT
    rust_threads: int | None = None  # RAYON_NUM_THREADS for the Rust engine; None: rayon's default
    instructions: bool = True  # callgrind instruction counts (instructions.py)
    # None: instructions.DEFAULT_SIZES (Python twin 20 x 2 KB, Rust 100 x 2 KB); a Size: both.
    instructions_size: Size | None = None
    cost_curve: tuple[int, ...] = ()  # responses (2 KB each) for the cost curve; () skips it
    # Pyperf settings off the reference shape (None: `settings` everywhere); full mode's
    # default is timing.FULL_OFF_REFERENCE.
    off_reference_settings: timing.PyperfSettings | None = None
    # Ops timed at the reference shape only (full mode's default: grid.REFERENCE_ONLY_OPS).
    reference_only_ops: tuple[str, ...] = ()

    def settings_for(self, size: Size | None) -> timing.PyperfSettings:
        if size is None or size.at_reference or self.off_reference_settings is None:
            return self.settings
        return self.off_reference_settings

    def to_dict(self) -> dict[str, Any]:
        return {
            "benches": list(self.ops), "sizes": [s.label for s in self.sizes],
            "corpus": list(self.families),
            "cost_curve_responses": list(self.cost_curve),
            "cost_curve_sizes": [s.label for s in cost_curve.sizes(self.cost_curve, self.families)],
            "reference_size": REFERENCE.label, "seed": self.seed, "quick": self.quick,
            "pyperf": _settings_dict(self.settings),
            "pyperf_off_reference": (_settings_dict(self.off_reference_settings)
                                     if self.off_reference_settings else None),
            "reference_only_ops": list(self.reference_only_ops),
            "memory_pass": self.memory, "memory_repetitions": self.memory_repetitions,
            "memory_python_repetitions": memory_pass.PYTHON_REPETITIONS,
            "baseline": str(self.baseline) if self.baseline else None,
            "baseline_noise_pct": self.noise_pct,
            "rust_threads": self.rust_threads or "rayon default (one per core)",
            "instructions": ({"sizes": {b: s.label for b, s in
                                        instructions.sizes_for(self.instructions_size,
                                                               BACKENDS).items()},
                              "ops": [op for op in self.ops if op in instructions.OPS]}
                             if self.instructions else None),
            "python_executable": sys.executable, "pyperf_script": str(timing.SCRIPT),
        }

    @property
    def families(self) -> tuple[str, ...]:
        """The corpus families this run chose (--corpus), in the order of its sizes."""
        return tuple(dict.fromkeys(s.family for s in self.sizes))

    def pairs(self) -> list[tuple[str, Size | None]]:
        """(op, size) in run order; the FFI baseline has no size."""
        return [(op, None) if op == FFI_OP else (op, size)
                for op in self.ops for size in ((None,) if op == FFI_OP else self.sizes)
                if op not in self.reference_only_ops or size is None or size.at_reference]


def _settings_dict(settings: timing.PyperfSettings) -> dict[str, Any]:
    return {"processes": settings.processes, "values": settings.values,
            "warmups": settings.warmups, "min_time_s": settings.min_time,
            "loops": settings.loops or "calibrated"}


def preflight() -> str:
    """Refuse to start without a usable Rust build: never Python numbers labelled Rust."""
    try:
        rust = engine.backend("rust")
    except engine.BackendUnavailable as exc:
        raise SetupError(f"cannot benchmark Rust against Python: {exc}") from None
    missing = [name for name in RUST_API if not hasattr(rust.module, name)]  # type: ignore[attr-defined]
    if missing:
        raise SetupError("the Rust extension codeperf._rust lacks " + ", ".join(missing)
                         + "; rebuild it with `make build`")
    return str(getattr(rust.module, "__file__", "codeperf._rust"))  # type: ignore[attr-defined]


def _goals() -> dict[str, float]:
    return {spec.metric: spec.threshold for spec in load_specs() if spec.suite == SUITE}


@dataclass
class _State:
    speedups: dict[str, dict[Size, analysis.Speedup]] = field(default_factory=dict)
    memory: dict[str, dict[Size, memory_pass.MemoryResult]] = field(default_factory=dict)
    time_changes: list[bench_baseline.CaseChange] = field(default_factory=list)
    speedup_changes: list[bench_baseline.CaseChange] = field(default_factory=list)
    gate_failures: int = 0
    input_mismatches: list[str] = field(default_factory=list)
    text_bytes: dict[Size, int] = field(default_factory=dict)  # UTF-8 bytes of each input


def run(config: RustBenchConfig, log: Callable[[str], None] | None = None,
        operation: Callable[[str, str], Callable[[Any], Any]] | None = None) -> int:
    """Run the suite; write `<out>/bench_rust.json` and `<out>/pyperf/*.json`; return the exit code.

    `operation(op, backend)` gives the callable the gate and the memory pass run
    (cases.operation; tests swap it to force a mismatch). Raises SetupError
    before measuring anything when the run cannot be honest.
    """
    emit = log or log_to(SUITE)  # the suite contract's one logger (stderr)
    operation = operation or cases.operation
    base = bench_baseline.Baseline.load(config.baseline) if config.baseline else None
    if config.rust_threads:
        # Read by rayon when its pool starts: in the pyperf workers (pyperf passes the
        # variable on) and here, unless this process already used the pool.
        os.environ["RAYON_NUM_THREADS"] = str(config.rust_threads)
    rust_file = preflight()
    build_before = _file_sha256(rust_file)
    goals = _goals()
    pyperf_dir = config.out / "pyperf"
    pyperf_dir.mkdir(parents=True, exist_ok=True)
    for stale in pyperf_dir.glob("*.json"):  # this directory holds this run's files only
        stale.unlink()

    pairs = config.pairs()
    state = _State()
    off = config.off_reference_settings
    emit(f"bench_rust: {len(pairs)} cases x {len(BACKENDS)} backends; pyperf "
         f"{config.settings.processes} processes x {config.settings.values} values"
         + (f" ({off.processes} x {off.values} off the reference shape)"
            if off and off != config.settings else "")
         + f"; rust = {rust_file}")
    emit(table.header())
    started = time.monotonic()
    with Recorder(SUITE, config.out, config.to_dict()) as rec:
        for index, (op, size) in enumerate(pairs, 1):
            progress = f"[{index:>2}/{len(pairs)}]"
            _run_pair(config, rec, state, op, size, progress, goals, base, operation, emit)
            rec.save()  # a checkpoint: an interrupted run keeps what it measured
        _instruction_counts(config, rec, emit)
        rec.save()
        # A rebuild during the run would mix two builds' numbers under one label.
        rec.add_validity(bench_baseline.BUILD_CHECK, _file_sha256(rust_file) == build_before,
                         {"file": rust_file, "sha256_at_start": build_before})
        _finish(config, rec, state, base, build_before, emit)
        rec.mark_complete()
    env = rec.envelope
    emit(f"bench_rust: {time.monotonic() - started:.0f} s; wrote {rec.path} and {pyperf_dir}/")
    # A failed correctness gate is a failed validity check: the one rule covers it.
    return rec.exit_code


def _run_pair(config: RustBenchConfig, rec: Recorder, state: _State, op: str, size: Size | None,
              progress: str, goals: dict[str, float], base: bench_baseline.Baseline | None,
              operation: Callable[[str, str], Callable[[Any], Any]],
              emit: Callable[[str], None]) -> None:
    label = size.label if size is not None else "call"
    _status(f"{progress} {op}/{label}: correctness gate")
    data = cases.make_input(op, size, config.seed)
    if size is not None:
        state.text_bytes[size] = sum(len(r.content.encode("utf-8")) for r in data)
    gate = correctness.run_gate(op, size, config.seed, data, operation=operation)
    rec.add_validity(gate.check, gate.correct, gate.detail)
    memory = None
    timings: dict[str, timing.Timing | None] = {b: None for b in BACKENDS}
    if not gate.correct:
        state.gate_failures += 1
    else:
        if config.memory and op != FFI_OP and size is not None:
            _status(f"{progress} {op}/{label}: memory pass")
            memory = memory_pass.measure(op, label, data, config.memory_repetitions,
                                         operation=operation)
            state.memory.setdefault(op, {})[size] = memory
        del data  # the pyperf workers build their own copy; the gate's fingerprint checks it
        pair = {b: cases.Case(op, b, size, config.seed) for b in BACKENDS}
        _status(f"{progress} {op}/{label}: timing python and rust, interleaved")
        try:
            timings.update(timing.run_interleaved(
                pair, config.settings_for(size), {b: config.out / "pyperf" / c.file_name for b, c in pair.items()}))
        except timing.TimingError as exc:
            rec.add_error("timing", str(exc), case=f"{op}/{label}")
        for backend_name, t in timings.items():
            if t is not None and t.metadata.get("codeperf_input_sha256") != gate.input_sha256:
                state.input_mismatches.append(pair[backend_name].id)
    for backend_name in BACKENDS:
        case = cases.Case(op, backend_name, size, config.seed)
        t = timings[backend_name]
        entry = analysis.case_entry(case, gate.correct, t, gate.input_sha256,
                                    f"pyperf/{case.file_name}" if t else None)
        if base is not None and t is not None:
            change = base.compare(case.id, t.runs, config.noise_pct)
            if change is not None:
                state.time_changes.append(change)
                entry["baseline"] = change.to_dict()
        rec.add_result(entry)
    sp = analysis.speedup(op, size, gate.correct, timings["python"], timings["rust"])
    state.speedups.setdefault(op, {})[size] = sp  # type: ignore[index]
    sp_entry = sp.entry()
    if base is not None and sp.ci is not None:
        change = base.compare_speedup(op, sp.size_label, timings["python"].runs,  # type: ignore[union-attr]
                                      timings["rust"].runs, config.noise_pct,  # type: ignore[union-attr]
                                      sp.background_cpu_pct)
        if change is not None:
            state.speedup_changes.append(change)
            sp_entry["baseline"] = change.to_dict()
    rec.add_result(sp_entry)
    if memory is not None and size is not None:
        rec.add_result(analysis.memory_entry(memory, size))
    at_reference = size is not None and size.at_reference
    _status("")
    emit(table.row(progress, sp, memory,
                   goals.get(f"speedup.{op}") if at_reference else None,
                   goals.get(f"memory_reduction_pct.{op}") if at_reference else None))
    if not gate.correct:
        emit(click.style(f"        correctness gate FAILED, not timed: {gate.detail}", fg="red"))


def _instruction_counts(config: RustBenchConfig, rec: Recorder, emit: Callable[[str], None]) -> None:
    """Instruction counts per op and backend under callgrind: the deterministic measure the
    regression gate compares (wall-clock speedups stay for people)."""
    ops = [op for op in config.ops if op in instructions.OPS]
    if not config.instructions or not ops:
        return
    sizes = instructions.sizes_for(config.instructions_size, BACKENDS)
    shown = ", ".join(f"{backend} {size.label}" for backend, size in sizes.items())
    _status(f"instruction counts under callgrind at {shown}")
    try:
        counts, seconds = instructions.measure(ops, sizes, config.seed)
    except instructions.NotRun as exc:
        # Recorded, so the report says "not run" instead of comparing nothing.
        rec.add_result({"id": "instructions/not-run", "kind": "not_run", "part": "instructions",
                        "reason": str(exc)})
        emit(click.style(f"instruction counts NOT RUN: {exc}", fg="yellow"))
        return
    except instructions.CallgrindError as exc:
        rec.add_error("instructions", str(exc))
        emit(click.style(f"instruction counts FAILED: {exc}", fg="red"))
        return
    _status("")
    emit(f"instruction counts ({counts[0].tool}, {shown}, "
         f"{seconds:.0f} s):")
    for count in counts:
        rec.add_result(count.entry())
        emit(f"  {count.op:<18} {count.backend:<6} {count.instructions:>14,}")


def _finish(config: RustBenchConfig, rec: Recorder, state: _State,
            base: bench_baseline.Baseline | None, build_sha256: str | None,
            emit: Callable[[str], None]) -> None:
    emit("")
    for op in config.ops:
        if op == FFI_OP:
            continue
        for axis in analysis.axes(config.sizes):
            entry = analysis.scaling_entry(op, axis, state.speedups.get(op, {}))
            if entry is None:
                continue
            rec.add_result(entry)
            s = entry["summary"]
            emit(f"scaling {entry['id']}: time ~ size^k, python k={s['python_exponent']:.2f}, "
                 f"rust k={s['rust_exponent']:.2f}; Rust {entry['crossover']['verdict']}")
    rec.add_validity("timed input is the gated input", not state.input_mismatches,
                     {"mismatched_cases": state.input_mismatches})
    curve = cost_curve.run(config.ops, config.cost_curve, config.seed, emit,
                           families=config.families)
    for entry in curve:
        rec.add_result(entry)
    if curve:
        wrong = [e["id"] for e in curve if e.get("correct") is False]
        rec.add_validity("cost curve: both backends agree where both ran", not wrong,
                         {"mismatched_points": wrong})
    _targets(config, rec, state, emit, curve)
    if base is not None:
        entry = bench_baseline.summary_entry(base, state.speedup_changes, state.time_changes,
                                             config.noise_pct, build_sha256)
        rec.add_result(entry)
        s = entry["summary"]
        build = {True: "same Rust build", False: "a DIFFERENT Rust build",
                 None: "Rust build unknown"}[entry["same_rust_build"]]
        emit(f"vs baseline {base.path} (run {base.run_id}, {build}):")
        emit(f"  speedup changed in {s['changed_count']} of {s['compared_count']} cases "
             f"(95% CI of now/then excludes 1 and |change| >= {config.noise_pct:g}%; "
             f"CI alone excludes 1 for {s['ci_excludes_one_count']})")
        for change in entry["changed"]:
            emit(f"    {change['id']}: {change['status']} x{change['ratio_x']:.3f} "
                 f"[{change['ci_low_x']:.3f}, {change['ci_high_x']:.3f}]; other processes' CPU "
                 f"then {_pct(change['others_then_pct'])}, now {_pct(change['others_now_pct'])}")
        emit(f"  absolute time changed in {s['time_changed_count']} of "
             f"{s['time_compared_count']} backend cases (not a verdict: between runs this "
             f"also measures the machine's load)")


def _targets(config: RustBenchConfig, rec: Recorder, state: _State,
             emit: Callable[[str], None], curve: list[dict[str, Any]] | None = None) -> None:
    """Targets at the reference shape (100 x 2 KB), for the selected ops only, judged on
    the least corpus family: a speedup on the lower end of its 95% CI, memory on its
    reduction, throughput on the Rust median time. Every family's figure is in the note.

    Memory is also judged at the cost curve's points where the twin ran (1,000 x 2 KB in
    full mode, on the reference family and `code`): issue #14's goal holds at 100 AND at
    1,000 x 2 KB. The quick mode runs no cost curve, so it judges 100 x 2 KB alone, as it
    judges the reference family alone."""
    measured: dict[str, float | None] = {}
    notes: dict[str, str] = {}
    statistics: dict[str, str] = {}

    def least(metric: str, per_case: dict[str, float], shown: dict[str, str]) -> None:
        if per_case:
            worst = min(per_case, key=per_case.__getitem__)
            measured[metric] = per_case[worst]
            if metric.startswith("speedup."):
                # the lower end of the 95 % CI: a point estimate has not shown ">= 20x"
                statistics[metric] = "ci95_low"
            where = (f"least family {worst}" if worst in config.families
                     else f"least case {worst} (cost curve)")
            notes[metric] = (f"at {REFERENCE.label} per family and the cost curve's points, {where}; "
                             if len(per_case) > len(config.families)
                             else f"at {REFERENCE.label}, {where}; ") + "; ".join(
                f"{f}: {shown[f]}" for f in per_case)

    for op in config.ops:
        speed: dict[str, float] = {}
        speed_shown: dict[str, str] = {}
        mem: dict[str, float] = {}
        mem_shown: dict[str, str] = {}
        mb_s: dict[str, float] = {}
        mb_s_shown: dict[str, str] = {}
        for size, sp in state.speedups.get(op, {}).items():
            if size is None or not size.at_reference or sp.ci is None:
                continue
            speed[size.family] = sp.ci.low
            speed_shown[size.family] = f"{sp.ci.ratio:.3g}x, 95% CI [{sp.ci.low:.3g}, {sp.ci.high:.3g}]"
            if op == "analyze" and sp.rust_median_s and size in state.text_bytes:
                mb_s[size.family] = state.text_bytes[size] / 1e6 / sp.rust_median_s
                mb_s_shown[size.family] = f"{mb_s[size.family]:.3g} MB/s"
        for size, m in state.memory.get(op, {}).items():
            if size.at_reference and m.reduction_pct is not None:
                mem[size.family] = m.reduction_pct
                mem_shown[size.family] = (
                    f"{m.reduction_pct:.3g}% (python {table.fmt_bytes(m.python_peak_bytes)}, rust "
                    f"{table.fmt_bytes(m.rust_heap_peak_bytes)} heap + "
                    f"{table.fmt_bytes(m.rust_python_heap_peak_bytes)} python heap)")
        for point in curve or []:
            summary = point.get("summary", {})
            if point.get("op") == op and summary.get("memory_reduction_pct") is not None:
                label = point["id"].split("/cost/", 1)[-1]
                mem[label] = summary["memory_reduction_pct"]
                mem_shown[label] = (
                    f"{mem[label]:.3g}% (python {table.fmt_bytes(summary['python_peak_bytes'])}, "
                    f"rust {table.fmt_bytes(summary['rust_heap_peak_bytes'])} heap + "
                    f"{table.fmt_bytes(summary['rust_python_heap_peak_bytes'])} python heap; one call)")
        least(f"speedup.{op}", speed, speed_shown)
        least(f"memory_reduction_pct.{op}", mem, mem_shown)
        least(f"throughput_mb_s.{op}", mb_s, mb_s_shown)
    emit("")
    not_run = not_requested(config.ops, config.sizes, config.memory)
    for target in evaluate(SUITE, measured, statistics=statistics, not_run=not_run):
        if target.state != "not run":
            target.note = notes.get(target.metric,
                                    target.note or f"{REFERENCE.label} not in this run")
        rec.add_target(target)
        shown = "not measured" if target.measured is None else f"{target.measured:.3g} {target.unit}"
        mark = {"pass": click.style("PASS", fg="green"), "fail": click.style("FAIL", fg="red")}.get(
            target.state, "NOT RUN")
        emit(f"target {mark} {target.name}: measured {shown} "
             f"(goal {target.op} {target.threshold:g}; {target.note})")


def not_requested(ops: tuple[str, ...], sizes: tuple[Size, ...], memory: bool) -> dict[str, str]:
    """Targets of parts this run was asked to leave out: "not run", not failed. Every
    bench_rust target is judged at the reference shape, so `--sizes` without it leaves
    them all out (a tiny run is not a failed one)."""
    out: dict[str, str] = {}
    for spec in load_specs():
        if spec.suite != SUITE:
            continue
        op = spec.metric.split(".", 1)[-1]
        if op not in ops:
            out[spec.metric] = f"benchmark {op} not requested; ran " + ", ".join(ops)
        elif not any(size.at_reference for size in sizes):
            out[spec.metric] = (f"reference size {REFERENCE.label} not requested; ran "
                                + ", ".join(size.label for size in sizes))
        elif not memory and spec.metric.startswith("memory_"):
            out[spec.metric] = "memory pass not requested (--no-memory)"
    return out


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _file_sha256(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _status(text: str) -> None:
    """A transient progress line on a terminal; nothing when stderr is a file."""
    if sys.stderr.isatty():
        click.echo("\r\033[K" + text, err=True, nl=False)
