"""The MCP benchmark library behind `scripts/mcp_bench.py`.

serverconfig servers from MCP client configs (Claude Desktop/Cursor, VS Code); secrets
launch    start/connect servers (stdio command, bundled HTTP, any URL), find their pid
procstats sample a server process's CPU, RSS and I/O off the event loop
argsgen   tool arguments from an arguments file (--args) or from a tool's inputSchema
argsfile  --write-args: the commented TOML arguments template
argshint  the hint (and fix commands) when a server rejects generated arguments
calls     timed tool calls, error kinds, per-tool statistics, concurrency
floor     the protocol floor: SDK no-op vs raw JSON-RPC on the same pipe
runner    one whole benchmark run -> result entries, metrics, errors
table     the human summary on stderr
"""
