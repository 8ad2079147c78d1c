"""Instruction counts under callgrind: only the operation is counted, runs repeat, a seeded
regression shows, and a machine without valgrind records the part as not run."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from _availability import unavailable
from codeperf.bench_rust import instructions
from codeperf.bench_rust.grid import Size
from codeperf.harness import envelope, exitcodes

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_rust_script_i", ROOT / "scripts" / "bench_rust.py")
bench_rust = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_rust)

TINY = Size(4, 256)
PYPERF_TINY = ["--processes", "2", "--values", "2", "--warmups", "0", "--loops", "1",
               "--min-time", "0.001", "--no-memory"]


def _dump(trigger: str, total: int) -> str:
    return (f"# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npart: 2\n\n"
            f"desc: Timerange: Basic block 1 - 2\ndesc: Trigger: {trigger}\n\n"
            f"positions: line\nevents: Ir\nsummary: {total}\n\nfn=(1) x\n0 {total}\n\n"
            f"totals: {total}\n")


def test_only_dumps_taken_at_the_stop_marker_are_operations():
    dumps = [_dump("--dump-before=*codeperf_callgrind_start*", 300_000_000),  # start-up
             _dump("--dump-before=_rust::marker::codeperf_callgrind_stop", 1234),
             _dump("--dump-before=_rust::marker::codeperf_callgrind_start", 99),  # warm-up
             _dump("--dump-before=_rust::marker::codeperf_callgrind_stop", 5678),
             _dump("Program termination", 42)]
    assert instructions.marker_counts(dumps) == [1234, 5678]
    with pytest.raises(instructions.CallgrindError):
        instructions.parse_dump("events: Ir\n")


def test_entry_has_the_shape_the_report_compares():
    entry = instructions.Count("analyze", "rust", Size(100, 2048), 19_000_000,
                               "valgrind-callgrind 3.19.0").entry()
    assert entry == {"id": "instructions/analyze/rust/100x2KB", "kind": "instructions",
                     "op": "analyze", "backend": "rust", "scale": 100, "size_bytes": 2048,
                     "instructions": 19_000_000, "tool": "valgrind-callgrind 3.19.0"}


_ON_CALLING_THREAD = """
import os
from codeperf import _rust
from codeperf.bench_rust import cases
from codeperf.bench_rust.grid import Size
_rust.rayon_on_calling_thread()
cases.operation("aggregate", "rust")(cases.make_input("aggregate", Size(40, 512), 0))
try:
    _rust.rayon_on_calling_thread()
    again = "built twice"
except RuntimeError:
    again = "refused"
print(len(os.listdir("/proc/self/task")), _rust.rayon_threads(), again)
"""


@pytest.mark.needs_rust
def test_counted_rust_runs_on_the_calling_thread_alone():
    # A pool thread spinning for work made tiny counts move by >1 % on a busy machine.
    done = subprocess.run([sys.executable, "-c", _ON_CALLING_THREAD], capture_output=True,
                          text=True, check=True, env={**os.environ, "RAYON_NUM_THREADS": "1"})
    assert done.stdout.split() == ["1", "1", "refused"], done.stdout + done.stderr


@pytest.fixture()
def valgrind():
    if shutil.which("valgrind") is None:
        unavailable("valgrind is not installed (apt-get install valgrind)")


@pytest.mark.slow
@pytest.mark.needs_rust
def test_counts_repeat_and_a_seeded_regression_shows(valgrind):
    ops = ("analyze", "aggregate")
    first, _ = instructions.measure(ops, TINY)
    again, _ = instructions.measure(ops, TINY)
    seeded, _ = instructions.measure(ops, TINY,
                                     extra_env={instructions.SEED_REGRESSION_ENV: "analyze"})
    assert [(c.op, c.backend) for c in first] == [(op, b) for b in ("python", "rust") for op in ops]
    by = {(c.op, c.backend): c.instructions for c in first}
    for c in again:  # deterministic to well under 1 %
        assert abs(c.instructions - by[c.op, c.backend]) <= 0.01 * by[c.op, c.backend], c
    for c in seeded:
        base = by[c.op, c.backend]
        if c.op == "analyze":  # an extra pass over one of the 4 responses: about +25 %
            assert c.instructions > 1.15 * base, (c, base)
        else:  # the next op starts from other caches and heap: a few % at this tiny size
            assert abs(c.instructions - base) <= 0.05 * base, (c, base)


@pytest.mark.slow
@pytest.mark.needs_rust
def test_counts_are_taken_on_the_sizes_corpus_family(valgrind):
    # The family travels to the worker: before, every family was counted on `own`.
    own = Size(4, 256)
    code = Size(4, 256, "code")
    counts, _ = instructions.measure(("analyze",), {"python": own, "rust": code})
    by = {c.backend: c for c in counts}
    assert by["rust"].entry()["id"] == "instructions/analyze/rust/4x256B@code"
    again, _ = instructions.measure(("analyze",), {"python": own, "rust": own})
    on_own = {c.backend: c.instructions for c in again}
    assert abs(on_own["python"] - by["python"].instructions) <= 0.01 * on_own["python"]
    assert abs(on_own["rust"] - by["rust"].instructions) > 0.05 * on_own["rust"], (on_own, by)


@pytest.mark.slow
@pytest.mark.needs_rust
def test_bench_rust_records_instruction_counts(valgrind, tmp_path, monkeypatch):
    monkeypatch.setenv("CODEPERF_TARGETS", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    result = CliRunner().invoke(bench_rust.main, [
        "--bench", "analyze,ffi", "--sizes", "4x256B", "--instructions-size", "4x256B",
        "--out", str(tmp_path), *PYPERF_TINY], catch_exceptions=False)
    assert result.exit_code == exitcodes.OK, result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    counts = [r for r in data["results"] if r["kind"] == "instructions"]
    assert [r["id"] for r in counts] == ["instructions/analyze/python/4x256B",
                                         "instructions/analyze/rust/4x256B"]  # not the FFI op
    assert all(r["instructions"] > 10_000 and r["tool"].startswith("valgrind-callgrind")
               for r in counts)
    assert "instruction counts" in result.stderr


@pytest.mark.needs_rust
def test_without_valgrind_the_part_is_recorded_as_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    monkeypatch.setenv("CODEPERF_TARGETS", str(tmp_path / "none.toml"))
    (tmp_path / "none.toml").write_text("")
    result = CliRunner().invoke(bench_rust.main, [
        "--bench", "ffi,analyze", "--sizes", "4x256B", "--out", str(tmp_path), *PYPERF_TINY],
        catch_exceptions=False)
    assert result.exit_code == exitcodes.OK, result.stderr
    data = envelope.load(tmp_path / "bench_rust.json")
    (not_run,) = [r for r in data["results"] if r["kind"] == "not_run"]
    assert not_run["part"] == "instructions" and "valgrind is not installed" in not_run["reason"]
    assert not [r for r in data["results"] if r["kind"] == "instructions"]
    assert "instruction counts NOT RUN" in result.stderr


def test_default_inputs_python_twin_small_rust_at_reference_and_size_in_the_id():
    sizes = instructions.sizes_for(None, ("python", "rust"))
    assert sizes == {"python": Size(20, 2048), "rust": Size(100, 2048)}
    assert instructions.sizes_for(TINY, ("python", "rust")) == {"python": TINY, "rust": TINY}
    ids = {instructions.Count("analyze", b, s, 1, "t").entry()["id"] for b, s in sizes.items()}
    # Counts of different inputs never share an id, so they are never compared.
    assert ids == {"instructions/analyze/python/20x2KB", "instructions/analyze/rust/100x2KB"}


@pytest.mark.needs_rust
def test_worker_runs_each_backend_on_its_own_input():
    # Without valgrind the markers are plain calls: the worker still runs every (backend, op).
    import subprocess
    import sys
    done = subprocess.run([sys.executable, "-m", "codeperf.bench_rust.callgrind_worker",
                           "--ops", "analyze,aggregate", "--inputs", "python=2x256,rust=3x256"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert [line.split()[-1] for line in done.stderr.splitlines() if "ran" in line] == [
        "analyze/python", "aggregate/python", "analyze/rust", "aggregate/rust"]
