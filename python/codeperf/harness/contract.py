"""The one suite contract: how every suite run ends, and what counts as "failed".

Every suite (bench_rust, load, memory, mcp) records through a `Recorder`
(harness.envelope) and its script runs through `run_script`, so all four end
the same way:

- exit 0 ok; 1 failed (an error, a failed self-check, a failed target, a part
  that crashed; results written); 2 a `SetupError` (nothing measured); 130
  Ctrl-C or SIGTERM, at any moment including start-up, with a partial envelope
  (`complete: false`) written;
- `judge()` is the one rule from an envelope to its outcome. The Recorder
  stores the outcome in the envelope, and the report applies the same rule to
  the envelope alone, so a suite's verdict never depends on anything but its
  own file (not on `run.json`, not on suite code).

A target in state "not run" (its part was not requested, or was skipped here)
is neither a pass nor a failure: it does not fail the run, and the outcome
names it. So does a part the suite skipped (a result of kind "skipped" or
"not_run", e.g. a memory component whose optional import is missing, the
instruction counts without valgrind): it is "not run" in the verdict, never a
silent pass.
"""

from __future__ import annotations

import logging
import signal
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from codeperf.harness import exitcodes

PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
# Result kinds that record a part of the run that did not run here, with a `reason`:
# a memory component that raised ComponentSkipped ("skipped"), bench_rust's instruction
# counts without valgrind ("not_run").
PART_NOT_RUN_KINDS = ("skipped", "not_run")


class SetupError(Exception):
    """The run cannot start as asked (bad arguments or files, a refused target, a
    missing build): nothing was measured, exit 2."""


def target_state(target: Mapping[str, Any]) -> str:
    """pass, fail or not run; an envelope written before targets had a state has only `passed`."""
    state = target.get("state")
    if state in (PASS, FAIL, NOT_RUN):
        return str(state)
    return PASS if target.get("passed") else FAIL


@dataclass
class Outcome:
    status: str  # ok, failed, incomplete, crashed, interrupted (envelope.OUTCOME_STATUSES)
    exit_code: int
    reasons: list[str] = field(default_factory=list)
    targets_not_run: list[dict[str, str]] = field(default_factory=list)
    parts_not_run: list[dict[str, str]] = field(default_factory=list)  # PART_NOT_RUN_KINDS

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(envelope: Mapping[str, Any]) -> Outcome:
    """The outcome of one suite run, from its envelope alone (the one rule for "failed")."""
    errors = [e for e in envelope.get("errors") or [] if isinstance(e, dict)]
    validity = [v for v in envelope.get("validity") or [] if isinstance(v, dict)]
    targets = [t for t in envelope.get("targets") or [] if isinstance(t, dict)]
    reasons = [f"error ({e.get('kind')}): {e.get('message')}" for e in errors
               if e.get("kind") != "interrupted"]
    reasons += [f"self-check failed: {v.get('check')}" for v in validity if not v.get("ok", False)]
    reasons += [f"target failed: {t.get('name')}" for t in targets if target_state(t) == FAIL]
    not_run = [{"name": str(t.get("name")), "metric": str(t.get("metric")),
                "reason": str(t.get("note") or "")} for t in targets if target_state(t) == NOT_RUN]
    parts = [{"id": str(r.get("id")), "reason": str(r.get("reason") or "")}
             for r in envelope.get("results") or []
             if isinstance(r, dict) and r.get("kind") in PART_NOT_RUN_KINDS]
    interrupted = any(e.get("kind") == "interrupted" for e in errors)
    if interrupted:
        return Outcome("interrupted", exitcodes.INTERRUPTED, ["interrupted"] + reasons, not_run,
                       parts)
    if not envelope.get("complete", False):
        crashed = any(e.get("kind") == "crash" for e in errors)
        status = "crashed" if crashed else "incomplete"
        return Outcome(status, exitcodes.FAILED, [f"run {status}"] + reasons, not_run, parts)
    if reasons:
        return Outcome("failed", exitcodes.FAILED, reasons, not_run, parts)
    return Outcome("ok", exitcodes.OK, [], not_run, parts)


# -- the one logger ---------------------------------------------------------------

class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (click's CliRunner swaps it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def logger(suite: str) -> logging.Logger:
    """`codeperf.<suite>`: progress and summaries to stderr (data goes to files)."""
    log = logging.getLogger(f"codeperf.{suite}")
    if not log.handlers:
        handler = _CurrentStderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


def log_to(suite: str) -> Callable[[str], None]:
    """A `log(line)` callable for the suites' drivers, writing through `logger(suite)`."""
    log = logger(suite)

    def emit(line: str) -> None:
        log.info(line)
        for handler in log.handlers:
            handler.flush()

    return emit


# -- one way to end a run ------------------------------------------------------------

def _raise_interrupted(signum: int, frame: Any) -> None:
    from codeperf.harness.envelope import Interrupted

    raise Interrupted("SIGTERM")


def write_startup_interrupted(suite: str, out_dir: Path, message: str) -> Path:
    """A partial envelope for a run stopped before its Recorder existed."""
    from codeperf.harness.envelope import Envelope, run_id_for, utc_now, write_json_atomic

    now = utc_now()
    envelope = Envelope(suite=suite, run_id=run_id_for(Path(out_dir)), started_at=now,
                        finished_at=now, complete=False,
                        errors=[{"kind": "interrupted",
                                 "message": f"{message} during start-up, before measuring"}])
    envelope.outcome = judge(envelope.to_dict()).to_dict()
    path = Path(out_dir) / f"{suite}.json"
    write_json_atomic(path, envelope.to_dict())
    return path


def _out_dir_from_argv(argv: list[str], default: str = "reports/latest") -> Path:
    for i, arg in enumerate(argv):
        if arg == "--out" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--out="):
            return Path(arg.split("=", 1)[1])
    return Path(default)


def trap_startup_signals(suite: str) -> None:
    """Call first in a suite script, before its heavy imports: a SIGTERM while the
    script is still importing (before `run_script`) writes the partial envelope and
    exits 130, instead of the default death by signal with nothing written."""

    def on_sigterm(signum: int, frame: Any) -> None:
        out_dir = _out_dir_from_argv(sys.argv[1:])
        try:
            write_startup_interrupted(suite, out_dir, "SIGTERM")
        except OSError:
            pass
        raise SystemExit(exitcodes.INTERRUPTED)

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread
        pass


def run_script(suite: str, out_dir: Path, body: Callable[[], int]) -> int:
    """Run a suite's body under the contract and return its exit code.

    SIGTERM behaves like Ctrl-C from the first line on: the body unwinds, its
    Recorder (if any) writes the partial envelope, and a run stopped before its
    Recorder existed still gets one (`complete: false`, an "interrupted" error).
    """
    from codeperf.harness.envelope import RECORDED, Interrupted

    log = logger(suite)
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupted)
    except ValueError:  # not the main thread (tests): the caller handles signals
        previous = None
    try:
        return body()
    except SetupError as exc:
        log.error(f"{suite}: {exc}")
        return exitcodes.USAGE
    except (KeyboardInterrupt, Interrupted) as exc:
        path = Path(out_dir) / f"{suite}.json"
        if path.resolve() not in RECORDED:
            write_startup_interrupted(suite, out_dir, type(exc).__name__ if not str(exc)
                                      else str(exc))
        log.warning(f"{suite}: interrupted; partial results in {path} (complete: false)")
        return exitcodes.INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
