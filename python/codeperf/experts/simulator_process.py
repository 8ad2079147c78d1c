"""Run the simulator as a child process, so the load generator's CPU is its own.

    with SimulatorProcess(SimulatorConfig()) as sim:
        url = sim.base_url   # http://127.0.0.1:<free port>/v1
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

from codeperf.experts.simulator import READY_PREFIX, SimulatorConfig

_PYTHON_SOURCE = str(Path(__file__).resolve().parents[2])  # the directory holding `codeperf`


class SimulatorProcess:
    def __init__(self, config: SimulatorConfig, log_path: Path | None = None,
                 start_timeout_s: float = 30.0, processes: int = 1, nice: int = 0) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        if not 0 <= nice <= 19:
            raise ValueError("nice must be between 0 and 19")
        # nice > 0: the simulators run at a lower scheduling priority than the load
        # generator, so on a machine where both share the cores a burst's sends are not
        # queued behind the simulator's work (experts on their own machines never are).
        self.nice = nice
        self.config = config
        # processes > 1: that many simulators on one port (SO_REUSEPORT); the kernel spreads
        # connections over them. Each keeps its own /admin/stats, so a caller reading the
        # endpoint's peaks must use a single process.
        self.processes = processes
        self._more: list[subprocess.Popen] = []
        self.log_path = log_path
        self.start_timeout_s = start_timeout_s
        self.base_url = ""
        self._proc: subprocess.Popen | None = None
        self._log: IO[Any] | None = None

    def start(self) -> str:
        env = dict(os.environ)
        # Works before `maturin develop` too: the child finds this very package.
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PYTHON_SOURCE, env.get("PYTHONPATH")) if p)
        config = self.config.to_dict()
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "ab")
        self._proc = self._spawn(env, config, 0)
        self.base_url = self._ready(self._proc)
        port = self.base_url.rsplit(":", 1)[1].split("/", 1)[0]
        for _ in range(self.processes - 1):
            proc = self._spawn(env, config, int(port))
            self._more.append(proc)
            self._ready(proc)
        return self.base_url

    def _spawn(self, env: dict[str, str], config: dict[str, Any], port: int) -> subprocess.Popen:
        reuse = ["--reuse-port"] if self.processes > 1 else []
        return subprocess.Popen(
            [sys.executable, "-m", "codeperf.experts.simulator", "--port", str(port),
             "--config-json", json.dumps(config), "--exit-with-stdin", *reuse],
            # We hold the write end of its stdin and never write: when this process
            # dies (SIGKILL included) the pipe closes and the simulator exits.
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log or subprocess.DEVNULL,
            env=env, preexec_fn=self._lower_priority if self.nice else None)

    def _lower_priority(self) -> None:  # in the child, before exec
        os.nice(self.nice)

    def _ready(self, proc: subprocess.Popen) -> str:
        """The URL a starting simulator announces; RuntimeError (all stopped) if it does not."""
        assert proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                line = proc.stdout.readline()
                break
            if proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"the expert simulator did not start (said {text!r}; "
                               f"log: {self.log_path or 'not kept'})")
        return text[len(READY_PREFIX):]

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in ([self._proc] if self._proc else []) + self._more]

    def stop(self) -> None:
        more, self._more = self._more, []
        for proc in more:
            self._end(proc)
        proc, self._proc = self._proc, None
        self._end(proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _end(proc: subprocess.Popen | None) -> None:
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    def __enter__(self) -> "SimulatorProcess":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
