"""Backend choice: the active backend is named, forcing works, and Rust is never faked."""

from __future__ import annotations

import subprocess
import sys

import pytest

import codeperf
from codeperf import engine
from codeperf.engine import backends


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=60)


def test_rust_is_active_when_built(monkeypatch):
    monkeypatch.delenv("CODEPERF_BACKEND", raising=False)
    assert engine.active_backend() == "rust"


@pytest.mark.parametrize("name", ["python", "rust"])
def test_environment_variable_forces_a_backend(monkeypatch, name):
    monkeypatch.setenv("CODEPERF_BACKEND", name)
    assert engine.active_backend() == name
    out = engine.compute_consensus([{"expert": "a", "model": "m", "content": "x y", "confidence": 1,
                                     "latency_ms": 0, "prompt_tokens": 0, "completion_tokens": 0,
                                     "cost_usd": 0}])
    assert out["level"] == "strong"


def test_unknown_backend_is_an_error(monkeypatch):
    monkeypatch.setenv("CODEPERF_BACKEND", "fortran")
    with pytest.raises(engine.BackendUnavailable, match="not a backend"):
        engine.active_backend()
    with pytest.raises(engine.BackendUnavailable, match="unknown backend"):
        engine.backend("fortran")


def test_missing_extension_is_refused_not_substituted():
    # A fresh interpreter where importing the extension fails.
    code = ("import sys; sys.modules['codeperf._rust'] = None\n"
            "from codeperf import engine\n"
            "print(engine.active_backend())\n"
            "engine.backend('rust')\n")
    done = run_python(code, CODEPERF_BACKEND="")
    assert done.stdout.strip() == "python"  # the default falls back, and says so
    assert "BackendUnavailable" in done.stderr and "not built" in done.stderr and "make build" in done.stderr
    forced = run_python(code.replace("print(engine.active_backend())\n", ""), CODEPERF_BACKEND="rust")
    assert forced.returncode != 0 and "not built" in forced.stderr


def test_stale_build_is_refused(monkeypatch):
    backends.rust_status.cache_clear()
    monkeypatch.setattr(codeperf, "__version__", "9.9.9")
    try:
        status = backends.rust_status()
        assert not status.usable and "stale" in status.reason and "make build" in status.reason
        with pytest.raises(engine.BackendUnavailable, match="stale"):
            engine.backend("rust")
    finally:
        backends.rust_status.cache_clear()


def test_package_and_extension_versions_match_cargo():
    import tomllib
    from pathlib import Path

    from codeperf import _rust
    cargo = tomllib.loads((Path(__file__).parents[1] / "Cargo.toml").read_text())
    assert codeperf.__version__ == cargo["workspace"]["package"]["version"] == _rust.__version__
    assert _rust.BUILD_PROFILE == "release"


def test_rust_heap_is_counted():
    from codeperf import _rust
    before = _rust.allocation_stats()
    block = _rust.allocate_for_test(10_000_000)
    during = _rust.allocation_stats()
    assert len(block) == 10_000_000
    grown = during["current_bytes"] - before["current_bytes"]
    assert 10_000_000 <= grown < 11_000_000
    assert during["peak_bytes"] >= during["current_bytes"]
    del block
    after = _rust.allocation_stats()
    assert after["current_bytes"] < during["current_bytes"] - 9_000_000
    _rust.reset_peak()
    assert _rust.allocation_stats()["peak_bytes"] < during["peak_bytes"]


@pytest.mark.parametrize("op", ["analyze_responses", "compute_consensus", "aggregate_responses"])
def test_gil_is_released_during_work(op):
    """With a 10 s switch interval the GIL changes hands only when released on purpose:
    a counting thread advances during the Rust call only if the call released it."""
    import threading
    import time

    from codeperf.engine.corpus import generate_responses
    rs = generate_responses(300, 2048)
    fn = getattr(engine.backend("rust"), op)
    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1
            time.sleep(0)  # releases the GIL, so the main thread gets it back

    old = sys.getswitchinterval()
    sys.setswitchinterval(10.0)
    thread = threading.Thread(target=count)
    try:
        thread.start()
        while counter[0] == 0:
            time.sleep(0.001)
        before = counter[0]
        fn(rs)
        during = counter[0] - before
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    assert during > 0


def test_type_stub_matches_the_extension():
    """python/codeperf/_rust.pyi is checked against the compiled module by mypy's stubtest."""
    done = subprocess.run([sys.executable, "-m", "mypy.stubtest", "codeperf._rust"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rust_results_name_experts_with_the_input_strings():
    """The binding reuses the caller's expert/model strings (as the twin does) rather
    than allocating a copy per result item."""
    from codeperf import _rust
    responses = [{"expert": f"expert-{i}", "model": f"model-{i}",
                  "content": "You should cache results in Redis.\n- Use a pool of connections",
                  "confidence": 0.5, "latency_ms": 1.0, "prompt_tokens": 1,
                  "completion_tokens": 1, "cost_usd": 0.0} for i in range(3)]
    analysis = _rust.analyze_responses(responses)
    for r, item in zip(responses, analysis["responses"]):
        assert item["expert"] is r["expert"] and item["model"] is r["model"]
    consensus = _rust.compute_consensus(responses)
    assert all(e is r["expert"] for e, r in zip(consensus["clusters"][0]["experts"], responses))
    merged = _rust.aggregate_responses(responses)["recommendations"][0]
    assert merged["experts"][0] is responses[merged["response_indices"][0]]["expert"]
