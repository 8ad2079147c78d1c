"""The experts file (TOML): which OpenAI-compatible endpoints form the circle.

    [[expert]]
    name = "gpt"                         # unique; names the expert in results
    base_url = "https://api.openai.com/v1"   # or "simulator": the bundled one, started for you
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"       # the *name* of an environment variable, never the key
    timeout_s = 30                       # whole call, retries included
    stream = true                        # SSE streaming (time to first token is measured)
    max_retries = 2                      # on 429 and 5xx, with exponential backoff
    confidence = 0.8                     # the engine's confidence input for this expert
    price_prompt_per_1k_usd = 0.0        # cost_usd = tokens / 1000 * price
    price_completion_per_1k_usd = 0.0

    [slo]                                # optional: the queries' SLO (codeperf.experts.slo)
    ttft_ms = 500                        # any of ttft_ms, itl_ms, tpot_ms, e2e_ms
    e2e_ms = 2000

    [simulator]                          # only used when an expert says base_url = "simulator"
    seed = 0
    [[simulator.model]]                  # see codeperf.experts.simulator.ModelProfile
    name = "sim-fast"
    ttft_median_ms = 40

Keys are read from the environment when a request is made and exist nowhere
else: `to_dict()` (what goes into results) carries the variable's name and
whether it is set, and `redact()` scrubs any key value from text before it is
logged or recorded.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

SIMULATOR = "simulator"
DEFAULT_EXPERTS_FILE = Path(__file__).with_name("default_experts.toml")
REDACTED = "[REDACTED]"

class ExpertsConfigError(ValueError):
    """The experts file is missing or wrong; the message names the file and the entry."""


@dataclass(frozen=True)
class Expert:
    name: str
    base_url: str
    model: str
    api_key_env: str = ""
    timeout_s: float = 30.0
    stream: bool = False
    max_retries: int = 2
    confidence: float = 0.8
    price_prompt_per_1k_usd: float = 0.0
    price_completion_per_1k_usd: float = 0.0
    max_tokens: int | None = None

    @property
    def uses_simulator(self) -> bool:
        return self.base_url == SIMULATOR

    def api_key(self) -> str | None:
        """The key from the environment at call time (None when unset or no variable named)."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    @property
    def completions_url(self) -> str:
        return self.base_url.rstrip("/") + "/chat/completions"

    def to_dict(self) -> dict[str, Any]:
        """The form written to results and logs: the key's variable name, never its value."""
        return {"name": self.name, "base_url": self.base_url, "model": self.model,
                "api_key_env": self.api_key_env or None,
                "api_key_set": self.api_key() is not None, "timeout_s": self.timeout_s,
                "stream": self.stream, "max_retries": self.max_retries,
                "confidence": self.confidence,
                "price_prompt_per_1k_usd": self.price_prompt_per_1k_usd,
                "price_completion_per_1k_usd": self.price_completion_per_1k_usd,
                "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class ExpertsConfig:
    experts: tuple[Expert, ...]
    simulator: dict[str, Any] = field(default_factory=dict)
    source: str = "<memory>"
    slo: dict[str, float] = field(default_factory=dict)  # the [slo] table, checked

    @property
    def needs_simulator(self) -> bool:
        return any(e.uses_simulator for e in self.experts)

    def with_simulator_url(self, base_url: str) -> "ExpertsConfig":
        """The same circle with every `simulator` expert pointing at a running simulator."""
        return replace(self, experts=tuple(
            replace(e, base_url=base_url) if e.uses_simulator else e for e in self.experts))

    def with_overrides(self, **changes: Any) -> "ExpertsConfig":
        """Every expert with the given fields replaced (e.g. stream=True)."""
        return replace(self, experts=tuple(replace(e, **changes) for e in self.experts))

    def secrets(self) -> list[str]:
        return secrets_of(self.experts)

    def redact(self, text: str) -> str:
        """`text` with every configured API key value replaced by [REDACTED]."""
        return redact(text, self.experts)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "experts": [e.to_dict() for e in self.experts],
                "simulator": self.simulator or None, "slo": self.slo or None}


def secrets_of(experts: Iterable[Expert]) -> list[str]:
    """The API key values these experts would send (longest first, so none is left half-redacted)."""
    return sorted({k for k in (e.api_key() for e in experts) if k}, key=len, reverse=True)


def redact(text: str, experts: Iterable[Expert]) -> str:
    """`text` with the API key value of any of `experts` replaced by [REDACTED].

    Works on any roster (a config or a plain list of experts), so no caller path
    writes a key into a message, a result or a log.
    """
    for secret in secrets_of(experts):
        text = text.replace(secret, REDACTED)
    return text


def _is_number(value: Any) -> bool:
    # TOML booleans are ints to Python; `timeout_s = true` is a mistake, not 1 second
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite_number(minimum: float, maximum: float = math.inf, *, above: bool = False):
    def check(value: Any) -> str | None:
        if not _is_number(value) or not math.isfinite(value):
            return "must be a finite number"
        if (value <= minimum if above else value < minimum) or value > maximum:
            low = f"> {minimum:g}" if above else f">= {minimum:g}"
            return f"must be {low}" + (f" and <= {maximum:g}" if maximum != math.inf else "")
        return None
    return check


def _whole(minimum: int):
    def check(value: Any) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be a whole number"
        return None if value >= minimum else f"must be >= {minimum}"
    return check


def _text(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _flag(value: Any) -> str | None:
    # "false" as a string is truthy: only a real TOML boolean says what was meant
    return None if isinstance(value, bool) else "must be true or false (a TOML boolean)"


# One rule per key: the type and range a value must have (the message says which was wrong).
_FIELD_RULES = {
    "name": _text, "base_url": _text, "model": _text, "api_key_env": _text,
    "timeout_s": _finite_number(0, above=True), "stream": _flag, "max_retries": _whole(0),
    "confidence": _finite_number(0, 1),
    "price_prompt_per_1k_usd": _finite_number(0), "price_completion_per_1k_usd": _finite_number(0),
    "max_tokens": _whole(1),
}


def _expert(entry: Any, where: str) -> Expert:
    if not isinstance(entry, dict):
        raise ExpertsConfigError(f"{where}: each [[expert]] must be a table, got "
                                 f"{type(entry).__name__}")
    if "api_key" in entry:  # a key pasted into the file: refuse it, without echoing it
        raise ExpertsConfigError(f"{where}: put the key in an environment variable and name it "
                                 f"with api_key_env")
    unknown = set(entry) - set(_FIELD_RULES)
    if unknown:
        raise ExpertsConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    missing = [k for k in ("name", "base_url", "model") if k not in entry or entry[k] == ""]
    if missing:
        raise ExpertsConfigError(f"{where}: missing {', '.join(missing)}")
    for key, value in entry.items():
        problem = _FIELD_RULES[key](value)
        if problem:
            raise ExpertsConfigError(f"{where}: {key} {problem} (got {value!r:.60})")
    expert = Expert(**entry)
    if not (expert.uses_simulator or expert.base_url.startswith(("http://", "https://"))):
        raise ExpertsConfigError(f"{where}: base_url must be http(s)://... or \"simulator\"")
    return expert


def _entry_name(entry: Any) -> str:
    name = entry.get("name", "?") if isinstance(entry, dict) else "?"
    return name if isinstance(name, str) else repr(name)


def parse(data: dict[str, Any], source: str = "<memory>") -> ExpertsConfig:
    entries = data.get("expert")
    if not isinstance(entries, list) or not entries:
        raise ExpertsConfigError(f"{source}: no [[expert]] entries")
    experts = tuple(_expert(e, f"{source}: expert[{i}] ({_entry_name(e)})")
                    for i, e in enumerate(entries))
    names = [e.name for e in experts]
    if len(set(names)) != len(names):
        raise ExpertsConfigError(f"{source}: expert names must be unique ({', '.join(names)})")
    simulator = data.get("simulator", {})
    if not isinstance(simulator, dict):
        raise ExpertsConfigError(f"{source}: [simulator] must be a table")
    return ExpertsConfig(experts, simulator, source, _slo(data.get("slo", {}), source))


def _slo(table: Any, source: str) -> dict[str, float]:
    from codeperf.experts.slo import Slo, SloError

    if not isinstance(table, dict):
        raise ExpertsConfigError(f"{source}: [slo] must be a table")
    try:
        return Slo.from_mapping(table, f"{source}: [slo]").bounds
    except SloError as exc:
        raise ExpertsConfigError(str(exc)) from None


def load(path: Path | str | None = None) -> ExpertsConfig:
    """Read an experts file (the bundled default when `path` is None)."""
    path = Path(path) if path is not None else DEFAULT_EXPERTS_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExpertsConfigError(f"{path}: experts file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExpertsConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, str(path))


def dump_toml(config: ExpertsConfig, header: str = "") -> str:
    """The experts file `load` reads back as `config` (experts and [slo]; no keys exist to
    write: an expert holds only the name of its key's variable). Used to hand a circle
    built from `--expert URL` to every suite of `make perf` as one file."""
    import json

    def value(v: Any) -> str:  # JSON strings, numbers and booleans are valid TOML
        return json.dumps(v)

    lines = [f"# {line}" for line in header.splitlines()]
    defaults = Expert(name="", base_url="", model="")
    for expert in config.experts:
        lines += ["", "[[expert]]"]
        for key in _FIELD_RULES:
            v = getattr(expert, key)
            if v is None or (key not in ("name", "base_url", "model") and v == getattr(defaults, key)):
                continue
            lines.append(f"{key} = {value(v)}")
    if config.slo:
        lines += ["", "[slo]"] + [f"{k} = {value(v)}" for k, v in config.slo.items()]
    if config.simulator:
        raise ValueError("dump_toml writes circles without a [simulator] table")
    return "\n".join(lines) + "\n"
