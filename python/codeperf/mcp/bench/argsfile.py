"""`--write-args FILE`: a commented TOML arguments file for the user to edit.

One `[["tool"]]` table per tool (qualified as `[["label.tool"]]` when servers
share a tool name with different schemas), preceded by the tool's description
and one comment line per parameter (type, required or optional, description);
required parameters are filled with the generated values, optional ones are
commented out with a generated value. The file loads back with `--args FILE`
(argsgen.load_scenario_file), each table one argument set; add more tables
with the same name for calls to cycle through.

Listing the tools starts each server once (one session, `tools/list`); no tool
is called, so writing the template has no side effects.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from codeperf.mcp.bench import launch
from codeperf.mcp.bench.argsgen import deref, generate, merge_all_of, type_of
from codeperf.mcp.bench.launch import ServerSpec

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class ToolInfo:
    label: str
    name: str
    description: str
    input_schema: Mapping[str, Any]


async def list_tools(specs: Sequence[ServerSpec], log_dir: Path, timeout_s: float,
                     log: Callable[[str], None]) -> tuple[list[ToolInfo], list[str]]:
    """Every tool of every server, and one message per server that could not be listed."""
    tools: list[ToolInfo] = []
    problems: list[str] = []
    for spec in specs:
        handle = launch.ServerHandle(spec, log_dir, timeout_s)
        try:
            async with handle:
                async with handle.session() as session:
                    listing = await session.client.list_tools(cache_mode="bypass")
            found = [ToolInfo(spec.label, t.name, t.description or "", t.input_schema or {})
                     for t in listing.tools]
            log(f"  {spec.label}: {len(found)} tools")
            tools += found
        except Exception as exc:  # one server failing must not lose the others' entries
            while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # type: ignore[assignment]
            problems.append(spec.scrub(f"{spec.label}: {type(exc).__name__}: {exc}"))
    launch.reap_leftovers()
    return tools, problems


def render(tools: Sequence[ToolInfo], fix_command: str) -> str:
    """The template's text (valid TOML)."""
    lines = ["# mcp_bench arguments file: tool -> argument sets (one [[table]] per call variant).",
             "# Generated from each tool's inputSchema; replace the values with real ones (paths",
             "# that exist, ids the server knows), uncomment optional parameters you want, add",
             "# more [[tables]] with the same name to cycle through several argument sets, then:",
             f"#   {fix_command}", ""]
    schemas: dict[str, set[str]] = {}
    for tool in tools:
        schemas.setdefault(tool.name, set()).add(json.dumps(tool.input_schema, sort_keys=True))
    written: set[str] = set()
    for tool in tools:
        key = tool.name if len(schemas[tool.name]) == 1 else f"{tool.label}.{tool.name}"
        if key in written:  # the same tool on another transport of the same server
            continue
        written.add(key)
        lines += _entry(key, tool)
    return "\n".join(lines) + "\n"


def _entry(key: str, tool: ToolInfo) -> list[str]:
    schema = tool.input_schema
    lines = [f"# {tool.label}: {tool.name}" + (f" - {_one_line(tool.description)}" if tool.description else "")]
    shape = merge_all_of(schema, schema) if schema else {}
    props: Mapping[str, Any] = shape.get("properties", {})
    required = set(shape.get("required", []))
    generated = generate(schema) if schema else {}
    for name, prop in props.items():
        prop = deref(prop, schema)
        need = "required" if name in required else "optional"
        desc = _one_line(prop.get("description", ""))
        lines.append(f"#   {name} ({_type_label(prop)}, {need})" + (f": {desc}" if desc else ""))
    lines.append(f"[[{_key(key)}]]")
    for name, prop in props.items():
        if name in required and name in generated:
            lines.append(f"{_key(name)} = {toml_value(generated[name])}")
        elif name not in required:
            value = generate(prop, schema)
            if value is not None:
                lines.append(f"# {_key(name)} = {toml_value(value)}")
    lines.append("")
    return lines


def _type_label(prop: Mapping[str, Any]) -> str:
    kind = type_of(prop)
    if prop.get("enum"):
        return "one of " + ", ".join(json.dumps(v) for v in prop["enum"][:8])
    extras = [f"format {prop['format']}"] if prop.get("format") else []
    extras += [f"pattern {prop['pattern']}"] if prop.get("pattern") else []
    extras += [f"{k} {prop[k]}" for k in ("minimum", "maximum", "minLength", "maxLength") if k in prop]
    if kind == "array":
        items = prop.get("items") if isinstance(prop.get("items"), dict) else {}
        kind = f"array of {type_of(items)}" if items else "array"
    return kind + (f"; {', '.join(extras)}" if extras else "")


def _one_line(text: str, limit: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else json.dumps(name)


def toml_value(value: Any) -> str:
    """A JSON-like value as TOML (inline tables and arrays); None has no TOML form."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are TOML basic-string escapes (\", \\, \n, \uXXXX).
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_key(str(k))} = {toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if value is None:
        return '""'
    raise TypeError(f"no TOML form for {type(value).__name__}")
