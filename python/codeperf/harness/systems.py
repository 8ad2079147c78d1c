"""The systems a suite measured, as its envelope's `config["systems"]` lists them.

One shape for every suite, so the report can say which deployment was under
test without knowing any suite: a list of

    {"kind": "expert", "name": "gpt", "model": "gpt-4o-mini",
     "endpoint": "https://api.openai.com/v1"}          # or "bundled simulator"
    {"kind": "mcp_server", "name": "filesystem", "transport": "stdio",
     "endpoint": None, "origin": "config"}             # bundled, config, command, url

Names, models, transports and endpoints only: never keys, headers, environment
values or command lines (which may carry tokens). Endpoints lose any user:password
part, query and fragment before they are recorded.
"""

from __future__ import annotations

from typing import Any, Iterable
from urllib.parse import urlsplit, urlunsplit

BUNDLED_SIMULATOR = "bundled simulator"


def safe_endpoint(url: str | None) -> str | None:
    """`url` without credentials, query or fragment (where tokens hide)."""
    if not url:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        return None  # not a URL we can vouch for: record nothing rather than a secret
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def experts(circle: Iterable[Any]) -> list[dict[str, Any]]:
    """Entries for an experts circle (codeperf.experts.config.Expert objects)."""
    return [{"kind": "expert", "name": e.name, "model": e.model,
             "endpoint": BUNDLED_SIMULATOR if e.uses_simulator else safe_endpoint(e.base_url)}
            for e in circle]


def mcp_server(name: str, transport: str, *, origin: str, url: str | None = None) -> dict[str, Any]:
    """An MCP server: bundled, from a client config, a --server command or a --url."""
    return {"kind": "mcp_server", "name": name, "transport": transport,
            "endpoint": safe_endpoint(url) if url and "{" not in url else None, "origin": origin}
