"""The MCP benchmark library behind `scripts/mcp_bench.py`.

launch    start/connect servers (stdio command, bundled HTTP, any URL), find their pid
procstats sample a server process's CPU, RSS and I/O off the event loop
argsgen   tool arguments from a scenario file or from a tool's inputSchema
calls     timed tool calls, error kinds, per-tool statistics, concurrency
floor     the protocol floor: SDK no-op vs raw JSON-RPC on the same pipe
runner    one whole benchmark run -> result entries, metrics, errors
table     the human summary on stderr
"""
