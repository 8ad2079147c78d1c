"""The `mcp` suite end to end: recorder, fixture, servers, floor, targets, summary.

`scripts/mcp_bench.py` parses the command line and calls `run_suite`; tests call
it directly. Returns the exit code (codeperf.harness.exitcodes). Set-up problems
(a URL outside loopback without `allow_remote`, a bad experts file, an expert
simulator that does not start) are exit 2 before anything is measured.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from codeperf.harness import exitcodes, systems
from codeperf.harness.contract import SetupError, log_to
from codeperf.harness.envelope import Interrupted, Recorder
from codeperf.harness.loopback import RemoteTargetRefused, check_loopback
from codeperf.harness.stoppable import run_stoppable
from codeperf.harness.targets import evaluate
from codeperf.mcp import BUNDLED_SERVERS
from codeperf.mcp.bench import argsfile, argshint, launch, runner, table
from codeperf.mcp.bench.argsgen import ArgSets, load_scenario_file
from codeperf.mcp.bench.fixture import BUNDLED_SCENARIOS_PATH, make_files_root
from codeperf.mcp.bench.launch import ServerSpec

SUITE = "mcp"


stderr_log = log_to(SUITE)


def not_requested(config: runner.McpBenchConfig) -> dict[str, str]:
    """Targets of parts this run was asked to leave out: "not run", not failed."""
    out = {}
    if not config.floor:
        out["protocol_floor.stdio_1000_calls_c10_s"] = "protocol floor not requested (--no-floor)"
    if not config.handled_calls:
        out["tool_calls.completed"] = "handled run not requested (--handled-calls 0)"
    return out


def bundled_specs(names: Sequence[str], transports: Sequence[str], files_root: Path,
                  experts_file: str | None) -> list[ServerSpec]:
    return [launch.bundled_spec(name, transport, files_root=files_root, experts_file=experts_file)
            for name in names for transport in transports]


def run_suite(out_dir: Path, *, bundled: Sequence[str] = tuple(BUNDLED_SERVERS),
              bundled_transports: Sequence[str] = ("stdio", "http"),
              extra_specs: Sequence[ServerSpec] = (), scenario_files: Sequence[Path] = (),
              config: runner.McpBenchConfig | None = None, experts_file: str | None = None,
              quick: bool = False, allow_remote: bool = False, log: Callable[[str], None] = stderr_log,
              cli_config: Mapping[str, Any] | None = None) -> int:
    config = config or (runner.McpBenchConfig.quick() if quick else runner.McpBenchConfig.full())
    out_dir = Path(out_dir)
    log_dir = out_dir / "mcp_logs"
    scenarios: dict[str, ArgSets] = {}
    if bundled:
        scenarios.update(load_scenario_file(BUNDLED_SCENARIOS_PATH))
        if not experts_file:
            config.skip_tools = {**config.skip_tools,
                                 "consult": "no experts configured (--experts FILE)"}
    for path in scenario_files:  # ScenarioFileError: the script makes it a usage error
        scenarios.update(load_scenario_file(path))  # the user's sets win over the bundled ones
    try:
        check_targets(extra_specs, allow_remote)
        # Before the Recorder: a set-up error is exit 2 with nothing measured, not a crash mid-run.
        simulator = _simulator_for(experts_file, allow_remote, log_dir, log) \
            if experts_file and "experts" in bundled else None
    except SetupError as exc:
        log(f"mcp_bench: {exc}")
        return exitcodes.USAGE
    try:
        return _measure(out_dir, log_dir, simulator, scenarios, bundled=bundled,
                        bundled_transports=bundled_transports, extra_specs=extra_specs,
                        scenario_files=scenario_files, config=config,
                        experts_file=experts_file, quick=quick, allow_remote=allow_remote, log=log,
                        cli_config=cli_config)
    finally:
        if simulator is not None:
            simulator.stop()


def check_targets(specs: Sequence[ServerSpec], allow_remote: bool) -> None:
    """URL targets must be on loopback unless allowed (stdio servers are local processes)."""
    for spec in specs:
        if spec.url:
            try:
                check_loopback(spec.url, allow_remote)
            except RemoteTargetRefused as exc:
                raise SetupError(spec.scrub(f"--url {spec.label}: {exc}")) from None


def _measure(out_dir: Path, log_dir: Path, simulator: Any, scenarios: Mapping[str, ArgSets], *,
             bundled: Sequence[str], bundled_transports: Sequence[str], extra_specs: Sequence[ServerSpec],
             scenario_files: Sequence[Path], config: runner.McpBenchConfig, experts_file: str | None,
             quick: bool, allow_remote: bool, log: Callable[[str], None],
             cli_config: Mapping[str, Any] | None) -> int:
    with tempfile.TemporaryDirectory(prefix="codeperf-mcp-files-") as tmp:
        files_root = make_files_root(Path(tmp))
        specs = [*bundled_specs(bundled, bundled_transports, files_root, experts_file), *extra_specs]
        recorder_config = {"quick": quick, "servers": [s.describe() for s in specs],
                           "systems": [_system(s) for s in specs],
                           "experts_file": experts_file, "allow_remote": allow_remote,
                           "simulator_url": simulator.base_url if simulator is not None else None,
                           "scenario_files": [str(p) for p in scenario_files],
                           "bench": config.to_dict(), **(cli_config or {})}
        recorder = Recorder(SUITE, out_dir, recorder_config)
        try:
            with recorder:
                for spec in specs:
                    if spec.bundled and simulator is not None:
                        spec.env["CODEPERF_SIMULATOR_URL"] = simulator.base_url
                metrics = run_stoppable(runner.run(specs, scenarios, config, recorder, log_dir, log))
                hint = argshint.hint_entry([r for r in recorder.envelope.results if r.get("kind") == "tool"],
                                           (cli_config or {}).get("argv", []))
                if hint is not None:
                    recorder.add_result(hint)
                for target in evaluate(SUITE, metrics, not_run=not_requested(config)):
                    recorder.add_target(target)
                recorder.mark_complete()
        except (KeyboardInterrupt, Interrupted):
            log(f"interrupted: partial results in {recorder.path}")
            return exitcodes.INTERRUPTED
        finally:
            launch.reap_leftovers()
            scrub_logs(specs, log_dir)
    envelope = recorder.envelope.to_dict()
    log("")
    log(table.render(envelope))
    log(f"\nresults: {recorder.path}")
    return recorder.exit_code


def _system(spec: ServerSpec) -> dict[str, Any]:
    """The server as the report's header lists it: name and transport, never its command."""
    origin = ("bundled" if spec.bundled else "config" if spec.shown is not None
              else "url" if spec.url else "command")
    return systems.mcp_server(spec.label, spec.transport, origin=origin,
                              url=spec.scrub(spec.url) if spec.url else None)


def _simulator_for(experts_file: str, allow_remote: bool, log_dir: Path,
                   log: Callable[[str], None]) -> Any:
    """Check the experts file `consult` will use and start the bundled expert simulator
    when it names it (None otherwise); raises SetupError."""
    from codeperf.experts.config import load
    from codeperf.experts.simulator import SimulatorConfig
    from codeperf.experts.simulator_process import SimulatorProcess

    try:
        experts = load(experts_file)  # ExpertsConfigError is a ValueError
        for expert in experts.experts:
            if not expert.uses_simulator:
                check_loopback(expert.base_url, allow_remote)
        if not experts.needs_simulator:
            return None
        sim_config = SimulatorConfig.from_dict(experts.simulator)
    except (ValueError, RemoteTargetRefused) as exc:
        raise SetupError(f"experts file for consult: {exc} (or skip it: --no-consult)") from None
    simulator = SimulatorProcess(sim_config, log_path=log_dir / "simulator.log")
    try:
        simulator.start()
    except (RuntimeError, OSError) as exc:
        simulator.stop()
        raise SetupError(f"consult needs the expert simulator: {exc} (or skip it: --no-consult)") from None
    except BaseException:  # Ctrl-C while it starts: no orphaned simulator
        simulator.stop()
        raise
    log(f"expert simulator for consult: {simulator.base_url} (pid {simulator.pid})")
    return simulator


def scrub_logs(specs: Sequence[ServerSpec], log_dir: Path) -> None:
    """Servers write their stderr straight to our log files: take their secrets out afterwards."""
    for spec in specs:
        path = log_dir / f"{spec.label}.stderr.log"
        if spec.secrets and path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            if spec.scrub(text) != text:
                path.write_text(spec.scrub(text), encoding="utf-8")


def write_args(path: Path, *, bundled: Sequence[str], bundled_transports: Sequence[str],
               extra_specs: Sequence[ServerSpec], experts_file: str | None, allow_remote: bool,
               argv: Sequence[str], log_dir: Path, timeout_s: float = 10.0,
               log: Callable[[str], None] = stderr_log) -> int:
    """`--write-args`: list every server's tools and write the commented template to `path`."""
    try:
        check_targets(extra_specs, allow_remote)
    except SetupError as exc:
        log(f"mcp_bench: {exc}")
        return exitcodes.USAGE
    with tempfile.TemporaryDirectory(prefix="codeperf-mcp-files-") as tmp:
        specs = [*bundled_specs(bundled, bundled_transports, make_files_root(Path(tmp)), experts_file),
                 *extra_specs]
        log(f"listing the tools of {len(specs)} server(s) (no tool is called)")
        try:
            tools, problems = run_stoppable(argsfile.list_tools(specs, log_dir, timeout_s, log))
        finally:
            launch.reap_leftovers()
            scrub_logs(specs, log_dir)
    for problem in problems:
        log(f"mcp_bench: cannot list tools: {problem}")
    if not tools:
        log("mcp_bench: no tools listed; nothing written")
        return exitcodes.FAILED
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fix = argshint.commands(argv)[1] if argv else f"{argshint.SCRIPT} --args {path}"
    fix = fix.replace(argshint.TEMPLATE_FILE, str(path))
    tmp_path = path.with_name(path.name + ".tmp")
    tmp_path.write_text(argsfile.render(tools, fix), encoding="utf-8")
    tmp_path.replace(path)
    log(f"wrote {path}: {len(tools)} tools; edit the values, then run: {fix}")
    return exitcodes.FAILED if problems else exitcodes.OK
