"""The system MCP server: CPU, memory, disk and process figures via psutil.

What a monitoring server returns. Every reading is non-blocking: CPU percent
is measured since the previous call (psutil's `interval=None`), never by
sleeping inside the request.
"""

from __future__ import annotations

import os
from typing import Any, Literal

import click
import psutil
from mcp.server.mcpserver.exceptions import ToolError

from codeperf.mcp import serve


def build() -> serve.MCPServer:
    server = serve.new_server("codeperf-system", "Host figures: CPU, memory, disk, processes.")
    psutil.cpu_percent(interval=None)  # prime the counters so the first call has a baseline

    @server.tool()
    def cpu() -> dict[str, Any]:
        """CPU use since the previous call, per core and overall, core counts and load average."""
        return {"percent": psutil.cpu_percent(interval=None),
                "per_cpu_percent": psutil.cpu_percent(interval=None, percpu=True),
                "logical_cores": psutil.cpu_count(logical=True),
                "physical_cores": psutil.cpu_count(logical=False),
                "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}

    @server.tool()
    def memory() -> dict[str, Any]:
        """Virtual memory and swap, in bytes."""
        vm, swap = psutil.virtual_memory(), psutil.swap_memory()
        return {"total_bytes": vm.total, "available_bytes": vm.available, "used_bytes": vm.used,
                "percent": vm.percent, "swap_total_bytes": swap.total, "swap_used_bytes": swap.used}

    @server.tool()
    def disk(path: str = "/") -> dict[str, Any]:
        """Usage of the filesystem holding `path`, and the machine's disk I/O counters."""
        try:
            usage = psutil.disk_usage(path)
        except OSError as exc:
            raise ToolError(f"cannot read disk usage of {path!r}: {exc.strerror}") from None
        io = psutil.disk_io_counters()
        return {"total_bytes": usage.total, "used_bytes": usage.used, "free_bytes": usage.free,
                "percent": usage.percent,
                "read_bytes": io.read_bytes if io else None, "write_bytes": io.write_bytes if io else None}

    @server.tool()
    def processes(limit: int = 10, sort_by: Literal["memory", "cpu_time"] = "memory"
                  ) -> list[dict[str, Any]]:
        """The top `limit` processes by resident memory or by CPU time used so far."""
        if not 1 <= limit <= 1000:
            raise ToolError("limit must be within 1..1000")
        rows = []
        for proc in psutil.process_iter(["pid", "name", "memory_info", "cpu_times"]):
            info = proc.info
            if info["memory_info"] is None or info["cpu_times"] is None:
                continue  # vanished or not ours to read
            rows.append({"pid": info["pid"], "name": info["name"],
                         "rss_bytes": info["memory_info"].rss,
                         "cpu_time_s": info["cpu_times"].user + info["cpu_times"].system})
        key = "rss_bytes" if sort_by == "memory" else "cpu_time_s"
        return sorted(rows, key=lambda r: r[key], reverse=True)[:limit]

    return server


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@serve.transport_options
def main(transport: str, host: str, port: int,
         stdio_transport: str) -> None:
    """Run the codeperf system MCP server (psutil figures)."""
    serve.run(build(), transport, host, port, stdio_transport)


if __name__ == "__main__":
    main()
