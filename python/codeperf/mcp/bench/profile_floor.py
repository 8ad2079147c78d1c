"""Where the SDK's time goes on the protocol floor: cProfile of client and server.

    python -m codeperf.mcp.bench.profile_floor --out reports/latest/mcp_profile

Runs N no-op calls (C in flight) over stdio with the client under cProfile and
the bundled utility server under `python -m cProfile`, then writes each side's
top functions by cumulative and by own time (`client.txt`, `server.txt`) and
the raw `.prof` files (open with snakeviz or pstats). cProfile slows Python
code down, so the split matters here, not the absolute times.
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys
from pathlib import Path

import click
from mcp import Client, StdioServerParameters

from codeperf.mcp.bench.calls import run_calls
from codeperf.mcp.bench.launch import PASS_ENV


async def _drive(server_prof: Path, total: int, concurrency: int, client_prof: Path) -> float:
    import os

    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "cProfile", "-o", str(server_prof), "-m", "codeperf.mcp.utility", "--transport", "stdio"],
        env={k: os.environ[k] for k in PASS_ENV if k in os.environ})
    async with Client(params, cache=None) as client:
        await run_calls(client, [("noop", {})], total=50, concurrency=1, timeout_s=30)
        profiler = cProfile.Profile()
        profiler.enable()
        stats = await run_calls(client, [("noop", {})], total=total, concurrency=concurrency, timeout_s=30)
        profiler.disable()
        profiler.dump_stats(client_prof)
    return stats.wall_s


def _top(path: Path, limit: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out).strip_dirs()
    out.write("== by cumulative time ==\n")
    stats.sort_stats("cumulative").print_stats(limit)
    out.write("\n== by own time ==\n")
    stats.sort_stats("tottime").print_stats(limit)
    return out.getvalue()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports/latest/mcp_profile"), show_default=True)
@click.option("--calls", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--concurrency", type=click.IntRange(1), default=10, show_default=True)
@click.option("--top", "limit", type=click.IntRange(5), default=30, show_default=True)
def main(out_dir: Path, calls: int, concurrency: int, limit: int) -> None:
    """Profile the SDK client and server on N no-op calls over stdio."""
    out_dir.mkdir(parents=True, exist_ok=True)
    server_prof, client_prof = out_dir / "server.prof", out_dir / "client.prof"
    wall = asyncio.run(_drive(server_prof, calls, concurrency, client_prof))
    (out_dir / "client.txt").write_text(_top(client_prof, limit))
    if server_prof.exists():
        (out_dir / "server.txt").write_text(_top(server_prof, limit))
    click.echo(f"{calls} calls, {concurrency} in flight, {wall:.3f} s under the profiler; "
               f"see {out_dir}/client.txt and server.txt", err=True)


if __name__ == "__main__":
    main()
