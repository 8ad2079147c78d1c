"""Bundled MCP servers and the MCP benchmark (official `mcp` SDK, version 2).

Each bundled server is a module runnable over stdio or streamable HTTP:

    python -m codeperf.mcp.files   --root DIR --transport stdio|http [--port N]
    python -m codeperf.mcp.experts --transport stdio|http [--port N]
    python -m codeperf.mcp.system  --transport stdio|http [--port N]
    python -m codeperf.mcp.utility --transport stdio|http [--port N]

`codeperf.mcp.rawfloor` is the SDK-free JSON-RPC peer the benchmark uses as the
protocol floor; `codeperf.mcp.bench` is the benchmark library behind
`scripts/mcp_bench.py`; `codeperf.load.mcp_scenarios` registers the `mcp-calls` and
`mixed` load scenarios.
"""

# Server name -> module; the benchmark launches these by default.
BUNDLED_SERVERS = {
    "files": "codeperf.mcp.files",
    "experts": "codeperf.mcp.experts",
    "system": "codeperf.mcp.system",
    "utility": "codeperf.mcp.utility",
}
