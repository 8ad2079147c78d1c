"""Tool arguments: from an arguments file, or generated from the tool's inputSchema.

An arguments file (`--args FILE`, JSON or TOML) maps a tool name to a list of
argument sets; a key may be qualified with the server label
(`utility.stdio.echo`) when two servers share a tool name. Calls cycle through
the sets. `--write-args FILE` writes a commented template of this file
(codeperf.mcp.bench.argsfile).

A tool without an entry gets one argument set generated from its schema: the
required properties, each the schema's `const`, `default`, first of `examples`,
first `enum` value, an example quoted in its description ("e.g. 'UTC'") when
it fits the constraints, or else a value built to satisfy the constraints:
`format` (date, date-time, time, uri, email, uuid, hostname, ipv4, ipv6),
`pattern` (built from the regular expression when it is a simple one: literals,
classes, repeats, groups, alternation), `minLength`/`maxLength`,
`minimum`/`maximum` (exclusive too) and `multipleOf`, nested objects and arrays
(one item, or `minItems`), `anyOf`/`oneOf` (the first non-null branch) and
`allOf`. `$ref`s into `$defs` are followed. A valid value is not always a
useful one (a path that does not exist is a valid string): when the server
rejects generated arguments, the run says so and how to supply real ones.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from pathlib import Path
from typing import Any, Mapping

try:  # the regular-expression parser behind `re` (3.11+: re._parser)
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_parse as _sre  # type: ignore[no-redef]

ArgSets = list[dict[str, Any]]
DEFAULT_STRING = "codeperf"
# .invalid never resolves (RFC 2606): a generated URL cannot send a fetch tool to the internet.
_FORMATS = {
    "date": "2025-01-01", "date-time": "2025-01-01T00:00:00Z", "time": "12:00:00Z",
    "uri": "https://example.invalid/", "url": "https://example.invalid/", "iri": "https://example.invalid/",
    "uri-reference": "https://example.invalid/", "email": "user@example.invalid",
    "idn-email": "user@example.invalid", "uuid": "00000000-0000-4000-8000-000000000000",
    "hostname": "example.invalid", "ipv4": "127.0.0.1", "ipv6": "::1", "duration": "PT1S",
}
# Formats a description spells out instead of using `format` ("in 24-hour format (HH:MM)").
_DESCRIBED_FORMATS = (("HH:MM:SS", "12:00:00"), ("HH:MM", "12:00"), ("YYYY-MM-DD", "2025-01-01"),
                      ("ISO 8601", "2025-01-01T00:00:00Z"), ("ISO-8601", "2025-01-01T00:00:00Z"))
# An example a description quotes: e.g. 'America/New_York', e.g., "UTC", for example `main`.
_DESCRIBED_EXAMPLE = re.compile(r"(?:e\.g\.,?|for example,?|example:|such as)\s*['\"`]([^'\"`]{1,200})['\"`]",
                                re.IGNORECASE)


class ScenarioFileError(ValueError):
    """An arguments file cannot be used; the message names the file."""


ArgsFileError = ScenarioFileError


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


load_args_file = load_scenario_file


def args_for(label: str, tool: Mapping[str, Any], scenarios: Mapping[str, ArgSets]) -> tuple[ArgSets, str]:
    """The argument sets for one tool and where they came from ("scenario" or "schema")."""
    name = tool["name"]
    for key in (f"{label}.{name}", name):
        if key in scenarios:
            return [dict(s) for s in scenarios[key]], "scenario"
    return [generate(tool.get("inputSchema") or {})], "schema"


def generate(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None, *,
             optional: bool = False, _depth: int = 0) -> Any:
    """A valid instance of `schema`: required properties only (all of them with `optional`)."""
    root = root if root is not None else schema
    schema = deref(schema, root)
    if _depth > 16:  # a recursive schema (a tree of nodes): stop at the smallest instance
        return _smallest(schema)
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [deref(o, root) for o in schema[key]]
            # Prefer a real value over null, so the tool gets something to work on.
            chosen = next((o for o in options if o.get("type") != "null"), options[0])
            rest = {k: v for k, v in schema.items() if k not in (key, "description")}
            return generate({**rest, **chosen}, root, optional=optional, _depth=_depth + 1)
    if "allOf" in schema:
        return generate(merge_all_of(schema, root), root, optional=optional, _depth=_depth + 1)
    kind = type_of(schema)
    if kind == "object":
        props = schema.get("properties", {})
        names = list(props) if optional else list(schema.get("required", []))
        return {name: generate(props.get(name, {}), root, _depth=_depth + 1) for name in names}
    if kind == "array":
        return _array(schema, root, _depth)
    if kind == "string":
        return string_for(schema)
    if kind == "integer":
        return int(_number(schema, integer=True))
    if kind == "number":
        return _number(schema, integer=False)
    if kind == "boolean":
        return False
    return None


def merge_all_of(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` with its `allOf` parts merged in (properties and required lists combined)."""
    schema = deref(schema, root)
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema.get("allOf", []):
        part = merge_all_of(part, root)
        merged["properties"] = {**merged.get("properties", {}), **part.get("properties", {})}
        merged["required"] = [*merged.get("required", []), *part.get("required", [])]
        merged.update({k: v for k, v in part.items() if k not in ("properties", "required")})
    return merged


def type_of(schema: Mapping[str, Any]) -> str:
    """The schema's type (the first non-null one of a list; guessed from its keywords if absent)."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema or "required" in schema:
            return "object"
        if "items" in schema or "prefixItems" in schema:
            return "array"
        if "minimum" in schema or "maximum" in schema:
            return "number"
        return "string"
    return str(kind)


def deref(schema: Mapping[str, Any], root: Mapping[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            raise ValueError(f"cannot follow non-local $ref {ref!r}")
        target: Any = root
        for part in ref[2:].split("/") if ref != "#" else []:
            target = target[part.replace("~1", "/").replace("~0", "~")]
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **extra}
        seen += 1
    return dict(schema)


def _smallest(schema: Mapping[str, Any]) -> Any:
    return {"object": {}, "array": [], "string": "", "integer": 0, "number": 0,
            "boolean": False}.get(type_of(schema))


def _array(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    low = int(schema.get("minItems", 0))
    high = schema.get("maxItems")
    # One item even when none is required: an empty list exercises nothing.
    count = max(low, len(prefix), 1)
    if high is not None:
        count = min(count, int(high))
    items: list[Any] = []
    for i in range(count):
        item_schema = prefix[i] if i < len(prefix) else schema.get("items", {})
        item = generate(item_schema if isinstance(item_schema, dict) else {}, root, _depth=depth + 1)
        if schema.get("uniqueItems") and item in items:
            item = _variant(item, i)
        items.append(item)
    return items


def _variant(item: Any, i: int) -> Any:
    """A different value of the same kind (uniqueItems)."""
    if isinstance(item, str):
        return f"{item}{i}"
    if isinstance(item, bool):
        return not item
    if isinstance(item, (int, float)):
        return item + i
    return item


def string_for(schema: Mapping[str, Any]) -> str:
    """A string meeting format, pattern and length constraints where a simple generator can."""
    min_len = int(schema.get("minLength", 0))
    max_len = schema.get("maxLength")
    pattern = schema.get("pattern")
    candidates: list[str] = []
    if schema.get("format") in _FORMATS:
        candidates.append(_FORMATS[schema["format"]])
    description = str(schema.get("description", ""))
    candidates += [value for marker, value in _DESCRIBED_FORMATS if marker in description]
    # A URL quoted in a description may be a real site: never one of those (loopback rule).
    candidates += [e for e in _DESCRIBED_EXAMPLE.findall(description) if "://" not in e]
    if pattern:
        candidates += [s for k in range(0, max(min_len, 1) + 1)
                       if (s := from_pattern(pattern, k)) is not None]
    candidates.append(DEFAULT_STRING)
    for value in candidates:
        value = _fit_length(value, min_len, max_len, padding=not pattern)
        if satisfies(value, schema):
            return value
    # Nothing fits (a pattern beyond the simple generator): the server will say so.
    return _fit_length(candidates[0], min_len, max_len, padding=True)


def satisfies(value: str, schema: Mapping[str, Any]) -> bool:
    if len(value) < int(schema.get("minLength", 0)):
        return False
    if schema.get("maxLength") is not None and len(value) > int(schema["maxLength"]):
        return False
    pattern = schema.get("pattern")
    try:
        return not pattern or re.search(pattern, value) is not None
    except re.error:
        return False


def _fit_length(value: str, min_len: int, max_len: Any, padding: bool) -> str:
    if padding and len(value) < min_len:
        value = value + "x" * (min_len - len(value))
    if max_len is not None:
        value = value[: int(max_len)]
    return value


def from_pattern(pattern: str, extra: int = 0) -> str | None:
    """A string the regular expression matches (repeats run min+`extra` times), or None
    when it uses something this small generator does not build (lookarounds, backrefs...)."""
    try:
        parsed = _sre.parse(pattern)
    except (re.error, Exception):
        return None
    try:
        out = _emit(list(parsed), extra, {})
    except _Unsupported:
        return None
    try:
        return out if re.search(pattern, out) else None
    except re.error:
        return None


class _Unsupported(Exception):
    pass


_CANDIDATES = "a0A_-x. /:Z9z"


def _emit(items: list[Any], extra: int, groups: dict[int, str]) -> str:
    out = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append(next(c for c in _CANDIDATES if ord(c) != arg))
        elif name == "ANY":
            out.append("a")
        elif name == "IN":
            out.append(_from_set(arg))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            count = low + extra if high == _sre.MAXREPEAT else min(high, low + extra)
            out.append("".join(_emit(list(sub), extra, groups) for _ in range(count)))
        elif name == "SUBPATTERN":
            group, _add, _del, sub = arg
            text = _emit(list(sub), extra, groups)
            if group is not None:
                groups[group] = text
            out.append(text)
        elif name == "BRANCH":
            out.append(_emit(list(arg[1][0]), extra, groups))
        elif name == "AT":
            continue  # anchors: the string we build starts and ends where they want
        elif name == "GROUPREF":
            out.append(groups.get(arg, ""))
        elif name == "CATEGORY":
            out.append(_from_category(str(arg)))
        else:  # lookarounds, conditionals
            raise _Unsupported(name)
    return "".join(out)


def _from_category(name: str) -> str:
    if "NOT_DIGIT" in name:
        return "a"
    if "DIGIT" in name:
        return "0"
    if "NOT_SPACE" in name or "WORD" in name and "NOT" not in name:
        return "a"
    if "SPACE" in name:
        return " "
    if "NOT_WORD" in name:
        return "-"
    return "a"


def _from_set(members: list[Any]) -> str:
    negate = any(str(op) == "NEGATE" for op, _ in members)
    if not negate:
        op, arg = members[0]
        if str(op) == "LITERAL":
            return chr(arg)
        if str(op) == "RANGE":
            return chr(arg[0])
        if str(op) == "CATEGORY":
            return _from_category(str(arg))
        raise _Unsupported(str(op))
    excluded = set()
    for op, arg in members:
        if str(op) == "LITERAL":
            excluded.add(chr(arg))
        elif str(op) == "RANGE":
            excluded |= {chr(c) for c in range(arg[0], arg[1] + 1) if c < 0x3000}
    choice = next((c for c in _CANDIDATES if c not in excluded), None)
    if choice is None:
        raise _Unsupported("NEGATE")
    return choice


def _number(schema: Mapping[str, Any], integer: bool) -> float:
    low = schema.get("minimum")
    if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
        low = schema["exclusiveMinimum"] + (1 if integer else 1e-6)
    high = schema.get("maximum")
    if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
        high = schema["exclusiveMaximum"] - (1 if integer else 1e-6)
    value: float = 1 if low is None else low
    if high is not None and value > high:
        value = high
    step = schema.get("multipleOf")
    if step:
        value = math.ceil(value / step) * step
        if high is not None and value > high:
            value = math.floor(high / step) * step
    if integer:
        value = math.ceil(value)
    return value
