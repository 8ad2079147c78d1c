#!/usr/bin/env python3
"""Benchmark MCP servers through the real protocol (stdio or streamable HTTP).

Thin click front end; the logic is in codeperf.mcp.bench.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import click

from codeperf.experts.config import DEFAULT_EXPERTS_FILE
from codeperf.harness import exitcodes
from codeperf.harness.run_dir import OUT_DEFAULT_NOTE, script_out_dir
from codeperf.mcp import BUNDLED_SERVERS
from codeperf.mcp.bench import launch, runner
from codeperf.mcp.bench.argsgen import ScenarioFileError
from codeperf.mcp.bench.suite import run_suite

_LABEL = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.+)$")


class IntList(click.ParamType):
    name = "N,N,..."

    def convert(self, value, param, ctx):  # type: ignore[no-untyped-def]
        if isinstance(value, tuple):
            return value
        try:
            levels = tuple(int(v) for v in str(value).split(",") if v.strip())
        except ValueError:
            self.fail(f"{value!r} is not a comma-separated list of integers", param, ctx)
        if not levels or min(levels) < 1:
            self.fail("levels must be positive integers", param, ctx)
        return levels


def _labelled(value: str, default: str) -> tuple[str, str]:
    match = _LABEL.match(value)
    return (match.group(1), match.group(2)) if match else (default, value)


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=exitcodes.EPILOG)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Directory for mcp.json and server logs " + OUT_DEFAULT_NOTE)
@click.option("--quick", is_flag=True, help="Small counts for pull requests (seconds per server).")
@click.option("--server", "servers", multiple=True, metavar="'[NAME=]COMMAND ARGS'",
              help="A stdio MCP server to launch (repeatable). Replaces the bundled servers "
                   "unless --bundled is given.")
@click.option("--url", "urls", multiple=True, metavar="[NAME=]URL",
              help="A streamable HTTP MCP endpoint, e.g. http://127.0.0.1:8000/mcp (repeatable). "
                   "Outside 127.0.0.0/8 and ::1 it needs --allow-remote.")
@click.option("--allow-remote", is_flag=True,
              help="Allow --url targets (and experts for `consult`) outside loopback (never by accident).")
@click.option("--bundled", "bundled_names", multiple=True, type=click.Choice(sorted(BUNDLED_SERVERS)),
              help="Bundled servers to run (repeatable; default: all, unless --server/--url).")
@click.option("--transport", "bundled_transport", type=click.Choice(["stdio", "http", "both"]),
              default="both", show_default=True, help="Transport(s) for the bundled servers.")
@click.option("--scenario", "scenario_files", multiple=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON/TOML file: tool (or LABEL.tool) -> list of argument objects (repeatable).")
@click.option("--tool", "include", multiple=True, metavar="GLOB", help="Only tools matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip tools matching (repeatable).")
@click.option("--calls", type=click.IntRange(1), default=None, help="Calls per tool [default: 100; quick 10].")
@click.option("--concurrency", type=IntList(), default=None,
              help="Concurrency sweep levels [default: 1,5,10,20,50; quick 1,20].")
@click.option("--handled-calls", type=click.IntRange(0), default=1000, show_default=True,
              help="Calls of the handled run (the '1000+ calls handled' target), split over the servers "
                   "under test; only its successes count. 0 skips it.")
@click.option("--handled-concurrency", type=click.IntRange(1), default=10, show_default=True,
              help="Calls in flight per server in the handled run.")
@click.option("--timeout", "call_timeout", type=click.FloatRange(0.05), default=10.0, show_default=True,
              help="Seconds before a call counts as a timeout.")
@click.option("--floor/--no-floor", default=True, show_default=True,
              help="Measure the protocol floor (SDK vs raw JSON-RPC no-op, 1000 calls, 10 in flight).")
@click.option("--experts", "experts_file", type=click.Path(exists=True, dir_okay=False),
              default=str(DEFAULT_EXPERTS_FILE), show_default="the bundled simulator circle",
              help="Experts TOML for the experts server's `consult` tool; experts on the bundled "
                   "simulator get one started for the run.")
@click.option("--no-consult", is_flag=True, help="Skip the experts server's `consult` tool.")
def main(out_dir: Path, quick: bool, servers: tuple[str, ...], urls: tuple[str, ...],
         bundled_names: tuple[str, ...], bundled_transport: str, scenario_files: tuple[Path, ...],
         include: tuple[str, ...], exclude: tuple[str, ...], calls: int | None,
         concurrency: tuple[int, ...] | None, call_timeout: float, floor: bool,
         experts_file: str | None, no_consult: bool, allow_remote: bool, handled_calls: int,
         handled_concurrency: int) -> None:
    """Benchmark MCP servers: session set-up, tools/list, every tool's latency and errors,
    a run of 1000 calls over the servers under test, a concurrency sweep, server CPU/RSS/I/O
    per call, payload sizes, bottlenecks, and the protocol floor (what the SDK costs over
    raw JSON-RPC). Writes OUT/mcp.json; a table
    goes to stderr.

    \b
    Examples:
      mcp_bench.py --quick
      mcp_bench.py --server 'npx -y @modelcontextprotocol/server-everything' --scenario args.toml
      mcp_bench.py --url mine=http://127.0.0.1:8000/mcp --tool 'search_*'
    """
    extra = []
    try:
        for i, command in enumerate(servers):
            label, command = _labelled(command, f"server{i + 1}")
            extra.append(launch.stdio_spec(label, command))
        for i, url in enumerate(urls):
            label, url = _labelled(url, f"url{i + 1}")
            extra.append(launch.url_spec(label, url))
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    bundled = bundled_names or (() if extra else tuple(BUNDLED_SERVERS))
    if no_consult:
        experts_file = None
    transports = ("stdio", "http") if bundled_transport == "both" else (bundled_transport,)
    overrides: dict[str, Any] = {"call_timeout_s": call_timeout, "floor": floor, "include": include, "exclude": exclude,
                 "handled_calls": handled_calls, "handled_concurrency": handled_concurrency}
    if calls is not None:
        overrides["calls_per_tool"] = calls
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    config = runner.BenchConfig.quick(**overrides) if quick else runner.BenchConfig(**overrides)
    try:
        out_dir = script_out_dir(out_dir, "mcp_bench")
        code = run_suite(out_dir, bundled=bundled, bundled_transports=transports, extra_specs=extra,
                         scenario_files=scenario_files, config=config, experts_file=experts_file,
                         quick=quick, allow_remote=allow_remote, cli_config={"argv": sys.argv[1:]})
    except ScenarioFileError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exitcodes.USAGE)
    sys.exit(code)


if __name__ == "__main__":
    main()
