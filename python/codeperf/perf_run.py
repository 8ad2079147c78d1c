"""`make perf`: every suite into one run directory, then the combined report.

Each suite runs as its own process (`scripts/<suite script> --out RUN_DIR
[--quick]`) with CODEPERF_RUN_ID set, so all envelopes share the run id. A
suite that fails, crashes, times out or whose script does not exist is
recorded in `run.json` and the next suite still runs; the report is always
written, and only then does the exit code say whether everything passed.
Pointed at a deployment (codeperf.deployment: the user's experts and MCP
servers), each suite also gets the options its registry entry says it takes.
`run.json` is a record of the processes; the verdict comes from the envelopes
(codeperf.harness.contract). This module launches suites, so it lives outside
report/ (which only reads envelopes).
Each suite's output streams to the terminal as it comes (progress stays
visible) and is kept in `logs/<suite>.log`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Sequence

from codeperf.deployment import Deployment, DeploymentError
from codeperf.harness import exitcodes
from codeperf.harness.envelope import new_run_id, utc_now, write_json_atomic
from codeperf.harness.suites import SUITES, info
from codeperf.harness.run_dir import LatestLinkError, point_latest
from codeperf.report.build import Report, build_report
from codeperf.report.compare import DEFAULT_NOISE_PCT, BaselineUnusable, check_baseline
from codeperf.report.loading import RUN_RECORD, load_run

TERM_GRACE_S = 20.0  # after SIGTERM, how long a suite gets to write its partial envelope


@dataclass
class SuiteOutcome:
    suite: str
    status: str  # ok, failed, set-up error, crashed, timed out, interrupted, missing script
    exit_code: int | None
    duration_s: float
    command: list[str] = field(default_factory=list)
    log: str | None = None


def status_for(exit_code: int) -> str:
    if exit_code == exitcodes.OK:
        return "ok"
    if exit_code == exitcodes.FAILED:
        return "failed"
    if exit_code == exitcodes.USAGE:
        return "set-up error"
    if exit_code in (exitcodes.INTERRUPTED, -signal.SIGINT, -signal.SIGTERM):
        return "interrupted"
    return "crashed"


class _Stop(Exception):
    """SIGTERM or Ctrl-C reached the driver: stop starting suites, still write the report."""


def _pump(source: BinaryIO, sinks: Sequence[BinaryIO]) -> None:
    # Chunks, not lines: pyperf prints progress dots without newlines.
    fd = source.fileno()
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return
        for sink in sinks:
            sink.write(chunk)
            sink.flush()


def _wait_or_kill(proc: subprocess.Popen) -> None:
    """Give a signalled suite TERM_GRACE_S to write its partial results, then kill it."""
    try:
        proc.wait(timeout=TERM_GRACE_S)
    except subprocess.TimeoutExpired:
        _signal_group(proc, signal.SIGKILL)
        proc.wait()


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def run_suite(suite: str, script: Path, run_dir: Path, quick: bool, python: str,
              timeout_s: float, env: dict[str, str], echo: BinaryIO,
              extra_args: Sequence[str] = ()) -> SuiteOutcome:
    log_rel = f"logs/{suite}.log"
    log_path = run_dir / log_rel
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if not script.is_file():
        message = f"{script}: suite script not found; {suite} was not run\n"
        log_path.write_text(message, encoding="utf-8")
        echo.write(message.encode())
        echo.flush()
        return SuiteOutcome(suite, "missing script", None, 0.0, [], log_rel)
    command = ([python, str(script), "--out", str(run_dir)] + (["--quick"] if quick else [])
               + list(extra_args))
    start = time.monotonic()
    with open(log_path, "wb") as log:
        # Own process group: a timeout or Ctrl-C reaches the suite's pyperf
        # workers and servers too, not just the script.
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env, start_new_session=True)
        pump = threading.Thread(target=_pump, args=(proc.stdout, [echo, log]), daemon=True)
        pump.start()
        status = None
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            status = "timed out"
            _signal_group(proc, signal.SIGTERM)
        except (KeyboardInterrupt, _Stop):
            _signal_group(proc, signal.SIGINT)
            _wait_or_kill(proc)
            pump.join(timeout=5)
            raise _Stop(SuiteOutcome(suite, "interrupted", proc.returncode,
                                     time.monotonic() - start, command, log_rel))
        if status == "timed out":
            _wait_or_kill(proc)
        pump.join(timeout=5)
    code = proc.returncode
    return SuiteOutcome(suite, status or status_for(code), code, time.monotonic() - start,
                        command, log_rel)


def _say(message: str) -> None:
    print(f"[perf] {message}", file=sys.stderr, flush=True)


@dataclass
class PerfResult:
    run_dir: Path
    outcomes: list[SuiteOutcome]
    report: Report | None
    exit_code: int


def run_perf(reports_dir: Path, scripts_dir: Path, quick: bool = False,
             baseline: Path | None = None, fail_on_regression: bool = False,
             suites: Sequence[str] = SUITES, timeout_s: float = 1800.0,
             noise_pct: float = DEFAULT_NOISE_PCT, python: str = sys.executable,
             charts: bool = True, echo: BinaryIO | None = None,
             report_builder: Callable[..., Report] = build_report,
             deployment: Deployment = Deployment(), run_dir: Path | None = None) -> PerfResult:
    """`run_dir` None: a new reports_dir/<run-id>, linked from reports_dir/latest; else that
    directory itself, links untouched (scripts/perf.py --out, as every suite's --out)."""
    echo = echo if echo is not None else sys.stderr.buffer
    reports_dir = Path(reports_dir)
    if baseline is not None and fail_on_regression:
        # A gate with nothing to compare with must not pass: say why before running anything.
        try:
            check_baseline(load_run(Path(baseline)))
        except BaselineUnusable as exc:
            _say(f"error: {exc}")
            return PerfResult(reports_dir, [], None, exitcodes.USAGE)
    run_id = os.environ.get("CODEPERF_RUN_ID") or new_run_id()
    link_latest = run_dir is None
    run_dir = Path(run_dir) if run_dir is not None else reports_dir / run_id
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        deployment = deployment.resolve(run_dir)  # --expert URLs: discovery, before any suite
    except DeploymentError as exc:
        _say(f"error: {exc}")
        if created:
            run_dir.rmdir()
        return PerfResult(run_dir, [], None, exitcodes.USAGE)
    if link_latest:
        try:
            point_latest(reports_dir, run_dir)
        except LatestLinkError:
            # Before any suite runs: a report nobody finds under reports/latest is no report.
            if created:
                shutil.rmtree(run_dir, ignore_errors=True)
            raise
    env = {**os.environ, "CODEPERF_RUN_ID": run_id, "PYTHONUNBUFFERED": "1"}
    record: dict[str, Any] = {"run_id": run_id, "quick": quick, "started_at": utc_now(),
                              "finished_at": None, "suites": [],
                              "deployment": deployment.describe()}
    outcomes: list[SuiteOutcome] = []
    interrupted = False

    def on_sigterm(signum: int, frame: Any) -> None:
        raise _Stop(None)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    _say(f"run {run_id} ({'quick' if quick else 'full'}) -> {run_dir}")
    if not deployment.is_default:
        described = deployment.describe()
        _say("your systems: " + "; ".join(
            f"{key} {', '.join(value) if isinstance(value, list) else value}"
            for key, value in described.items() if value and value is not True)
            + ("; remote targets allowed" if described["allow_remote"] else ""))
    try:
        for i, suite in enumerate(suites, 1):
            script = Path(scripts_dir) / info(suite).script
            extra = deployment.suite_args(suite)
            _say(f"[{i}/{len(suites)}] {suite}: {script}{' --quick' if quick else ''}"
                 + "".join(f" {a}" for a in extra))
            try:
                outcome = run_suite(suite, script, run_dir, quick, python, timeout_s, env, echo,
                                    extra)
            except (_Stop, KeyboardInterrupt) as stop:
                interrupted = True
                outcome = stop.args[0] if stop.args and stop.args[0] else SuiteOutcome(
                    suite, "interrupted", None, 0.0)
            outcomes.append(outcome)
            record["suites"] = [asdict(o) for o in outcomes]
            write_json_atomic(run_dir / RUN_RECORD, record)
            code = f" (exit {outcome.exit_code})" if outcome.exit_code not in (0, None) else ""
            _say(f"{suite}: {outcome.status}{code} in {outcome.duration_s:.1f} s")
            if interrupted:
                _say("interrupted: skipping the remaining suites, writing the report")
                break
    finally:
        signal.signal(signal.SIGTERM, previous)
    record["finished_at"] = utc_now()
    write_json_atomic(run_dir / RUN_RECORD, record)

    try:
        report = report_builder(run_dir, baseline_dir=baseline, noise_pct=noise_pct,
                                charts=charts)
    except BaselineUnusable as exc:  # not gating (checked above): report without it
        _say(f"warning: {exc}; report written without a comparison")
        baseline = None
        report = report_builder(run_dir, baseline_dir=None, noise_pct=noise_pct, charts=charts)
    for problem in report.problems:
        _say(f"error: {problem}")
    regressions = report.comparison.regressions if report.comparison else []
    _say(f"verdict: {report.verdict.status.upper()}")
    for reason in report.verdict.reasons:
        _say(f"  - {reason}")
    if report.comparison is not None:
        _say(f"baseline {baseline}: {len(regressions)} significant regression(s)")
    _say(f"report: {report.markdown_path}")
    _say(f"        {report.html_path}")
    if interrupted:
        exit_code = exitcodes.INTERRUPTED
    elif report.verdict.status == "fail" or any(o.status != "ok" for o in outcomes):
        # "incomplete" alone means suites that were not asked for did not run.
        exit_code = exitcodes.FAILED
    elif fail_on_regression and regressions:
        exit_code = exitcodes.FAILED
    elif fail_on_regression and report.comparison is not None and report.comparison.uncompared:
        # A suite the baseline lacks (or cannot read) must not pass the gate unseen.
        _say(f"error: baseline {baseline}: cannot compare "
             + "; ".join(report.comparison.uncompared))
        exit_code = exitcodes.USAGE
    else:
        exit_code = exitcodes.OK
    return PerfResult(run_dir, outcomes, report, exit_code)
