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
