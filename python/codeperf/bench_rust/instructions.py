"""Instruction counts of each engine operation per backend, under valgrind's callgrind.

Wall-clock time on a shared 2-core machine moves by tens of percent between
runs; the number of instructions an operation executes barely moves (CodSpeed
and iai-callgrind gate pull requests on it). One worker process per backend
(`callgrind_worker.py`) runs every operation once between two marker calls of
the extension (`codeperf._rust.callgrind_start` / `callgrind_stop`); callgrind
dumps its counters on entering each marker, and the dump taken on entering
the stop marker holds that operation's instructions (every thread's), with
start-up, imports and corpus generation left out.

The Rust engine runs on one thread here, the worker's own (rayon's pool is
that thread alone, RAYON_NUM_THREADS=1 for anything else): valgrind runs
threads one at a time anyway, a single worker keeps the split of parallel
loops the same from run to run, and no pool thread spins for work while the
operation is counted (its spinning depended on the OS scheduler: counts of a
tiny input moved by >1 % on a busy machine). PYTHONHASHSEED=0 does the same for
Python's string hashing (set and dict iteration order).

Without valgrind on PATH the part is not run, and says so (`NotRun`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from codeperf.bench_rust.grid import BACKENDS, REFERENCE, Size

OPS = ("analyze", "consensus_cosine", "consensus_jaccard", "aggregate")
START = "*codeperf_callgrind_start*"  # the Rust functions, whatever their path and hash
STOP = "*codeperf_callgrind_stop*"
SEED_REGRESSION_ENV = "CODEPERF_SEED_REGRESSION"  # read by the engine; set only to test this gate
# The input each backend is counted on. A count is deterministic, so the gate needs a fixed
# input, not a big one: the Python twin at 100 x 2 KB executes ~1.5 billion instructions
# (20.5 s under callgrind on this machine, 10.0 s at 20 x 2 KB, start-up included), and a
# seeded 10 % regression shows at 20 x 2 KB as well. Rust stays at the reference size (its
# counts cost ~1 s). The size is part of each count's id, so runs compare like with like.
DEFAULT_SIZES: Mapping[str, Size] = {"python": Size(20, 2048), "rust": REFERENCE}


class NotRun(Exception):
    """The instruction counts cannot be taken here (e.g. valgrind is not installed)."""


class CallgrindError(RuntimeError):
    """valgrind ran but its output is not what the worker should have produced."""


@dataclass(frozen=True)
class Count:
    op: str
    backend: str
    size: Size
    instructions: int
    tool: str

    def entry(self) -> dict[str, Any]:
        """The result entry, in the shape the report compares (docs/bench_rust.md)."""
        return {"id": f"instructions/{self.op}/{self.backend}/{self.size.label}",
                "kind": "instructions", "op": self.op, "backend": self.backend,
                "scale": self.size.responses, "size_bytes": self.size.size_bytes,
                "instructions": self.instructions, "tool": self.tool}


def valgrind_version() -> str:
    """e.g. "valgrind-callgrind 3.19.0"; raises NotRun without valgrind."""
    exe = shutil.which("valgrind")
    if exe is None:
        raise NotRun("valgrind is not installed (Debian: apt-get install valgrind); "
                     "instruction counts not measured")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False).stdout
    return "valgrind-callgrind " + out.strip().removeprefix("valgrind-")


def parse_dump(text: str) -> tuple[str, int]:
    """(trigger, total instructions) of one callgrind output file."""
    trigger = re.search(r"^desc:\s*Trigger:\s*(.*)$", text, re.MULTILINE)
    total = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if trigger is None or total is None:
        raise CallgrindError("callgrind output without 'desc: Trigger:' or 'summary:' line")
    return trigger.group(1).strip(), int(total.group(1))


def marker_counts(dumps: Sequence[str]) -> list[int]:
    """Instructions of each marker call, in call order, from a run's dump files' texts."""
    parsed = [parse_dump(t) for t in dumps]
    return [total for trigger, total in parsed
            if trigger.startswith("--dump-before=") and "codeperf_callgrind_stop" in trigger]


def _part_number(path: Path) -> int:
    match = re.search(r"\.(\d+)$", path.name)
    return int(match.group(1)) if match else 0


def sizes_for(size: Size | Mapping[str, Size] | None, backends: Sequence[str]) -> dict[str, Size]:
    """The input of each backend: one size for all, a mapping, or None for DEFAULT_SIZES."""
    if size is None:
        size = DEFAULT_SIZES
    if isinstance(size, Size):
        return {backend: size for backend in backends}
    return {backend: size.get(backend, REFERENCE) for backend in backends}


def measure(ops: Sequence[str] = OPS, size: Size | Mapping[str, Size] | None = None, seed: int = 0,
            backends: Sequence[str] = BACKENDS, extra_env: dict[str, str] | None = None
            ) -> tuple[list[Count], float]:
    """Every (op, backend) count, from one callgrind run, and the seconds it took.

    `size`: one input size for every backend, or one per backend (default DEFAULT_SIZES).
    Raises NotRun (no valgrind) or CallgrindError (the run failed or its dumps do
    not match the operations asked for).
    """
    sizes = sizes_for(size, backends)
    tool = valgrind_version()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="codeperf-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        cmd = ["valgrind", "--tool=callgrind", f"--dump-before={START}", f"--dump-before={STOP}",
               f"--callgrind-out-file={out}", "--", sys.executable, "-m",
               "codeperf.bench_rust.callgrind_worker", "--ops", ",".join(ops), "--seed", str(seed),
               "--inputs", ",".join(f"{b}={sizes[b].responses}x{sizes[b].size_bytes}"
                                    f"@{sizes[b].family}" for b in backends)]
        env = {**os.environ, "RAYON_NUM_THREADS": "1", "PYTHONHASHSEED": "0",
               **(extra_env or {})}
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise CallgrindError(f"callgrind run exited {done.returncode}: "
                                 + done.stderr.strip()[-800:])
        files = sorted(Path(tmp).glob("callgrind.out*"), key=_part_number)
        counts = marker_counts([f.read_text(encoding="utf-8", errors="replace") for f in files])
    pairs = [(op, backend) for backend in backends for op in ops]
    if len(counts) != len(pairs):
        raise CallgrindError(f"expected {len(pairs)} stop-marker dumps, found {len(counts)}")
    return ([Count(op, backend, sizes[backend], n, tool) for (op, backend), n in zip(pairs, counts)],
            time.monotonic() - started)
