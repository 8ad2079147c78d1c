"""Timing through pyperf: subprocesses of a plain pyperf script, their JSON read back.

pyperf's Runner owns argv and spawns its own worker processes, so it runs as a
plain script (pyperf_scripts/engine_case.py) in subprocesses that append to one
file per case (`--append`); that file is the raw record (`python -m pyperf
stats FILE` reads it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyperf

import codeperf
from codeperf.bench_rust.cases import Case

SCRIPT = Path(__file__).with_name("pyperf_scripts") / "engine_case.py"
CASE_TIMEOUT_S = 600.0


@dataclass(frozen=True)
class PyperfSettings:
    """pyperf's knobs. loops=0 lets pyperf calibrate (one extra worker process)."""

    processes: int
    values: int
    warmups: int
    min_time: float
    loops: int = 0

    def args(self) -> list[str]:
        # pyperf hands workers a minimal environment; the Rust thread count must get through.
        args = ["--processes", str(self.processes), "--values", str(self.values),
                "--warmups", str(self.warmups), "--min-time", repr(self.min_time),
                "--inherit-environ", "RAYON_NUM_THREADS"]
        if self.loops:
            args += ["--loops", str(self.loops)]
        return args


# pyperf's own default is 20 processes x 3 values at min_time 0.1 s (about 5 s
# per benchmark); 52 cases at that rate would take over 4 minutes before the
# slow Python cases. Fewer processes keep the full run under 5 minutes; the
# two-stage bootstrap in harness/stats.py widens the intervals accordingly.
# Full mode had 4; 3 since the regression gate compares instruction counts
# (instructions.py), which leaves wall-clock speedups to people, and make perf
# must fit 15 minutes on a slower 2-core machine.
FULL = PyperfSettings(processes=3, values=3, warmups=1, min_time=0.05)
# Full mode off the reference shape (sizes that feed scaling and crossover, no target):
# 2 processes. Each pyperf process costs ~0.4 s of start-up per backend whatever the case,
# most of a small case's time. Recomputed from the quiet full run of 2026-12-03 with its
# first 2 process pairs instead of 3 (reports/20261203T174044Z-502a1f, 80 off-reference
# speedups): CI high/low median x1.49 instead of x1.51, 90th percentile x1.77 vs x1.79,
# widest x3.05 vs x2.62; all 80 still significant, every 2-process CI covers the 3-process
# point. The reference shape, where targets are judged on the CI's lower end, keeps 3.
FULL_OFF_REFERENCE = PyperfSettings(processes=2, values=3, warmups=1, min_time=0.05)
QUICK = PyperfSettings(processes=2, values=3, warmups=1, min_time=0.02)


class TimingError(RuntimeError):
    """pyperf failed for a case; the message carries the tail of its output."""


@dataclass
class Timing:
    case: Case
    path: Path
    runs: list[list[float]]  # seconds per iteration, one list per worker process
    loops: int | None
    metadata: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    background_cpu_pct: float | None = None  # other processes' CPU while this pair ran; 100 = one core

    @property
    def values(self) -> list[float]:
        return [v for run in self.runs for v in run]


def _subprocess_env() -> dict[str, str]:
    """PYTHONPATH leads to this very codeperf (pyperf passes PYTHONPATH on to its workers)."""
    env = dict(os.environ)
    package_root = str(Path(codeperf.__file__).resolve().parent.parent)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if package_root not in parts:
        parts.insert(0, package_root)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def command(case: Case, settings: PyperfSettings, output: Path) -> list[str]:
    """One pyperf invocation that appends its runs to `output` (created if missing)."""
    cmd = [sys.executable, str(SCRIPT), "--op", case.op, "--backend", case.backend,
           "--seed", str(case.seed), "--append", str(output), *settings.args()]
    if case.size is not None:
        cmd += ["--size", case.size.label]
    return cmd


def _warnings(stdout: str) -> list[str]:
    """pyperf's stability warnings ('* the standard deviation ... is 21% of the mean')."""
    return [line[2:].strip() for line in stdout.splitlines() if line.startswith("* ")]


def _invoke(case: Case, settings: PyperfSettings, output: Path, timeout_s: float) -> str:
    """Run pyperf once; its stdout. TimingError with the tail of its output on failure."""
    cmd = command(case, settings, output)
    # A session of its own, so an interrupt can end pyperf's workers with it.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_subprocess_env(), start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        raise
    if proc.returncode != 0 or not output.exists():
        tail = "\n".join((stderr or stdout).strip().splitlines()[-8:])
        raise TimingError(f"pyperf exited {proc.returncode} for {case.id}: {tail}")
    return stdout


def run_interleaved(cases: dict[str, Case], settings: PyperfSettings, outputs: dict[str, Path],
                    timeout_s: float = CASE_TIMEOUT_S) -> dict[str, Timing]:
    """Time the backends' cases in alternating single-process pyperf invocations.

    Worker process i of each backend runs back to back with the other's (order
    A B, B A, A B, ...), all appended to one pyperf file per backend. On a
    shared machine the load changes over seconds; run all of Python and then
    all of Rust and a speedup measures the load as much as the code. Loops are
    calibrated by pyperf in each backend's first invocation and reused.
    """
    names = list(cases)
    meter = BackgroundCpu()
    for path in outputs.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
    loops = {name: settings.loops for name in names}
    warnings: dict[str, list[str]] = {name: [] for name in names}
    for i in range(settings.processes):
        for name in (names if i % 2 == 0 else names[::-1]):
            one = PyperfSettings(1, settings.values, settings.warmups, settings.min_time,
                                 loops[name])
            stdout = _invoke(cases[name], one, outputs[name], timeout_s)
            warnings[name] += [w for w in _warnings(stdout) if w not in warnings[name]]
            if not loops[name]:
                loops[name] = int(pyperf.Benchmark.load(str(outputs[name])).get_metadata()["loops"])
    background = meter.pct()
    timings = {name: load(cases[name], outputs[name], warnings[name]) for name in names}
    for t in timings.values():
        t.background_cpu_pct = background
    return timings


class BackgroundCpu:
    """CPU used by everything except this process tree, from construction to pct().

    pyperf runs workers one at a time, so a quiet machine shows about 0; the
    Rust engine runs on several threads, so its times (and the speedup) depend
    on whether the other cores are free. Recorded so a reader can tell.
    """

    def __init__(self) -> None:
        self._start = (time.monotonic(), self._machine_busy(), self._own())

    @staticmethod
    def _machine_busy() -> float:
        t = psutil.cpu_times()
        return sum(t) - t.idle - getattr(t, "iowait", 0.0)

    @staticmethod
    def _own() -> float:
        t = os.times()  # children: the pyperf processes we waited for, and their workers
        return t.user + t.system + t.children_user + t.children_system

    def pct(self) -> float | None:
        wall0, busy0, own0 = self._start
        wall = time.monotonic() - wall0
        if wall <= 0:
            return None
        other = (self._machine_busy() - busy0) - (self._own() - own0)
        return max(0.0, 100.0 * other / wall)


def load(case: Case, path: Path, warnings: list[str] | None = None) -> Timing:
    bench = pyperf.Benchmark.load(str(path))
    runs = [list(run.values) for run in bench.get_runs() if run.values]
    metadata = dict(bench.get_metadata())
    loops = metadata.get("loops")
    return Timing(case, path, runs, int(loops) if loops else None, metadata, warnings or [])
