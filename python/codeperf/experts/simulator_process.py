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
                 start_timeout_s: float = 30.0) -> None:
        self.config = config
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
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "codeperf.experts.simulator", "--port", "0",
             "--config-json", json.dumps(config), "--exit-with-stdin"],
            # We hold the write end of its stdin and never write: when this process
            # dies (SIGKILL included) the pipe closes and the simulator exits.
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log or subprocess.DEVNULL,
            env=env)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout_s
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self._proc.stdout], [], [], 0.2)
            if ready:
                line = self._proc.stdout.readline()
                break
            if self._proc.poll() is not None:
                break
        text = line.decode(errors="replace").strip()
        if not text.startswith(READY_PREFIX):
            self.stop()
            raise RuntimeError(f"the expert simulator did not start (said {text!r}; "
                               f"log: {self.log_path or 'not kept'})")
        self.base_url = text[len(READY_PREFIX):]
        return self.base_url

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def stop(self) -> None:
        proc, self._proc = self._proc, None
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
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "SimulatorProcess":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
