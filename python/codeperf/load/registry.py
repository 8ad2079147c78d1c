"""The load-scenario registry: `scripts/load_scenarios.py` runs whatever registered here.

A scenario is an async function taking a `ScenarioContext` and returning its
result entries (docs/results.md). It registers by name with the decorator:

    from codeperf.load.registry import ScenarioContext, scenario

    @scenario("mcp-calls", "1000 MCP tool calls through the bundled servers")
    async def mcp_calls(ctx: ScenarioContext) -> dict:
        ctx.progress("starting servers")
        result = await ctx.loadgen.run_closed(op, concurrency=50, max_requests=1000)
        return {"id": "mcp-calls/closed-50", "kind": "scenario",
                "summary": result.summary(), "histogram": result.histogram.to_dict(),
                "load": result.to_dict()}

Return values:
- one entry (a dict): the entry is recorded and its `summary` keys become the
  target metrics `<scenario name>.<key>` (e.g. `sustained.p95_ms`);
- a list of entries: all are recorded; the metrics come from the first entry
  whose `kind` is "scenario" (or the first entry);
- a `ScenarioOutcome`: entries and metrics given explicitly.

Validity checks go through `ctx.add_validity(check, ok, detail)`; the check name
is prefixed with the scenario name. A scenario that raises is recorded as an
error (kind "scenario") and the next scenario still runs; Ctrl-C and SIGTERM
propagate so the Recorder writes partial results.

Nothing measured is lost: a scenario registers, before each run, how to build
its entry from what is measured so far (`ctx.watch(build)`, typically over a
`LoadResult` it passes to the generator with `result=`). If the scenario fails
or is interrupted, the driver calls every registered builder in a `finally`
block and records those entries with `"partial": true`.

Options (`-o KEY=VALUE`): each scenario declares the keys it reads and their
types (`options={"rate_rps": Float(min=0.001)}`); `validate_options` refuses an
unknown key, a key no selected scenario reads, or a value of the wrong type,
before anything runs.

The modules with scenarios are imported, by name in code, by
`codeperf.load.catalog` (`load_registered()` runs it); one that fails to import
is an error the driver reports, and the other modules' scenarios still run.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence, Union

from codeperf.harness.envelope import Interrupted, Recorder

@dataclass
class ScenarioOutcome:
    """What a scenario measured: entries for `results`, metrics for `targets`."""

    entries: list[dict[str, Any]]
    metrics: dict[str, float | None] = field(default_factory=dict)  # keys without the scenario prefix


class OptionError(ValueError):
    """A `-o KEY=VALUE` the selected scenarios do not read, or a value of the wrong type."""


@dataclass(frozen=True)
class Option:
    """One option a scenario reads: its type ("int", "float", "str", "int_list"), bounds, choices."""

    kind: str
    min: float | None = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    max: float | None = None

    def describe(self) -> str:
        text = {"int": "integer", "float": "number", "str": "string",
                "int_list": "list of integers"}[self.kind]
        if self.min is not None:
            text += f" >= {self.min:g}"
        if self.max is not None:
            text += f" and <= {self.max:g}" if self.min is not None else f" <= {self.max:g}"
        if self.choices:
            text += f" (one of {', '.join(self.choices)})"
        return text

    def convert(self, key: str, value: Any) -> Any:
        """`value` (parsed from JSON when it was JSON) as this option's type; OptionError if not."""
        def bad() -> OptionError:
            kind = self.describe()
            article = "an" if kind[0] in "aeiou" else "a"
            return OptionError(f"option {key}={value!r}: expected {article} {kind}")

        if self.kind == "int_list":
            items = value if isinstance(value, list) else [value]  # levels=100 means [100]
            if not items:
                raise bad()
            return [self._number(int, item, bad) for item in items]
        if self.kind == "int":
            return self._number(int, value, bad)
        if self.kind == "float":
            return self._number(float, value, bad)
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            raise bad()
        return value

    def _number(self, kind: type, value: Any, bad: Callable[[], OptionError]) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad()
        if not math.isfinite(value):  # JSON's NaN/Infinity: no run can last that long
            raise bad()
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise bad()
            value = int(value)
        else:
            value = float(value)
        if self.min is not None and value < self.min:
            raise bad()
        if self.max is not None and value > self.max:
            raise bad()
        return value


def Int(min: int | None = 1, help: str = "", max: int | None = None  # noqa: N802 - reads like a type
        ) -> Option:
    return Option("int", min, None, help, max)


def Float(min: float | None = 0.0, help: str = "", max: float | None = None  # noqa: N802
          ) -> Option:
    return Option("float", min, None, help, max)


def IntList(min: int | None = 1, help: str = "") -> Option:  # noqa: N802
    return Option("int_list", min, None, help)


def Text(*choices: str, help: str = "") -> Option:  # noqa: N802
    return Option("str", None, tuple(choices) or None, help)


ScenarioReturn = Union[dict, list, ScenarioOutcome]
ScenarioFn = Callable[["ScenarioContext"], Awaitable[ScenarioReturn]]


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    run: ScenarioFn
    needs_experts: bool = True  # False: the driver need not start the simulator for it
    options: dict[str, Option] = field(default_factory=dict)  # the -o keys it reads
    workers: bool = False  # True: runs its load on ctx.workers when there is a pool
    # False: not in a --quick run's default set (still runs when named). Quick mode is the
    # pull-request gate; a scenario the gate does not compare and that costs a large share
    # of the quick budget (the sweep: ~35 s of ~170 s) runs in the full mode only.
    in_quick: bool = True


_REGISTRY: dict[str, Scenario] = {}


def scenario(name: str, description: str = "", *, needs_experts: bool = True,
             options: dict[str, Option] | None = None, workers: bool = False,
             in_quick: bool = True) -> Callable[[ScenarioFn], ScenarioFn]:
    """Register an async scenario function under `name` (unique), with the options it reads."""

    def register(fn: ScenarioFn) -> ScenarioFn:
        existing = _REGISTRY.get(name)
        # Re-importing the same module (tests, reloads) re-registers the same function.
        if existing is not None and (existing.run.__module__, existing.run.__qualname__) != (
                fn.__module__, fn.__qualname__):
            raise ValueError(f"scenario {name!r} is already registered by {existing.run.__module__}")
        doc_lines = (fn.__doc__ or "").strip().splitlines()
        _REGISTRY[name] = Scenario(name, description or (doc_lines[0] if doc_lines else ""), fn,
                                   needs_experts, dict(options or {}), workers, in_quick)
        return fn

    return register


def load_registered() -> list[str]:
    """Import every scenario module (`codeperf.load.catalog`); returns their import problems."""
    from codeperf.load import catalog  # imported here: the scenario modules import this one

    return catalog.import_scenarios()


def registered() -> dict[str, Scenario]:
    """Name -> Scenario, in registration order."""
    return dict(_REGISTRY)


def get(name: str) -> Scenario:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(_REGISTRY) or 'none'}") from None


def validate_options(names: Sequence[str], options: dict[str, Any]) -> dict[str, Any]:
    """The options converted to their declared types; OptionError for anything else.

    A key must be read by one of the scenarios that will run (`names`): a typo, or
    an option of a scenario not selected, would otherwise be silently ignored.
    """
    declared: dict[str, tuple[Option, list[str]]] = {}
    for name in names:
        for key, option in get(name).options.items():
            declared.setdefault(key, (option, []))[1].append(name)
    everywhere = {key: name for name, spec in _REGISTRY.items() for key in spec.options}
    converted = {}
    for key, value in options.items():
        if key not in declared:
            if key in everywhere:
                raise OptionError(f"option {key} is read by scenario {everywhere[key]}, which is "
                                  f"not selected (selected: {', '.join(names)})")
            known = ", ".join(sorted(declared)) or "none"
            raise OptionError(f"unknown option {key}; the selected scenarios read: {known}")
        converted[key] = declared[key][0].convert(key, value)
    return converted


def describe_options(names: Sequence[str] | None = None) -> list[str]:
    """One line per option of the given scenarios (all when None), for --list."""
    lines = []
    for name, spec in _REGISTRY.items():
        if names is None or name in names:
            for key, option in spec.options.items():
                help_text = f"  {option.help}" if option.help else ""
                lines.append(f"{name:20s} {key:24s} {option.describe()}{help_text}")
    return lines


@dataclass
class ScenarioContext:
    """Everything a scenario may use; the driver builds one per run.

    out_dir      where the suite writes (a scenario may add side files there)
    quick        shorter runs for pull requests (seconds, not minutes)
    recorder     the suite's envelope Recorder (add_error / save are fine to call)
    experts      the parsed experts file (`codeperf.experts.config.ExpertsConfig`),
                 already pointing at a running simulator when it is the default
    loadgen      the `codeperf.load.loadgen` module (run_closed, run_open, schedules)
    simulator_url the bundled simulator the driver started (http://127.0.0.1:PORT/v1), or None
    simulator_pids that simulator's processes (to measure their CPU), or empty
    options      extra per-run options from the command line (e.g. {"rate_rps": 50})
    allow_remote whether non-loopback targets were allowed (--allow-remote)
    workers      the worker pool (`codeperf.load.workers.WorkerPool`) with --workers N > 1
                 or --ray-address, else None: one event loop in this process. Only
                 scenarios registered with `workers=True` use it.
    slo          the queries' SLO (`codeperf.experts.slo.Slo`: --slo over the experts
                 file's [slo]), or None: goodput then counts every successful query
    log          where progress lines go (stderr in the script)
    """

    out_dir: Path
    quick: bool
    recorder: Recorder
    experts: Any = None
    loadgen: Any = None
    options: dict[str, Any] = field(default_factory=dict)
    simulator_url: str | None = None
    simulator_pids: list[int] = field(default_factory=list)
    allow_remote: bool = False
    slo: Any = None
    workers: Any = None
    worker_pool: Any = None  # the run's pool, set by the driver; `workers` while a scenario uses it
    worker_experts: Any = None  # the experts for scenarios on workers (a multi-process simulator)
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    current: str = ""  # the scenario now running; set by the driver
    _watched: list[Callable[[], Any]] = field(default_factory=list)

    def watch(self, build: Callable[[], Any]) -> None:
        """Register how to build a result entry (or a list of them) from what is measured so far.

        If the scenario fails or is interrupted, the driver records what every
        registered builder returns, marked `"partial": true`; if it returns
        normally, its return value is recorded instead and the builders are dropped.
        """
        self._watched.append(build)

    def progress(self, message: str) -> None:
        """A human progress line on stderr, prefixed with the scenario name."""
        self.log(f"  [{self.current or 'load'}] {message}")

    def add_validity(self, check: str, ok: bool, detail: Any = None) -> None:
        prefix = f"{self.current}." if self.current else ""
        self.recorder.add_validity(prefix + check, ok, detail)

    def check_target(self, url: str) -> None:
        """Refuse a non-loopback URL unless --allow-remote (raises RemoteTargetRefused)."""
        from codeperf.harness.loopback import check_loopback

        check_loopback(url, allow_remote=self.allow_remote)


def _record_partial(name: str, ctx: ScenarioContext) -> None:
    for build in ctx._watched:
        try:
            built = build()
        except Exception as exc:  # a half-built state must not hide the original failure
            ctx.recorder.add_error("partial", f"{name}: could not record partial results: "
                                              f"{type(exc).__name__}: {exc}", scenario=name)
            continue
        for entry in built if isinstance(built, list) else [built]:
            if entry:
                ctx.recorder.add_result({**entry, "partial": True})
    if ctx._watched:
        ctx.log(f"scenario {name}: recorded what it measured before it stopped (partial)")


def outcome_of(name: str, value: ScenarioReturn) -> ScenarioOutcome:
    """Normalise what a scenario returned (see the module docstring)."""
    if isinstance(value, ScenarioOutcome):
        return value
    if isinstance(value, dict):
        return ScenarioOutcome([value], dict(value.get("summary", {})))
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        main = next((v for v in value if v.get("kind") == "scenario"), value[0] if value else {})
        return ScenarioOutcome(list(value), dict(main.get("summary", {})))
    raise TypeError(f"scenario {name!r} returned {type(value).__name__}; expected a result "
                    f"entry, a list of entries or a ScenarioOutcome")


async def run_scenarios(names: Sequence[str], ctx: ScenarioContext) -> dict[str, float | None]:
    """Run scenarios in order, recording entries as they finish (a checkpoint after each).

    Returns the target metrics, `<scenario>.<key>`. A scenario that raises is
    recorded as an error and skipped; KeyboardInterrupt / SIGTERM propagate.
    """
    metrics: dict[str, float | None] = {}
    for name in names:
        spec = get(name)
        ctx.current = name
        ctx._watched = []
        ctx.workers = ctx.worker_pool if spec.workers else None
        experts = ctx.experts
        if ctx.workers is not None and ctx.worker_experts is not None:
            ctx.experts = ctx.worker_experts
        ctx.log(f"scenario {name}: {spec.description}"
                + (f" [{ctx.workers.workers} workers]" if ctx.workers is not None else ""))
        started = time.perf_counter()
        finished = False
        try:
            outcome = outcome_of(name, await spec.run(ctx))
            finished = True
        except Interrupted:
            raise
        except Exception as exc:  # one failing scenario does not stop the others
            ctx.recorder.add_error("scenario", f"{name}: {type(exc).__name__}: {exc}",
                                   scenario=name)
            ctx.log(f"scenario {name}: FAILED ({type(exc).__name__}: {exc})")
            continue
        finally:
            # Runs on failure, Ctrl-C (a cancellation here) and SIGTERM alike: what the
            # scenario measured before it stopped goes into the envelope, marked partial.
            if not finished:
                _record_partial(name, ctx)
                ctx.recorder.save()
            ctx.current = ""
            ctx._watched = []
            ctx.workers, ctx.experts = None, experts
        for entry in outcome.entries:
            if ctx.worker_pool is not None:  # say how many generators made each entry
                entry.setdefault("workers", ctx.worker_pool.workers if spec.workers else 1)
            ctx.recorder.add_result(entry)
        for key, value in outcome.metrics.items():
            if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
                metrics[f"{name}.{key}"] = value
        ctx.recorder.save()
        ctx.log(f"scenario {name}: done in {time.perf_counter() - started:.1f} s")
    return metrics
