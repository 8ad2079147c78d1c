#!/usr/bin/env python3
"""Circle of Experts under load: the seed's load scenarios against real HTTP endpoints.

Writes <out>/load.json (the result envelope); progress and a summary go to stderr.
The logic lives in codeperf.load.suite and the scenario registry.
"""

from __future__ import annotations

# First, before the heavy imports: a SIGTERM while importing still leaves a partial
# envelope and exit 130 (the suite contract, codeperf.harness.contract).
from codeperf.harness.contract import trap_startup_signals  # noqa: E402

if __name__ == "__main__":  # run as a script, not imported by a test
    trap_startup_signals("load")

import json

import click

from codeperf import cli
from codeperf.harness import exitcodes
from codeperf.harness.contract import run_script
from codeperf.harness.run_dir import script_out_dir
from codeperf.load.suite import run_suite


class KeyValue(click.ParamType):
    """KEY=VALUE, VALUE parsed as JSON when it is JSON (numbers, lists), else a string."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        key, sep, raw = value.partition("=")
        if not sep or not key:
            self.fail(f"{value!r} is not KEY=VALUE", param, ctx)
        try:
            return key, json.loads(raw)
        except json.JSONDecodeError:
            return key, raw


@cli.command()
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              help="Scenario to run (repeatable); `--list` shows them. [default: all registered]")
@cli.experts_option("Experts TOML file. [default: the bundled simulator circle "
                    "(python/codeperf/experts/default_experts.toml)]")
@cli.expert_url_option()
@cli.api_key_env_option()
@cli.quick_option("Short runs (seconds per scenario) for pull requests.")
@cli.out_option()
@cli.allow_remote_option()
@click.option("-o", "--option", "options", multiple=True, type=KeyValue(),
              help="Scenario size override, e.g. -o rate_rps=80 -o duration_s=30; each "
                   "scenario declares its keys and types (`--list` shows them); an unknown "
                   "key or a bad value is a usage error (exit 2).")
@click.option("--slo", "slo", multiple=True, metavar="BOUND=MS",
              help="A query's SLO bound (repeatable): ttft_ms, itl_ms, tpot_ms or e2e_ms, e.g. "
                   "--slo ttft_ms=500 --slo e2e_ms=2000; overrides the experts file's [slo]. "
                   "Goodput counts the queries meeting every bound.")
@click.option("--calibration/--no-calibration", default=True,
              help="Run the generator's calibration checks first (validity section).")
@click.option("--workers", type=click.IntRange(min=1), default=1,
              help="Load generators: N > 1 runs the sustained and burst scenarios on N Ray "
                   "async actors (the others in one loop); 1 starts no Ray (docs/load.md).")
@click.option("--ray-address", envvar="RAY_ADDRESS", default=None, metavar="ADDRESS",
              help="Join this Ray cluster (or $RAY_ADDRESS) and place the workers on its "
                   "nodes; each worker applies --allow-remote to the experts it reaches.")
@click.option("--simulator-processes", type=click.IntRange(min=1), default=None,
              help="Bundled simulator processes on one port (SO_REUSEPORT) for the scenarios "
                   "on workers. [default: as many as --workers]")
@click.option("--loop", type=click.Choice(["asyncio", "uvloop"]), default=None,
              help="The generator's event loop, here and on the workers. [default: asyncio "
                   "here, uvloop on Ray workers when installed]")
@click.option("--simulator-nice", type=click.IntRange(0, 19), default=None,
              help="Niceness of the bundled simulator processes: > 0 runs them below the "
                   "generators' priority where both share the cores. [default: 10 when the "
                   "load runs on workers, else 0; docs/load.md]")
@click.option("--list", "list_only", is_flag=True, help="List the registered scenarios and exit.")
def main(scenarios, experts_file, expert_urls, api_key_env, quick, out_dir, allow_remote, options,
         slo, calibration, workers, ray_address, simulator_processes, loop, simulator_nice,
         list_only):
    """Run the load scenarios and write OUT/load.json."""
    if list_only:
        from codeperf.load import registry

        problems = registry.load_registered()
        for name, spec in registry.registered().items():
            click.echo(f"{name:20s} {spec.description}")
        click.echo("\noptions (-o KEY=VALUE):")
        for line in registry.describe_options():
            click.echo(f"  {line}")
        for problem in problems:
            click.echo(f"(not loaded) {problem}", err=True)
        cli.exit_with(exitcodes.OK)
    out_dir = script_out_dir(out_dir, "load_scenarios")
    cli.exit_with(run_script("load", out_dir, lambda: run_suite(
        out_dir, scenarios, experts_file=experts_file, quick=quick, allow_remote=allow_remote,
        options=dict(options), calibrate=calibration, expert_urls=expert_urls,
        api_key_env=api_key_env, slo=slo, workers=workers, ray_address=ray_address,
        simulator_processes=simulator_processes, loop=loop, simulator_nice=simulator_nice)))


if __name__ == "__main__":
    main()
