"""Several bundled-simulator processes on one port (SO_REUSEPORT), for multi-worker load runs."""

from __future__ import annotations

import json
import urllib.request

import psutil

from codeperf.experts.config import load
from codeperf.experts.simulator import SimulatorConfig
from codeperf.experts.simulator_process import SimulatorProcess


def _listening_ports(pid: int) -> set[int]:
    return {c.laddr.port for c in psutil.Process(pid).net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


def test_two_processes_serve_one_port_and_all_stop():
    group = SimulatorProcess(SimulatorConfig.from_dict(load().simulator), processes=2)
    url = group.start()
    pids = group.pids
    try:
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        assert len(pids) == 2 and all(psutil.pid_exists(p) for p in pids)
        assert all(port in _listening_ports(p) for p in pids)  # both bound to the same port
        for _ in range(10):  # a new connection each time: whichever process gets it answers
            with urllib.request.urlopen(f"{url}/models", timeout=10) as resp:
                assert json.loads(resp.read())["data"]
    finally:
        group.stop()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids)


def test_one_process_by_default():
    single = SimulatorProcess(SimulatorConfig.from_dict(load().simulator))
    single.start()
    try:
        assert len(single.pids) == 1
    finally:
        single.stop()


def test_simulators_can_run_below_the_generators_priority():
    import os

    import pytest

    group = SimulatorProcess(SimulatorConfig.from_dict(load().simulator), processes=2, nice=5)
    group.start()
    try:
        mine = os.nice(0)  # this process's niceness (os.nice adds to it)
        assert [psutil.Process(p).nice() for p in group.pids] == [min(19, mine + 5)] * 2
    finally:
        group.stop()
    with pytest.raises(ValueError):
        SimulatorProcess(SimulatorConfig(), nice=20)


def test_simulator_nice_out_of_range_is_a_usage_error(tmp_path):
    import importlib.util
    from pathlib import Path

    from click.testing import CliRunner

    from codeperf.harness import exitcodes

    script = Path(__file__).resolve().parents[1] / "scripts" / "load_scenarios.py"
    spec = importlib.util.spec_from_file_location("load_scenarios_script", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for value in ("-1", "20"):
        result = CliRunner().invoke(module.main, ["--out", str(tmp_path), "--simulator-nice",
                                                  value, "--scenario", "single-query"])
        assert result.exit_code == exitcodes.USAGE, result.output
    assert not (tmp_path / "load.json").exists()
