"""--workers and --ray-address through scripts/load_scenarios.py (no Ray in this test process)."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from codeperf.harness import envelope, exitcodes

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "load_scenarios.py"


def _script():
    spec = importlib.util.spec_from_file_location("load_scenarios_workers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_ray_address_with_a_remote_expert_needs_allow_remote():
    """Refused before Ray or any worker starts: exit 2, naming the flag."""
    result = CliRunner().invoke(_script(), [
        "--ray-address", "127.0.0.1:1", "--workers", "2", "--expert",
        "http://10.1.2.3:8000/v1#m", "--scenario", "sustained", "--out", "/tmp/never-written"])
    assert result.exit_code == exitcodes.USAGE
    assert "--allow-remote" in result.output
    bad = CliRunner().invoke(_script(), ["--workers", "0"])
    assert bad.exit_code == exitcodes.USAGE


def test_an_unknown_or_missing_event_loop_is_a_usage_error(tmp_path, monkeypatch):
    bad = CliRunner().invoke(_script(), ["--loop", "trio", "--out", str(tmp_path)])
    assert bad.exit_code == exitcodes.USAGE
    from codeperf.load import event_loops

    monkeypatch.setattr(event_loops, "uvloop_installed", lambda: False)
    missing = CliRunner().invoke(_script(), ["--loop", "uvloop", "--scenario", "single-query",
                                             "--out", str(tmp_path)])
    assert missing.exit_code == exitcodes.USAGE, missing.output
    assert "uvloop is not installed" in missing.output
    assert not (tmp_path / "load.json").exists()


def _ray_processes_since(t0: float) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline", "create_time"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if proc.info["create_time"] >= t0 - 1 and ("ray::" in cmd or "raylet" in cmd
                                                   or "gcs_server" in cmd):
            found.append(f"{proc.pid} {cmd[:80]}")
    return found


@pytest.mark.slow
def test_sigterm_during_a_two_worker_run_leaves_partial_results_and_no_process(tmp_path):
    out = tmp_path / "w"
    t0 = time.time()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--out", str(out), "--no-calibration", "--quick",
         "--scenario", "sustained", "--workers", "2", "-o", "duration_s=60", "-o", "rate_rps=20"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sim_pid = None
    assert proc.stderr is not None
    for line in proc.stderr:  # wait for the workers to be sending
        if "expert simulator at" in line:
            sim_pid = int(line.rsplit("pid ", 1)[1].rstrip(")\n"))
        if "on 2 workers" in line:
            break
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == exitcodes.INTERRUPTED, stderr
    data = envelope.load(out / "load.json")
    assert data["complete"] is False
    (entry,) = data["results"]
    assert entry["partial"] is True and entry["load"]["complete"] is False
    workers = entry["load"]["workers"]
    assert len(workers) == 2 and all(w["summary"]["requests_count"] > 0 for w in workers)
    assert entry["load"]["summary"]["requests_count"] == sum(
        w["summary"]["requests_count"] for w in workers)
    assert sim_pid is not None and not psutil.pid_exists(sim_pid)
    deadline = time.monotonic() + 15
    while _ray_processes_since(t0) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _ray_processes_since(t0) == []


FAST_EXPERTS = """
[[expert]]
name = "a"
base_url = "simulator"
model = "q-a"
timeout_s = 5
stream = true
[[expert]]
name = "b"
base_url = "simulator"
model = "q-b"
timeout_s = 5
[simulator]
seed = 1
[[simulator.model]]
name = "q-a"
ttft_median_ms = 5
tokens_per_s = 2000
answer_tokens = 20
[[simulator.model]]
name = "q-b"
ttft_median_ms = 10
tokens_per_s = 2000
answer_tokens = 20
"""


@pytest.mark.slow
def test_burst_on_two_workers_merges_queries_and_keeps_each_worker(tmp_path):
    experts = tmp_path / "experts.toml"
    experts.write_text(FAST_EXPERTS)
    out = tmp_path / "b"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    env.pop("RAY_ADDRESS", None)
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--experts", str(experts),
         "--no-calibration", "--scenario", "burst", "--scenario", "single-query",
         "--workers", "2", "-o", "burst_size=20", "-o", "bursts=2", "-o", "burst_every_s=0.6",
         "-o", "idle_s=0.1", "-o", "baseline_queries=2", "-o", "queries=2",
         "--simulator-nice", "3"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode in (exitcodes.OK, exitcodes.FAILED), proc.stderr
    data = envelope.load(out / "load.json")
    assert data["config"]["workers"] == 2 and data["config"]["simulator_processes"] == 2
    assert data["config"]["simulator_nice"] == 3
    burst, single = data["results"]
    assert burst["workers"] == 2 and single["workers"] == 1
    workers = burst["load"]["workers"]
    assert len(workers) == 2 and {w["summary"]["requests_count"] for w in workers} == {20}
    assert burst["summary"]["requests_count"] == 40  # 2 bursts of 20, dealt 20 + 20
    ok = burst["summary"]["ok_count"]
    assert ok == sum(w["summary"]["ok_count"] for w in workers)
    # The merged per-query statistics count every worker's queries.
    assert sum(burst["queries"]["critical_path_expert"].values()) == ok
    assert burst["summary"]["warm_connections_count"] > 0
    # When each spike's last query left, on one clock for both workers: never before its
    # intended time (95 ms into a 100 ms spread of 20), so at least that.
    last = burst["spike_last_send_ms"]
    assert len(last) == 2 and all(t >= 95 - 1 for t in last)
    assert burst["summary"]["spike_last_send_max_ms"] == max(last)
    assert data["config"]["event_loop"] == {"driver": "asyncio", "workers": "uvloop"}
    assert [w["event_loop"] for w in workers] == ["uvloop", "uvloop"]
    assert [c["check"].split("/")[0] for c in burst["load"]["self_checks"]].count("worker1") == 4
