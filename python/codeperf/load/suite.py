"""The load suite driver behind scripts/load_scenarios.py: set up, run scenarios, record, judge.

It starts the bundled simulator (always: calibration and the pool test use it;
experts with base_url = "simulator" point at it), runs the chosen scenarios
through the registry (`codeperf.load.registry`), writes `<out>/load.json`
through the Recorder, evaluates the targets of the scenarios that ran, and
prints a summary to stderr. Returns an exit code (`codeperf.harness.exitcodes`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from codeperf.harness import exitcodes, systems
from codeperf.harness.loopback import RemoteTargetRefused, check_loopback
from codeperf.harness.stoppable import run_stoppable
from codeperf.load import loadgen, registry
from codeperf.harness.contract import SetupError, log_to
from codeperf.harness.envelope import Interrupted, Recorder
from codeperf.harness.targets import evaluate, load_specs

CALIBRATION = "calibration"
SUMMARY_KEYS = ("throughput_rps", "mean_ms", "p50_ms", "p95_ms", "p99_ms", "error_rate_pct",
                "confirmed_concurrent_queries_count", "max_ok_connections_count", "drain_max_ms",
                "overhead_p50_ms", "fixed_p50_ms", "open_p99_ms", "closed_p99_ms",
                "ttft_p95_ms", "tpot_p95_ms", "goodput_qps", "knee_rps", "theoretical_knee_rps",
                "max_goodput_qps")


_stderr = log_to("load")


# The bundled simulators' niceness in a run on workers, unless --simulator-nice says
# otherwise. Ray workers and simulators share this machine's cores: with the simulators
# at the workers' priority a 300-query spike on 2 workers was invalid in 2 of 2 runs
# (worst worker's lag p99 171, 125 ms); at niceness 10 valid in 2 of 2 (74, 60 ms),
# alternated, on 2 cores with others' jobs running (2026-12-03; docs/load.md).
WORKERS_SIMULATOR_NICE = 10


def simulator_niceness(requested: int | None, uses_workers: bool) -> int:
    """The niceness asked for; unset, below the generators' priority when the load runs
    on workers (they share the cores with the simulators), the normal one otherwise."""
    if requested is not None:
        return requested
    return WORKERS_SIMULATOR_NICE if uses_workers else 0

def not_requested(names: Sequence[str]) -> dict[str, str]:
    """Targets of scenarios this run did not ask for: "not run", not failed."""
    return {spec.metric: f"scenario {spec.metric.split('.', 1)[0]} not requested; ran "
            + ", ".join(names)
            for spec in load_specs() if spec.suite == "load"
            and spec.metric.split(".", 1)[0] not in names}


def choose(requested: Sequence[str], calibrate: bool, quick: bool = False
           ) -> tuple[list[str], list[str]]:
    """The scenarios to run, in order, and the registry's import problems.

    Nothing requested: every scenario but calibration (which `calibrate` adds), and in
    quick mode only those registered `in_quick`.
    """
    problems = registry.load_registered()
    known = registry.registered()
    unknown = [n for n in requested if n not in known]
    if unknown:
        raise SetupError(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
    names = list(dict.fromkeys(requested)) or [
        n for n, spec in known.items() if n != CALIBRATION and (spec.in_quick or not quick)]
    if calibrate and CALIBRATION in known and CALIBRATION not in names:
        names.insert(0, CALIBRATION)
    if not calibrate and CALIBRATION in names and CALIBRATION not in requested:
        names.remove(CALIBRATION)
    return names, problems


def run_suite(out_dir: Path, requested: Sequence[str] = (), *, experts_file: Path | None = None,
              quick: bool = False, allow_remote: bool = False, options: dict[str, Any] | None = None,
              calibrate: bool = True, slo: Sequence[str] = (),
              log: Callable[[str], None] = _stderr,
              expert_urls: Sequence[str] = (), api_key_env: str = "", workers: int = 1,
              ray_address: str | None = None, simulator_processes: int | None = None,
              loop: str | None = None, simulator_nice: int | None = None) -> int:
    from codeperf.experts import config as experts_config
    from codeperf.experts.slo import Slo, SloError
    from codeperf.experts.simulator import CALIBRATION_MODELS, SimulatorConfig
    from codeperf.experts.simulator_process import SimulatorProcess

    options = dict(options or {})
    try:
        names, problems = choose(requested, calibrate, quick)
        try:  # before anything starts: a typo in -o must not be silently ignored
            options = registry.validate_options(names, options)
        except registry.OptionError as exc:
            raise SetupError(str(exc)) from None
        if expert_urls and experts_file is not None:
            raise SetupError("--expert URL and --experts FILE are alternatives; give one")
        if expert_urls:  # the loopback rule is checked before discovery sends anything
            from codeperf.experts import urls as expert_urls_mod

            experts = expert_urls_mod.from_urls(
                expert_urls, api_key_env=api_key_env,
                check=lambda url: check_loopback(url, allow_remote))
        else:
            experts = experts_config.load(experts_file)
        for expert in experts.experts:
            if not expert.uses_simulator:
                check_loopback(expert.base_url, allow_remote)
        sim_config = SimulatorConfig.from_dict(experts.simulator).with_models(CALIBRATION_MODELS)
        run_slo = Slo(dict(experts.slo)).merged(Slo.parse(slo))  # --slo over the file's [slo]
    except (SetupError, experts_config.ExpertsConfigError, RemoteTargetRefused,
            SloError, ValueError) as exc:
        log(f"load_scenarios: {exc}")
        return exitcodes.USAGE

    from codeperf.load import event_loops

    # The event loops (codeperf.load.event_loops): `loop` for this process and the
    # workers alike; unset, this process keeps asyncio's loop (the runs without workers,
    # as they always were) and Ray workers get uvloop when it is installed.
    try:
        driver_loop = event_loops.check(loop or event_loops.ASYNCIO)
        worker_loop = event_loops.check(loop or event_loops.default_name())
    except ValueError as exc:
        log(f"load_scenarios: --loop: {exc}")
        return exitcodes.USAGE
    out_dir = Path(out_dir)
    if workers < 1 or (simulator_processes is not None and simulator_processes < 1):
        log("load_scenarios: --workers and --simulator-processes must be at least 1")
        return exitcodes.USAGE
    if simulator_nice is not None and not 0 <= simulator_nice <= 19:
        log("load_scenarios: --simulator-nice must be between 0 and 19")
        return exitcodes.USAGE
    # By default the scenarios on workers get as many simulator processes as workers
    # (SO_REUSEPORT), so the endpoint is not what limits a multi-worker run.
    sim_processes = simulator_processes or (workers if workers > 1 else 1)
    use_pool = workers > 1 or bool(ray_address)
    uses_workers = use_pool and any(registry.get(n).workers for n in names)
    simulator_nice = simulator_niceness(simulator_nice, uses_workers)
    config = {"scenarios": names, "quick": quick, "options": options,
              "workers": workers, "ray_address": ray_address,
              "simulator_processes": sim_processes if uses_workers else 1,
              "simulator_nice": simulator_nice,
              "event_loop": {"driver": driver_loop, "workers": worker_loop if use_pool else None},
              "allow_remote": allow_remote, "experts": experts.to_dict(),
              "systems": systems.experts(experts.experts),
              "simulator": sim_config.to_dict(), "slo": run_slo.bounds}
    log(f"load: {len(names)} scenario(s): {', '.join(names)}{' (quick)' if quick else ''}")
    simulator = SimulatorProcess(sim_config, log_path=out_dir / "load-simulator.log",
                                 nice=simulator_nice)
    # The single-process simulator stays for what reads its /admin endpoints (calibration's
    # stall, the endpoint's concurrency peaks): each process of a group keeps its own.
    worker_simulator = (SimulatorProcess(sim_config, processes=sim_processes,
                                         log_path=out_dir / "load-simulator-workers.log",
                                         nice=simulator_nice)
                        if uses_workers and sim_processes > 1 else None)
    pool = None
    try:
        with Recorder("load", out_dir, config) as recorder:
            for problem in problems:
                recorder.add_error("scenario_import", problem)
            url = _start_simulator(simulator, recorder, log)
            if url is None:
                return exitcodes.FAILED
            log(f"load: expert simulator at {url} (pid {simulator.pid})")
            recorder.envelope.config["simulator_url"] = url
            worker_experts = None
            if use_pool:  # one loop in this process otherwise: no Ray at all
                pool = _start_workers(workers, ray_address, recorder, log, worker_loop)
                if pool is None:
                    return exitcodes.FAILED
            if worker_simulator is not None:
                worker_url = _start_simulator(worker_simulator, recorder, log)
                if worker_url is None:
                    return exitcodes.FAILED
                log(f"load: {sim_processes} simulator processes for the workers at {worker_url} "
                    f"(pids {', '.join(map(str, worker_simulator.pids))})")
                recorder.envelope.config["worker_simulator_url"] = worker_url
                worker_experts = experts.with_simulator_url(worker_url)
            ctx = registry.ScenarioContext(
                out_dir=out_dir, quick=quick, recorder=recorder,
                experts=experts.with_simulator_url(url), loadgen=loadgen, options=options,
                simulator_url=url, simulator_pids=list(simulator.pids),
                allow_remote=allow_remote, slo=run_slo, log=log,
                worker_pool=pool, worker_experts=worker_experts)
            metrics = run_stoppable(registry.run_scenarios(names, ctx),
                                    loop_factory=event_loops.factory(driver_loop))
            for target in evaluate("load", metrics, not_run=not_requested(names)):
                recorder.add_target(target)
            recorder.mark_complete()
    except (KeyboardInterrupt, Interrupted):
        log(f"load: interrupted; partial results in {out_dir / 'load.json'}")
        return exitcodes.INTERRUPTED
    finally:
        if pool is not None:
            pool.stop()
        if worker_simulator is not None:
            worker_simulator.stop()
        simulator.stop()
    envelope = recorder.envelope
    print_summary(envelope, log)
    log(f"load: wrote {recorder.path}")
    return recorder.exit_code


def _start_workers(workers: int, address: str | None, recorder: Recorder,
                   log: Callable[[str], None], loop: str | None = None) -> Any:
    """The run's Ray worker pool, its start-up time recorded; None (error recorded) if it fails."""
    from codeperf.load.workers import WorkerPool

    pool = WorkerPool(workers, address, log=log, loop=loop)
    try:
        pool.start()
    except Exception as exc:  # Ray missing, the cluster unreachable: nothing can run
        pool.stop()
        recorder.add_error("setup", f"could not start {workers} Ray worker(s)"
                           f"{' at ' + address if address else ''}: {type(exc).__name__}: {exc}")
        log(f"load: Ray workers did not start: {exc}")
        return None
    recorder.envelope.config["ray"] = {"startup_s": pool.startup_s, "local": pool.started_ray}
    return pool


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def print_summary(envelope: Any, log: Callable[[str], None] = _stderr) -> None:
    log("")
    log("load results")
    for entry in envelope.results:
        summary = entry.get("summary", {})
        shown = "  ".join(f"{k}={_fmt(summary[k])}" for k in SUMMARY_KEYS
                          if summary.get(k) is not None)
        valid = "" if entry.get("valid", True) else "  [INVALID: generator was the bottleneck]"
        log(f"  {entry.get('id', '?'):42s} {shown}{valid}")
    if envelope.targets:
        log("targets")
        for t in envelope.targets:
            measured = "not measured" if t.measured is None else _fmt(t.measured)
            log(f"  {t.state.upper():7s} {t.name}: {measured} {t.op} "
                f"{_fmt(t.threshold)} {t.unit}" + (f"  ({t.note})" if t.note else ""))
    bad = envelope.invalid_checks
    log(f"validity: {len(envelope.validity) - len(bad)} of {len(envelope.validity)} checks ok")
    for check in bad:
        log(f"  INVALID {check['check']}: {check.get('detail')}")
    for error in envelope.errors:
        log(f"  ERROR {error['kind']}: {error['message']}")


def _start_simulator(simulator: Any, recorder: Recorder, log: Callable[[str], None]) -> str | None:
    """The simulator's URL, or None after recording why it did not start (a set-up error)."""
    try:
        return simulator.start()
    except RuntimeError as exc:
        recorder.add_error("setup", str(exc))
        log(f"load: {exc}")
        return None
