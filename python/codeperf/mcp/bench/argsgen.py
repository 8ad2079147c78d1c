"""Tool arguments: from a scenario file, or generated from the tool's inputSchema.

A scenario file (JSON or TOML) maps a tool name to a list of argument sets; a
key may be qualified with the server label (`utility.stdio.echo`) when two
servers share a tool name. Calls cycle through the sets. A tool without an
entry gets one argument set generated from its schema: required properties
only, each the schema's default, first example, first enum value, or the
smallest value its constraints allow; `$ref`s into `$defs` are followed.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any, Mapping

ArgSets = list[dict[str, Any]]


class ScenarioFileError(ValueError):
    pass


def load_scenario_file(path: Path) -> dict[str, ArgSets]:
    """tool (or `label.tool`) -> argument sets; ScenarioFileError names the file on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except OSError as exc:
        raise ScenarioFileError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioFileError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'}: "
                                f"{exc}") from None
    if not isinstance(data, dict):
        raise ScenarioFileError(f"{path}: expected an object mapping tool names to argument sets")
    scenarios: dict[str, ArgSets] = {}
    for tool, sets in data.items():
        if isinstance(sets, dict):
            sets = [sets]
        if not isinstance(sets, list) or not sets or not all(isinstance(s, dict) for s in sets):
            raise ScenarioFileError(f"{path}: {tool!r} must map to a non-empty list of argument objects")
        scenarios[str(tool)] = sets
    return scenarios


def args_for(label: str, tool: Mapping[str, Any], scenarios: Mapping[str, ArgSets]) -> tuple[ArgSets, str]:
    """The argument sets for one tool and where they came from ("scenario" or "schema")."""
    name = tool["name"]
    for key in (f"{label}.{name}", name):
        if key in scenarios:
            return [dict(s) for s in scenarios[key]], "scenario"
    return [generate(tool.get("inputSchema") or {})], "schema"


def generate(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A valid instance of `schema` (the minimal one: required properties only)."""
    root = root if root is not None else schema
    schema = _deref(schema, root)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [_deref(o, root) for o in schema[key]]
            # Prefer a real value over null, so the tool gets something to work on.
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            return generate(chosen, root)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(_deref(part, root))
        return generate(merged, root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    if kind == "object":
        props = schema.get("properties", {})
        return {name: generate(props.get(name, {}), root) for name in schema.get("required", [])}
    if kind == "array":
        count = int(schema.get("minItems", 0))
        return [generate(schema.get("items", {}), root) for _ in range(count)]
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return int(_number(schema, integer=True))
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return False
    return None


def _deref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"cannot follow non-local $ref {ref!r}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **extra}
        seen += 1
    return dict(schema)


def _string(schema: Mapping[str, Any]) -> str:
    fmt = schema.get("format")
    value = {"uri": "https://example.invalid/", "email": "user@example.invalid",
             "date-time": "2025-01-01T00:00:00Z", "date": "2025-01-01", "uuid":
             "00000000-0000-4000-8000-000000000000"}.get(fmt or "", "codeperf")
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    if len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if max_len is not None:
        value = value[: int(max_len)]
    return value


def _number(schema: Mapping[str, Any], integer: bool) -> float:
    low = schema.get("minimum")
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + (1 if integer else 1e-6)
    high = schema.get("maximum")
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - (1 if integer else 1e-6)
    value: float = 1 if low is None else low
    if high is not None and value > high:
        value = high
    if integer:
        import math
        value = math.ceil(value) if low is not None else value
    return value
