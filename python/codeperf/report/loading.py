"""Read one run directory: every suite's envelope, the runner's record, the targets.

A file that cannot be read (malformed JSON, unknown schema version, a shape the
schema refuses) becomes a suite with an error naming the file; the other suites
are still reported. A suite's state comes from its envelope alone, by the suite
contract's one rule (codeperf.harness.contract.judge): its errors, self-checks,
targets and completeness. `run.json`, written by `make perf` (codeperf.perf_run),
only fills in for a suite that left no envelope (it crashed first, or its script
does not exist), and only a record of the same run id can add a failure; it can
never make a suite "ok".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeperf.harness.contract import FAIL, judge, target_state
from codeperf.harness.envelope import EnvelopeError, load, read_json
from codeperf.harness.suites import BY_NAME, SUITES
from codeperf.harness.targets import TargetSpec, load_specs

RUN_RECORD = "run.json"

# The script and title of each suite, from the one registry (codeperf.harness.suites).
SUITE_SCRIPTS = {name: s.script for name, s in BY_NAME.items()}
SUITE_TITLES = {name: s.title for name, s in BY_NAME.items()}

# Suite states, worst first within "failing"; "ok" passes, "not run" is incomplete.
FAILING_STATES = ("unreadable", "no results", "crashed", "set-up error", "missing script",
                  "timed out", "interrupted", "incomplete", "invalid", "errors",
                  "targets failed", "failed")


@dataclass
class SuiteProcess:
    """How the suite's process ended, as `make perf` recorded it."""

    status: str  # ok, failed, set-up error, missing script, timed out, interrupted, crashed
    exit_code: int | None = None
    duration_s: float | None = None
    command: list[str] = field(default_factory=list)
    log: str | None = None


@dataclass
class SuiteData:
    suite: str
    file: str | None = None  # file name inside the run directory
    envelope: dict[str, Any] | None = None
    load_error: str | None = None
    process: SuiteProcess | None = None

    @property
    def results(self) -> list[dict[str, Any]]:
        results = (self.envelope or {}).get("results", [])
        return [r for r in results if isinstance(r, dict)]

    @property
    def failed_validity(self) -> list[dict[str, Any]]:
        return [v for v in (self.envelope or {}).get("validity", []) if not v.get("ok", False)]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [e for e in (self.envelope or {}).get("errors", []) if isinstance(e, dict)]

    @property
    def state(self) -> str:
        """One word for the suite's outcome (see FAILING_STATES), from the envelope alone."""
        if self.load_error:
            return "unreadable"
        if self.envelope is None:
            if self.process is None:
                return "not run"
            # A process that exited 0 without writing its envelope still failed.
            return "no results" if self.process.status == "ok" else self.process.status
        outcome = judge(self.envelope)
        if outcome.status in ("interrupted", "crashed", "incomplete"):
            return outcome.status
        if self.failed_validity:
            return "invalid"
        if any(e.get("kind") != "interrupted" for e in self.errors):
            return "errors"
        if any(target_state(t) == FAIL for t in self.envelope.get("targets", [])):
            return "targets failed"
        stored = self.envelope.get("outcome") or {}
        if stored.get("exit_code") not in (0, None):
            return "failed"  # the suite itself judged more than the rule sees (e.g. a newer rule)
        if self.process and self.process.exit_code not in (0, None):
            return "failed"  # same run id only (load_run): it crashed after writing its file
        return "ok"

    @property
    def environment(self) -> dict[str, Any]:
        return (self.envelope or {}).get("environment", {}) or {}


@dataclass
class Run:
    directory: Path
    suites: dict[str, SuiteData]
    specs: list[TargetSpec]
    record: dict[str, Any] | None = None  # run.json, when the run came from `make perf`
    record_error: str | None = None

    @property
    def run_ids(self) -> list[str]:
        ids = []
        for data in self.suites.values():
            run_id = (data.envelope or {}).get("run_id")
            if run_id and run_id not in ids:
                ids.append(run_id)
        if not ids and self.record and self.record.get("run_id"):
            ids.append(self.record["run_id"])
        return ids

    @property
    def present(self) -> list[SuiteData]:
        return [d for d in self.suites.values() if d.envelope is not None]


def _relative_message(message: str, directory: Path) -> str:
    """Error messages name the file, not the absolute path of wherever the run was copied."""
    return message.replace(str(directory) + "/", "").replace(str(directory), ".")


def _process_from(entry: dict[str, Any]) -> SuiteProcess:
    return SuiteProcess(status=str(entry.get("status", "failed")),
                        exit_code=entry.get("exit_code"),
                        duration_s=entry.get("duration_s"),
                        command=list(entry.get("command") or []),
                        log=entry.get("log"))


def load_run(directory: Path, targets_path: Path | None = None) -> Run:
    """Everything the report needs from a run directory. Never raises for bad suite files."""
    directory = Path(directory)
    record, record_error = None, None
    record_path = directory / RUN_RECORD
    if record_path.exists():
        try:
            record = read_json(record_path)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            record, record_error = None, _relative_message(f"{RUN_RECORD}: unreadable ({exc})",
                                                           directory)
    processes = {e.get("suite"): _process_from(e)
                 for e in (record or {}).get("suites", []) if isinstance(e, dict)}

    suites: dict[str, SuiteData] = {}
    for suite in SUITES:
        data = SuiteData(suite=suite, process=processes.get(suite))
        path = directory / f"{suite}.json"
        if path.exists():
            data.file = path.name
            try:
                envelope = load(path)
            except EnvelopeError as exc:
                data.load_error = _relative_message(str(exc), directory)
            except Exception as exc:  # noqa: BLE001 - the promise: one bad file never stops the report
                data.load_error = f"{path.name}: cannot read: {type(exc).__name__}: {exc}"
            else:
                if envelope.get("suite") != suite:
                    data.load_error = (f"{path.name}: holds suite {envelope.get('suite')!r}, "
                                       f"expected {suite!r}")
                else:
                    data.envelope = envelope
                    # A record of another run (a stale run.json) says nothing about this file.
                    if data.process is not None and record is not None \
                            and record.get("run_id") != envelope.get("run_id"):
                        data.process = None
        suites[suite] = data
    return Run(directory=directory, suites=suites, specs=load_specs(targets_path),
               record=record, record_error=record_error)
