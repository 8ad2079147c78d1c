"""A deliberately broken MCP server for the mcp_bench fault tests (stdio only).

    python tests/mcp_faulty_server.py --crash-after N   # exits hard on call N+1
    python tests/mcp_faulty_server.py --hang-after N    # blocks its event loop on call N+1
    python tests/mcp_faulty_server.py --slow-ms MS      # every call takes MS ms (for Ctrl-C tests)
    python tests/mcp_faulty_server.py --fail-all        # every call is an isError result
    python tests/mcp_faulty_server.py --fork-child      # starts a child that outlives the server

`--marker` is ignored by the server; tests put a unique word there to find
leftover processes by their command line.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from mcp.server.mcpserver import MCPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--crash-after", type=int, default=-1)
    parser.add_argument("--hang-after", type=int, default=-1)
    parser.add_argument("--slow-ms", type=float, default=0.0)
    parser.add_argument("--fail-all", action="store_true")
    parser.add_argument("--fork-child", action="store_true")
    parser.add_argument("--marker", default="")
    args = parser.parse_args()
    if args.fork_child:
        import subprocess

        # A worker in the server's process group that ignores stdin closing (the
        # grandchild a process-tree walk from the exited server cannot find).
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "--marker",
                          args.marker], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    server = MCPServer("faulty", log_level="WARNING")
    calls = 0

    @server.tool(structured_output=False)
    def work(n: int = 1) -> str:
        """Count calls; crash or hang when told to."""
        nonlocal calls
        calls += 1
        if args.crash_after >= 0 and calls > args.crash_after:
            print(f"faulty: crashing on call {calls}", file=sys.stderr, flush=True)
            os._exit(3)
        if args.hang_after >= 0 and calls > args.hang_after:
            print(f"faulty: hanging on call {calls}", file=sys.stderr, flush=True)
            time.sleep(3600)  # blocks the event loop: the process stops answering anything
        if args.fail_all:
            raise ValueError(f"faulty: failing call {calls} as told")
        if args.slow_ms:
            time.sleep(args.slow_ms / 1000.0)
        return str(calls)

    server.run("stdio")


if __name__ == "__main__":
    main()
