"""The result envelope every suite writes: the one place that owns its shape.

`reports/<run-id>/<suite>.json` holds one `Envelope`. The committed JSON Schema
(`envelope.schema.json` beside this file) is generated from `json_schema()` and a
test keeps the two equal. Writes are atomic (temp file + rename), so a reader
never sees half a file, and `Recorder` writes whatever was measured with
`complete: false` when a run is interrupted or fails.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import signal
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from codeperf.harness.suites import SUITES

SCHEMA_VERSION = 1
TARGET_OPS = ("<", "<=", ">", ">=")
# A target's state as of the run. "not run": the part it measures was not requested
# (`--no-floor`, a subset of scenarios) or was skipped (a memory component that
# could not run here); never a pass, never a failure.
TARGET_STATES = ("pass", "fail", "not run")
# How a suite process ended (harness.contract owns the rule that picks one).
OUTCOME_STATUSES = ("ok", "failed", "incomplete", "crashed", "interrupted")
SCHEMA_PATH = Path(__file__).with_name("envelope.schema.json")


class EnvelopeError(ValueError):
    """A file that is not a valid envelope of a known version; the message names the file."""


@dataclass
class Target:
    """One target evaluated in this run, stored whole: the report shows these values,
    not today's targets.toml.

    `measured` is None and `passed` is False when the run could not measure it
    (a target that was not measured is not a pass). `statistic` names what was
    compared with the threshold ("value", or e.g. "ci95_low" for a speedup judged
    on the lower end of its interval). `state` is pass, fail or "not run" (see
    TARGET_STATES). `error_rate`, on a latency target, is the scenario's error
    rate it was judged with: {"metric", "measured", "op", "threshold", "passed"}.
    """

    name: str
    metric: str
    op: str
    threshold: float
    unit: str
    measured: float | None
    passed: bool
    note: str = ""
    statistic: str = "value"
    state: str = ""
    error_rate: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if not self.state:
            self.state = "pass" if self.passed else "fail"


@dataclass
class Envelope:
    suite: str
    run_id: str
    started_at: str
    finished_at: str | None = None
    complete: bool = False
    environment: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    results: list[Any] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    validity: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    # {"status", "exit_code", "reasons", "targets_not_run"}: written by the Recorder
    # when the run ends (harness.contract.judge), so the report needs nothing else.
    outcome: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # Field order in the file: version and identity first, payload last.
        order = ["schema_version", "suite", "run_id", "started_at", "finished_at", "complete",
                 "environment", "config", "results", "targets", "validity", "errors", "outcome"]
        return {key: data[key] for key in order}

    @property
    def failed_targets(self) -> list[Target]:
        return [t for t in self.targets if t.state == "fail"]

    @property
    def invalid_checks(self) -> list[dict[str, Any]]:
        return [v for v in self.validity if not v.get("ok", False)]


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


def run_id_for(out_dir: Path) -> str:
    """The run id of an output directory: `make perf` sets CODEPERF_RUN_ID so every
    suite of one run shares it; a lone script invents one."""
    return os.environ.get("CODEPERF_RUN_ID") or new_run_id()


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, allow_nan=False, default=_json_default)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of an envelope, derived from the dataclasses above."""
    number_or_null = {"type": ["number", "null"]}
    target = {
        "type": "object",
        "required": ["name", "metric", "op", "threshold", "unit", "measured", "passed"],
        "properties": {
            "name": {"type": "string"},
            "metric": {"type": "string"},
            "op": {"enum": list(TARGET_OPS)},
            "threshold": {"type": "number"},
            "unit": {"type": "string"},
            "measured": number_or_null,
            "passed": {"type": "boolean"},
            "note": {"type": "string"},
            "statistic": {"type": "string"},
            "state": {"enum": list(TARGET_STATES)},
            "error_rate": {"type": ["object", "null"]},
        },
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://codeperf.invalid/envelope.schema.json",
        "title": "codeperf result envelope",
        "type": "object",
        "required": ["schema_version", "suite", "run_id", "started_at", "finished_at", "complete",
                     "environment", "config", "results", "targets", "validity", "errors"],
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "suite": {"enum": list(SUITES)},
            "run_id": {"type": "string", "minLength": 1},
            "started_at": {"type": "string"},
            "finished_at": {"type": ["string", "null"]},
            "complete": {"type": "boolean"},
            "environment": {"type": "object"},
            "config": {"type": "object"},
            "results": {"type": "array"},
            "targets": {"type": "array", "items": target},
            "validity": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["check", "ok"],
                    "properties": {"check": {"type": "string"}, "ok": {"type": "boolean"},
                                   "detail": {}},
                },
            },
            "errors": {
                "type": "array",
                "items": {"type": "object", "required": ["kind", "message"],
                          "properties": {"kind": {"type": "string"}, "message": {"type": "string"}}},
            },
            "outcome": {
                "type": ["object", "null"],
                "required": ["status", "exit_code"],
                "properties": {"status": {"enum": list(OUTCOME_STATUSES)},
                               "exit_code": {"type": "integer"},
                               "reasons": {"type": "array", "items": {"type": "string"}},
                               "targets_not_run": {"type": "array"},
                               "parts_not_run": {"type": "array"}},
            },
        },
        "additionalProperties": False,
    }


def validate(data: Any, source: str = "<envelope>") -> dict[str, Any]:
    """Check `data` against the schema; raise EnvelopeError naming `source`."""
    import jsonschema

    if not isinstance(data, dict):
        raise EnvelopeError(f"{source}: not a JSON object")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise EnvelopeError(
            f"{source}: schema_version {version!r} is not known to this codeperf "
            f"(it reads version {SCHEMA_VERSION})")
    try:
        jsonschema.validate(data, json_schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top level)"
        raise EnvelopeError(f"{source}: invalid envelope at {where}: {exc.message}") from None
    return data


# Envelopes are written with allow_nan=False and are a few levels deep; a file
# with NaN/Infinity or nesting past this was not written by a suite, and would
# break the report (a non-finite number in summary.json, a RecursionError).
MAX_JSON_DEPTH = 64


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (envelopes hold finite numbers only)")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise ValueError(f"number {text[:30]} is out of range")
    return value


def _depth_problem(data: Any) -> str | None:
    stack = [(data, 1)]
    while stack:  # iterative: a recursive walk would itself hit the recursion limit
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return None


def read_json(path: Path) -> Any:
    """Strict JSON from a file: ValueError (naming the file) for bad bytes, NaN/Infinity, deep nesting."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON: nested too deeply to read") from None
    except ValueError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from None
    problem = _depth_problem(data)
    if problem:
        raise ValueError(f"{path}: not valid JSON: {problem}")
    return data


def load(path: Path) -> dict[str, Any]:
    """Read and validate an envelope file; EnvelopeError names the file on any problem."""
    path = Path(path)
    try:
        data = read_json(path)
    except OSError as exc:
        raise EnvelopeError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise EnvelopeError(str(exc)) from None
    return validate(data, str(path))


# Envelope files a Recorder of this process owns: a signal during start-up, before
# any Recorder, still leaves a partial envelope (harness.contract.run_script).
RECORDED: set[Path] = set()


class Interrupted(BaseException):
    """Raised inside a recorded run when SIGTERM arrives, so the run unwinds like Ctrl-C.

    A BaseException, like KeyboardInterrupt: the `except Exception` that keeps one
    broken scenario, plug-in import or server from stopping the others must not
    swallow a SIGTERM (it did: during start-up the registry's imports recorded it as
    a "scenario_import" error and the run carried on)."""


class Recorder:
    """Owns one suite's envelope for the duration of a run.

    Use as a context manager. Results, targets, validity checks and errors are
    added as they are measured; `save()` may be called at any time to
    checkpoint. On leaving the block the envelope is written: `complete` is true
    only when the block finished normally and `mark_complete()` was called.
    Ctrl-C and SIGTERM leave the block through an exception, so partial data is
    written with `complete: false` and the exception propagates.
    """

    def __init__(self, suite: str, out_dir: Path, config: dict[str, Any],
                 environment: dict[str, Any] | None = None) -> None:
        if suite not in SUITES:
            raise ValueError(f"unknown suite {suite!r}; expected one of {', '.join(SUITES)}")
        self.path = Path(out_dir) / f"{suite}.json"
        if environment is None:
            from codeperf.harness.environment import capture

            environment = capture()
        self.envelope = Envelope(suite=suite, run_id=run_id_for(Path(out_dir)),
                                 started_at=utc_now(), environment=environment, config=config)
        self._completed = False
        self._previous_sigterm: Any = None
        RECORDED.add(self.path.resolve())

    # -- adding data -------------------------------------------------------
    def add_result(self, result: Any) -> None:
        self.envelope.results.append(result)

    def add_target(self, target: Target) -> None:
        self.envelope.targets.append(target)

    def add_validity(self, check: str, ok: bool, detail: Any = None) -> None:
        self.envelope.validity.append({"check": check, "ok": bool(ok), "detail": detail})

    def add_error(self, kind: str, message: str, **extra: Any) -> None:
        self.envelope.errors.append({"kind": kind, "message": message, **extra})

    def mark_complete(self) -> None:
        self._completed = True

    def save(self) -> Path:
        write_json_atomic(self.path, self.envelope.to_dict())
        return self.path

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> "Recorder":
        self.save()  # an envelope exists from the first second, marked incomplete
        try:
            self._previous_sigterm = signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread: leave signal handling to the caller
            self._previous_sigterm = None
        return self

    def _on_sigterm(self, signum: int, frame: Any) -> None:
        raise Interrupted("SIGTERM")

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._previous_sigterm is not None:
            signal.signal(signal.SIGTERM, self._previous_sigterm)
        if exc_type is not None:
            kind = "interrupted" if issubclass(exc_type, (KeyboardInterrupt, Interrupted)) else "crash"
            self.add_error(kind, f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__)
        self.envelope.complete = exc_type is None and self._completed
        self.envelope.finished_at = utc_now()
        from codeperf.harness.contract import judge

        self.envelope.outcome = judge(self.envelope.to_dict()).to_dict()
        self.save()

    @property
    def exit_code(self) -> int:
        """The run's exit code by the one rule (harness.contract); valid after the block."""
        from codeperf.harness.contract import judge

        return judge(self.envelope.to_dict()).exit_code


def iter_envelopes(run_dir: Path) -> Iterator[Path]:
    """The suite files present in a run directory, in the canonical suite order."""
    for suite in SUITES:
        path = Path(run_dir) / f"{suite}.json"
        if path.exists():
            yield path
