#!/usr/bin/env python3
"""Benchmark MCP servers through the real protocol (stdio or streamable HTTP).

Thin click front end; the logic is in codeperf.mcp.bench.
"""

from __future__ import annotations

# First, before the heavy imports: a SIGTERM while importing still leaves a partial
# envelope and exit 130 (the suite contract, codeperf.harness.contract).
from codeperf.harness.contract import trap_startup_signals  # noqa: E402

if __name__ == "__main__":  # run as a script, not imported by a test
    trap_startup_signals("mcp")

import re
import sys
from pathlib import Path
from typing import Any

import click

from codeperf import cli
from codeperf.experts.config import DEFAULT_EXPERTS_FILE
from codeperf.harness.contract import SetupError, run_script
from codeperf.harness.run_dir import OUT_DEFAULT_NOTE, script_out_dir
from codeperf.mcp import BUNDLED_SERVERS
from codeperf.mcp.bench import launch, runner, serverconfig
from codeperf.mcp.bench.argsgen import ScenarioFileError
from codeperf.mcp.bench.suite import run_suite, write_args

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


@cli.command()
@cli.out_option("Directory for mcp.json and server logs. " + OUT_DEFAULT_NOTE)
@cli.quick_option("Small counts for pull requests (seconds per server).")
@click.option("--server", "servers", multiple=True, metavar="'[NAME=]COMMAND ARGS'",
              help="A stdio MCP server to launch (repeatable). Replaces the bundled servers "
                   "unless --bundled is given.")
@click.option("--url", "urls", multiple=True, metavar="[NAME=]URL",
              help="A streamable HTTP MCP endpoint, e.g. http://127.0.0.1:8000/mcp (repeatable). "
                   "Outside 127.0.0.0/8 and ::1 it needs --allow-remote.")
@cli.allow_remote_option("Allow --url targets (and experts for `consult`) outside loopback "
                         "(never by accident).")
@click.option("--bundled", "bundled_names", multiple=True, type=click.Choice(sorted(BUNDLED_SERVERS)),
              help="Bundled servers to run (repeatable; default: all, unless --server/--url).")
@click.option("--transport", "bundled_transport", type=click.Choice(["stdio", "http", "both"]),
              default=None, help="Transport(s) for the bundled servers. [default: both; "
              "--quick: stdio (the protocol floor still measures HTTP)]")
@cli.mcp_config_option()
@click.option("--only", "only_names", multiple=True, metavar="NAME",
              help="Only these servers of the --config files (repeatable; also runs a disabled one).")
@click.option("--args", "args_files", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Arguments file, JSON/TOML: tool (or LABEL.tool) -> list of argument objects "
                   "(repeatable). Tools without an entry get arguments generated from their schema.")
@cli.deprecated_alias("--scenario", "args_files", "--args FILE", multiple=True,
                      type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--write-args", "write_args_file", metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Write a commented TOML arguments template for every tool of the servers "
                   "(generated values to edit) to this file and exit; no tool is called.")
@click.option("--tool", "include", multiple=True, metavar="GLOB", help="Only tools matching (repeatable).")
@click.option("--exclude", multiple=True, metavar="GLOB", help="Skip tools matching (repeatable).")
@click.option("--calls", type=click.IntRange(1), default=None, help="Calls per tool [default: 100; quick 10].")
@click.option("--concurrency", type=IntList(), default=None,
              help="Concurrency sweep levels [default: 1,5,10,20,50; quick 1,20].")
@click.option("--handled-calls", type=click.IntRange(0), default=1000,
              help="Calls of the handled run (the '1000+ calls handled' target), split over the servers "
                   "under test; only its successes count. 0 skips it.")
@click.option("--handled-concurrency", type=click.IntRange(1), default=10,
              help="Calls in flight per server in the handled run.")
@click.option("--timeout", "call_timeout", type=click.FloatRange(0.05), default=10.0,
              help="Seconds before a call counts as a timeout.")
@click.option("--floor/--no-floor", default=True,
              help="Measure the protocol floor (SDK vs raw JSON-RPC no-op, 1000 calls, 10 in flight).")
@cli.experts_option("Experts TOML for the experts server's `consult` tool; experts on the "
                    "bundled simulator get one started for the run.",
                    default=DEFAULT_EXPERTS_FILE, show_default="the bundled simulator circle")
@click.option("--no-consult", is_flag=True, help="Skip the experts server's `consult` tool.")
def main(out_dir: Path, quick: bool, servers: tuple[str, ...], urls: tuple[str, ...],
         config_files: tuple[Path, ...], only_names: tuple[str, ...], args_files: tuple[Path, ...],
         write_args_file: Path | None,
         bundled_names: tuple[str, ...], bundled_transport: str,
         include: tuple[str, ...], exclude: tuple[str, ...], calls: int | None,
         concurrency: tuple[int, ...] | None, call_timeout: float, floor: bool,
         experts_file: Path | None, no_consult: bool, allow_remote: bool, handled_calls: int,
         handled_concurrency: int) -> None:
    """Benchmark MCP servers: session set-up, tools/list, every tool's latency and errors,
    a run of 1000 calls over the servers under test, a concurrency sweep, server CPU/RSS/I/O
    per call, payload sizes, bottlenecks, and the protocol floor (what the SDK costs over
    raw JSON-RPC). Writes OUT/mcp.json; a table
    goes to stderr.

    \b
    Examples:
      mcp_bench.py --quick
      mcp_bench.py --server 'npx -y @modelcontextprotocol/server-everything' --args args.toml
      mcp_bench.py --url mine=http://127.0.0.1:8000/mcp --tool 'search_*'
      mcp_bench.py --config claude_desktop_config.json --only filesystem
      mcp_bench.py --config .vscode/mcp.json --write-args mcp_args.toml
    """
    if only_names and not config_files:
        raise click.UsageError("--only picks servers of --config files; no --config given")
    extra = []
    cli_config: dict[str, Any] = {"argv": sys.argv[1:]}
    try:
        configured = serverconfig.load_all(config_files, only_names)
    except serverconfig.ConfigError as exc:
        cli.setup_error(str(exc))
    if configured:
        # Names of env variables and headers only: their values are secrets.
        cli_config["config_servers"] = [c.describe() for c in configured]
        extra += [c.spec for c in configured]
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
    consult_experts = None if no_consult or experts_file is None else str(experts_file)
    # Quick mode (the pull-request gate, 3 minutes for four suites) benchmarks each bundled
    # server once, over stdio: the HTTP servers doubled its server count (~3.5 s each).
    bundled_transport = bundled_transport or ("stdio" if quick else "both")
    transports = ("stdio", "http") if bundled_transport == "both" else (bundled_transport,)
    if write_args_file is not None:
        # Nothing is measured: server logs go beside the template, not into a run directory.
        log_dir = (out_dir or write_args_file.parent) / "mcp_logs"
        cli.exit_with(write_args(write_args_file, bundled=bundled, bundled_transports=transports,
                                 extra_specs=extra, experts_file=consult_experts,
                                 allow_remote=allow_remote, argv=sys.argv[1:], log_dir=log_dir,
                                 timeout_s=call_timeout))
    overrides: dict[str, Any] = {"call_timeout_s": call_timeout, "floor": floor, "include": include, "exclude": exclude,
                 "handled_calls": handled_calls, "handled_concurrency": handled_concurrency}
    if calls is not None:
        overrides["calls_per_tool"] = calls
    if concurrency is not None:
        overrides["concurrency"] = concurrency
    config = runner.McpBenchConfig.quick(**overrides) if quick else runner.McpBenchConfig.full(**overrides)
    out_dir = script_out_dir(out_dir, "mcp_bench")
    def body() -> int:
        try:
            return run_suite(out_dir, bundled=bundled, bundled_transports=transports,
                             extra_specs=extra, scenario_files=args_files, config=config,
                             experts_file=consult_experts, quick=quick, allow_remote=allow_remote,
                             cli_config=cli_config)
        except ScenarioFileError as exc:
            raise SetupError(str(exc)) from None

    cli.exit_with(run_script("mcp", out_dir, body))


if __name__ == "__main__":
    main()
