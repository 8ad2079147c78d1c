"""The `mcp` suite end to end: recorder, fixture, servers, floor, targets, summary.

`scripts/mcp_bench.py` parses the command line and calls `run_suite`; tests call
it directly. Returns the exit code (codeperf.harness.exitcodes).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from codeperf.harness import exitcodes
from codeperf.harness.envelope import Interrupted, Recorder
from codeperf.harness.targets import evaluate
from codeperf.mcp import BUNDLED_SERVERS
from codeperf.mcp.bench import launch, runner, table
from codeperf.mcp.bench.argsgen import ArgSets, load_scenario_file
from codeperf.mcp.bench.fixture import BUNDLED_SCENARIOS_PATH, make_files_root
from codeperf.mcp.bench.launch import ServerSpec

SUITE = "mcp"


def stderr_log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def bundled_specs(names: Sequence[str], transports: Sequence[str], files_root: Path,
                  experts_file: str | None) -> list[ServerSpec]:
    return [launch.bundled_spec(name, transport, files_root=files_root, experts_file=experts_file)
            for name in names for transport in transports]


def run_suite(out_dir: Path, *, bundled: Sequence[str] = tuple(BUNDLED_SERVERS),
              bundled_transports: Sequence[str] = ("stdio", "http"),
              extra_specs: Sequence[ServerSpec] = (), scenario_files: Sequence[Path] = (),
              config: runner.BenchConfig | None = None, experts_file: str | None = None,
              quick: bool = False, log: Callable[[str], None] = stderr_log,
              cli_config: Mapping[str, Any] | None = None) -> int:
    config = config or (runner.BenchConfig.quick() if quick else runner.BenchConfig())
    scenarios: dict[str, ArgSets] = {}
    if bundled:
        scenarios.update(load_scenario_file(BUNDLED_SCENARIOS_PATH))
        if not experts_file:
            config.skip_tools = {**config.skip_tools,
                                 "consult": "no experts configured (--experts FILE)"}
    for path in scenario_files:
        scenarios.update(load_scenario_file(path))  # the user's sets win over the bundled ones
    out_dir = Path(out_dir)
    log_dir = out_dir / "mcp_logs"
    simulator = None
    with tempfile.TemporaryDirectory(prefix="codeperf-mcp-files-") as tmp:
        files_root = make_files_root(Path(tmp))
        specs = [*bundled_specs(bundled, bundled_transports, files_root, experts_file), *extra_specs]
        recorder_config = {"quick": quick, "servers": [s.describe() for s in specs],
                           "experts_file": experts_file,
                           "scenario_files": [str(p) for p in scenario_files],
                           "bench": config.to_dict(), **(cli_config or {})}
        recorder = Recorder(SUITE, out_dir, recorder_config)
        try:
            with recorder:
                if experts_file and "experts" in bundled:
                    simulator = _simulator_for(experts_file, log_dir, log)
                    for spec in specs:
                        if spec.bundled and simulator is not None:
                            spec.env["CODEPERF_SIMULATOR_URL"] = simulator.base_url
                metrics = asyncio.run(runner.run(specs, scenarios, config, recorder, log_dir, log))
                for target in evaluate(SUITE, metrics):
                    recorder.add_target(target)
                recorder.mark_complete()
        except (KeyboardInterrupt, Interrupted):
            log(f"interrupted: partial results in {recorder.path}")
            return exitcodes.INTERRUPTED
        finally:
            launch.reap_leftovers()
            if simulator is not None:
                simulator.stop()
    envelope = recorder.envelope.to_dict()
    log("")
    log(table.render(envelope))
    log(f"\nresults: {recorder.path}")
    failed = recorder.envelope.failed_targets or recorder.envelope.invalid_checks
    return exitcodes.FAILED if failed else exitcodes.OK


def _simulator_for(experts_file: str, log_dir: Path, log: Callable[[str], None]) -> Any:
    """Start the bundled expert simulator when the experts file uses it (None otherwise)."""
    from codeperf.experts.config import load
    from codeperf.experts.simulator import SimulatorConfig
    from codeperf.experts.simulator_process import SimulatorProcess

    experts = load(experts_file)
    if not experts.needs_simulator:
        return None
    simulator = SimulatorProcess(SimulatorConfig.from_dict(experts.simulator),
                                 log_path=log_dir / "simulator.log")
    simulator.start()
    log(f"expert simulator for consult: {simulator.base_url} (pid {simulator.pid})")
    return simulator
