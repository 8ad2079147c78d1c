"""MCP server config files as users already write them, turned into ServerSpecs.

Two shapes are read (JSON, comments not allowed):

    {"mcpServers": {NAME: {...}}}     Claude Desktop, Cursor, Claude Code, Cline
    {"servers":    {NAME: {...}}}     VS Code's .vscode/mcp.json (also under "mcp" in settings.json)

An entry is a stdio server (`command`, `args`, `env`, `cwd`) or a streamable
HTTP endpoint (`url`, `headers`; `type` "http"/"streamable-http", or absent).
Other top-level keys are ignored (Claude Desktop keeps its preferences there);
an unknown key inside an entry is an error, so a typo does not silently change
what is measured. Keys the clients use for their own UI (`disabled`,
`autoApprove`, ...) are accepted and ignored; a `disabled` server is skipped
unless `--only` names it.

Values may contain `${env:VAR}` (also `${VAR}`, Claude Code's form), resolved
from our environment, and VS Code's `${input:ID}`, which VS Code would prompt
for: we never prompt, so it is read from the variable `CODEPERF_INPUT_<ID>` (ID
upper-cased, other characters as `_`). An unset variable is a ConfigError
naming the file, the server and the variable. `${workspaceFolder}` is the
current directory.

Secrets: every `env` and `headers` value (literal or resolved) is a secret, and
so is anything a variable resolved to. `ServerSpec.describe()` shows the
command and URL as written in the file (variables unresolved), never `env` or
header values, and `ServerSpec.scrub` removes the secrets from text (error
messages, stderr tails, server logs) before it is written.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from codeperf.mcp.bench import launch
from codeperf.mcp.bench.launch import ServerSpec

_STDIO_KEYS = {"type", "command", "args", "env", "cwd", "envFile"}
_HTTP_KEYS = {"type", "url", "headers"}
# Keys MCP clients keep for their own UI or policies: nothing for a benchmark to do.
_CLIENT_KEYS = {"disabled", "autoApprove", "alwaysAllow", "timeout", "description", "gallery",
                "version", "dev"}
_HTTP_TYPES = {"http", "streamable-http", "streamableHttp"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class ConfigError(ValueError):
    """A config file cannot be used as asked; the message names the file (and server)."""


@dataclass
class ConfiguredServer:
    """One server from a config file: its spec (ready to run) and what must not be written."""

    name: str
    source: str
    spec: ServerSpec
    secrets: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()
    header_names: tuple[str, ...] = ()
    disabled: bool = False

    def describe(self) -> dict[str, Any]:
        """What goes into results: names of env variables and headers, never their values."""
        return {"name": self.name, "config": self.source, "transport": self.spec.transport,
                "server": self.spec.describe(), "env": list(self.env_names),
                "headers": list(self.header_names)}


@dataclass
class _Resolver:
    where: str
    secrets: list[str] = field(default_factory=list)

    def __call__(self, value: Any, what: str, secret: bool = False) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{self.where}: {what} must be a string, not {type(value).__name__}")
        used_variable = False

        def replace(match: re.Match[str]) -> str:
            nonlocal used_variable
            used_variable = True
            return self._variable(match.group(1), what)

        resolved = _VARIABLE.sub(replace, value)
        if (secret or used_variable) and resolved:
            self.secrets.append(resolved)
        return resolved

    def _variable(self, name: str, what: str) -> str:
        if name == "workspaceFolder":
            return os.getcwd()
        if name.startswith("input:"):
            ident = name[len("input:"):]
            var = "CODEPERF_INPUT_" + re.sub(r"[^A-Za-z0-9]", "_", ident).upper()
            if var not in os.environ:
                raise ConfigError(f"{self.where}: {what} uses ${{input:{ident}}}, which VS Code would "
                                  f"prompt for; mcp_bench never prompts: set the environment variable "
                                  f"{var}")
            return os.environ[var]
        var = name[len("env:"):] if name.startswith("env:") else name
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            raise ConfigError(f"{self.where}: {what} uses ${{{name}}}, which mcp_bench cannot resolve "
                              f"(supported: ${{env:VAR}}, ${{VAR}}, ${{input:ID}}, ${{workspaceFolder}})")
        if var not in os.environ:
            raise ConfigError(f"{self.where}: {what} uses ${{{name}}} but the environment variable "
                              f"{var} is not set")
        return os.environ[var]


def load(path: Path | str) -> list[ConfiguredServer]:
    """Every server in one config file, in file order; ConfigError on any problem."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("mcp"), dict) and "servers" not in data \
            and "mcpServers" not in data:
        data = data["mcp"]  # VS Code settings.json: {"mcp": {"servers": ...}}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object with \"mcpServers\" or \"servers\"")
    entries = data.get("mcpServers", data.get("servers"))
    if not isinstance(entries, dict) or not entries:
        raise ConfigError(f"{path}: no servers: expected a non-empty \"mcpServers\" (Claude Desktop, "
                          f"Cursor) or \"servers\" (VS Code) object")
    return [_server(str(name), entry, path) for name, entry in entries.items()]


def load_all(paths: Sequence[Path | str], only: Sequence[str] = ()) -> list[ConfiguredServer]:
    """The servers of every file, filtered by `only` (names); disabled ones unless named."""
    servers = [s for p in paths for s in load(p)]
    names = [s.name for s in servers]
    missing = [n for n in only if n not in names]
    if missing:
        raise ConfigError(f"--only {', '.join(missing)}: no such server in "
                          f"{', '.join(str(p) for p in paths)} (servers: {', '.join(names)})")
    chosen = [s for s in servers if s.name in only] if only else [s for s in servers if not s.disabled]
    labels = [s.spec.label for s in chosen]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise ConfigError(f"server name(s) {', '.join(dupes)} appear more than once in "
                          f"{', '.join(str(p) for p in paths)} (names are labels; other characters than "
                          f"letters, digits, '.', '_' and '-' become '-'); rename one")
    return chosen


def _server(name: str, entry: Any, path: Path) -> ConfiguredServer:
    where = f"{path}: server {name!r}"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected an object")
    kind = entry.get("type")
    if kind == "sse":
        raise ConfigError(f"{where}: type \"sse\" (the deprecated HTTP+SSE transport) is not "
                          f"supported; mcp_bench speaks stdio and streamable HTTP")
    if kind is not None and kind not in _HTTP_TYPES and kind != "stdio":
        raise ConfigError(f"{where}: unknown type {kind!r} (expected \"stdio\" or \"http\")")
    is_http = kind in _HTTP_TYPES or (kind is None and "url" in entry and "command" not in entry)
    allowed = (_HTTP_KEYS if is_http else _STDIO_KEYS) | _CLIENT_KEYS
    unknown = sorted(set(entry) - allowed)
    if unknown:
        hint = " (a stdio server has command/args/env/cwd, an HTTP one url/headers)"
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}{hint}")
    label = _LABEL_UNSAFE.sub("-", name).strip("-") or "server"
    resolve = _Resolver(where)
    disabled = bool(entry.get("disabled", False))
    if is_http:
        url = entry.get("url")
        if not url:
            raise ConfigError(f"{where}: missing url")
        headers = _string_map(entry.get("headers", {}), "headers", where)
        resolved_headers = {k: resolve(v, f"headers.{k}", secret=True) for k, v in headers.items()}
        try:
            spec = launch.url_spec(label, resolve(url, "url"))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        spec.headers = resolved_headers
        spec.shown = str(url)  # as written: a token in a query string stays a ${...}
        spec.secrets = tuple(resolve.secrets)
        return ConfiguredServer(name, str(path), spec, spec.secrets, (), tuple(headers), disabled)
    command = entry.get("command")
    if not command:
        raise ConfigError(f"{where}: missing command (a stdio server needs \"command\"; "
                          f"an HTTP one \"url\")")
    args = entry.get("args", [])
    if not isinstance(args, list):
        raise ConfigError(f"{where}: args must be a list of strings")
    env = _string_map(entry.get("env", {}), "env", where)
    if "envFile" in entry:
        env = {**_env_file(entry["envFile"], where, resolve), **env}
    argv = [resolve(command, "command"), *(resolve(a, f"args[{i}]") for i, a in enumerate(args))]
    resolved_env = {k: resolve(v, f"env.{k}", secret=True) for k, v in env.items()}
    cwd = resolve(entry["cwd"], "cwd") if entry.get("cwd") else None
    if cwd is not None and not Path(cwd).is_dir():
        raise ConfigError(f"{where}: cwd {entry['cwd']!r} is not a directory")
    # Like the MCP clients: the server sees the SDK's safe default environment
    # (HOME, PATH, ...) plus the entry's env, nothing else of ours.
    spec = ServerSpec(label=label, transport="stdio", command=argv, env=resolved_env)
    spec.cwd = cwd
    spec.shown = " ".join([str(command), *(str(a) for a in args)])
    # The cwd is not a secret; a variable in it was resolved, so keep it out of the list.
    spec.secrets = tuple(s for s in resolve.secrets if s != cwd)
    return ConfiguredServer(name, str(path), spec, spec.secrets, tuple(env), (), disabled)


def _string_map(value: Any, what: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {what} must be an object of strings")
    return dict(value)


def _env_file(value: Any, where: str, resolve: _Resolver) -> Mapping[str, str]:
    """VS Code's envFile: KEY=VALUE lines (`#` comments, optional quotes)."""
    path = Path(resolve(value, "envFile"))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"{where}: envFile {value!r}: cannot read: {exc.strerror}") from None
    env: dict[str, str] = {}
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, raw = line.removeprefix("export ").partition("=")
        env[key.strip()] = raw.strip().strip("'\"")
    return env
