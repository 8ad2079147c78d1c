"""The experts server's `consult` tool: a bridge to the Circle of Experts orchestrator.

Kept apart from the server so the server starts (and its CPU tools work) when
no experts are configured; `consult` then returns an isError result that says
what is missing. Experts that use the bundled simulator (`base_url =
"simulator"`) need its URL: `--simulator-url` or $CODEPERF_SIMULATOR_URL.
One aiohttp session per server process is the connection pool for every call.
"""

from __future__ import annotations

import os
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

SIMULATOR_URL_ENV = "CODEPERF_SIMULATOR_URL"
_session: Any = None


async def _shared_session() -> Any:
    import aiohttp

    global _session
    if _session is None or _session.closed:
        _session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200),
                                         timeout=aiohttp.ClientTimeout(total=None))
    return _session


def load_experts(experts_file: str | None, simulator_url: str | None) -> Any:
    from codeperf.experts.config import ExpertsConfigError, load

    if not experts_file:
        raise ToolError("no experts configured: start the server with --experts FILE "
                        "(or set CODEPERF_EXPERTS_FILE)")
    try:
        config = load(experts_file)
    except ExpertsConfigError as exc:
        raise ToolError(str(exc)) from None
    if config.needs_simulator:
        url = simulator_url or os.environ.get(SIMULATOR_URL_ENV)
        if not url:
            raise ToolError("these experts use the bundled simulator: start the server with "
                            f"--simulator-url URL (or set {SIMULATOR_URL_ENV})")
        config = config.with_simulator_url(url)
    return config


async def consult(query: str, experts_file: str | None, simulator_url: str | None = None,
                  quorum: int = 0) -> dict[str, Any]:
    try:
        from codeperf.experts import orchestrator
    except ImportError as exc:
        raise ToolError(f"the experts orchestrator is not available in this build ({exc})") from None
    config = load_experts(experts_file, simulator_url)
    try:
        result = await orchestrator.consult(query, config, quorum=quorum or None,
                                            session=await _shared_session())
    except ValueError as exc:  # e.g. a quorum larger than the circle
        raise ToolError(str(exc)) from None
    if not result.ok:
        raise ToolError(f"consult failed ({result.error_kind}): {result.error}")
    return result.to_dict()
