"""The hint when a server rejects generated arguments, and the commands that fix it.

A generated argument set satisfies the schema, but only the user knows a path
that exists or an id the server has. When a tool whose arguments were generated
(no `--args` entry) answers with `isError` or a JSON-RPC invalid-params error
(-32602), its result row carries `generated_arguments_rejected` (the server's
first error), and the run gets one `arguments_hint` entry listing those tools
with the exact `--write-args` and `--args` commands; the table prints it.
"""

from __future__ import annotations

import shlex
from typing import Any, Mapping, Sequence

INVALID_PARAMS = -32602
TEMPLATE_FILE = "mcp_args.toml"
SCRIPT = ".venv/bin/python scripts/mcp_bench.py"
# Options whose value is a file of arguments (dropped from the template-writing command).
_ARGS_OPTIONS = ("--args", "--scenario", "--write-args")


def rejected(source: str, errors: Mapping[str, int], first_error: Mapping[str, str]) -> dict[str, str] | None:
    """What the server said about generated arguments it rejected (None: not that case)."""
    if source != "schema":
        return None
    if errors.get("is_error"):
        return {"kind": "isError", "first_error": first_error.get("is_error", "")}
    message = first_error.get("jsonrpc", "")
    if errors.get("jsonrpc") and message.startswith(f"{INVALID_PARAMS}:"):
        return {"kind": "invalid params", "first_error": message}
    return None


def commands(argv: Sequence[str]) -> list[str]:
    """[write the template, run with it], from the command line that was run."""
    kept = _without(argv, ("--write-args",))
    template = [*_without(argv, _ARGS_OPTIONS), "--write-args", TEMPLATE_FILE]
    return [f"{SCRIPT} {shlex.join(template)}", f"{SCRIPT} {shlex.join([*kept, '--args', TEMPLATE_FILE])}"]


def _without(argv: Sequence[str], options: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in options:
            skip = True
            continue
        if any(arg.startswith(f"{o}=") for o in options):
            continue
        out.append(arg)
    return out


def hint_entry(rows: Sequence[Mapping[str, Any]], argv: Sequence[str]) -> dict[str, Any] | None:
    """The run's `arguments_hint` result entry (None when no generated arguments were rejected)."""
    tools = [{"tool": r["id"], "server": r.get("server"), **r["generated_arguments_rejected"]}
             for r in rows if r.get("generated_arguments_rejected")]
    if not tools:
        return None
    return {"id": "arguments/generated_rejected", "kind": "arguments_hint",
            "summary": {"tools_count": len(tools)}, "tools": tools, "commands": commands(argv),
            "note": ("these tools were called with arguments generated from their inputSchema and "
                     "the server rejected them; write a template, put real values in it, and run "
                     "with it")}


def render(entry: Mapping[str, Any]) -> str:
    lines = [f"arguments generated from the schema were rejected by {len(entry['tools'])} tool(s) "
             f"(only you know valid values):"]
    for tool in entry["tools"]:
        lines.append(f"  {tool['tool']}: {tool['kind']}: {' '.join(tool['first_error'].split())[:200]}")
    lines.append("fix: write an arguments template, edit its values, and run with it:")
    lines += [f"  {c}" for c in entry["commands"]]
    return "\n".join(lines)
