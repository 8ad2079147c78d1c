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
from pathlib import Path

import click

from codeperf.harness import exitcodes
from codeperf.harness.contract import run_script
from codeperf.load.suite import run_suite
from codeperf.harness.run_dir import DEFAULT_OUT_HELP, script_out_dir


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


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               epilog=exitcodes.EPILOG)
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              help="scenario to run (repeatable); default: all registered. "
                   "`--list` shows them.")
@click.option("--experts", "experts_file", type=click.Path(dir_okay=False, path_type=Path),
              help="experts TOML file; default: the bundled simulator circle "
                   "(python/codeperf/experts/default_experts.toml)")
@click.option("--expert", "expert_urls", multiple=True, metavar="URL[#MODEL]",
              help="an OpenAI-compatible endpoint for the circle, instead of --experts (repeatable), "
                   "e.g. http://127.0.0.1:8000/v1#llama3; without #MODEL the first model of "
                   "GET URL/models is used (none listed: exit 2)")
@click.option("--api-key-env", default="", metavar="VAR",
              help="environment variable holding the API key of the --expert endpoints "
                   "(its value is never written)")
@click.option("--quick", is_flag=True, help="short runs (seconds per scenario) for pull requests")
@click.option("--out", "out_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path), help=DEFAULT_OUT_HELP)
@click.option("--allow-remote", is_flag=True,
              help="allow experts outside 127.0.0.0/8 and ::1 (never by accident)")
@click.option("-o", "--option", "options", multiple=True, type=KeyValue(),
              help="scenario size override, e.g. -o rate_rps=80 -o duration_s=30; each "
                   "scenario declares its keys and types (`--list` shows them); an unknown "
                   "key or a bad value is a usage error (exit 2)")
@click.option("--slo", "slo", multiple=True, metavar="BOUND=MS",
              help="a query's SLO bound (repeatable): ttft_ms, itl_ms, tpot_ms or e2e_ms, e.g. "
                   "--slo ttft_ms=500 --slo e2e_ms=2000; overrides the experts file's [slo]. "
                   "Goodput counts the queries meeting every bound.")
@click.option("--calibration/--no-calibration", default=True, show_default=True,
              help="run the generator's calibration checks first (validity section)")
@click.option("--list", "list_only", is_flag=True, help="list the registered scenarios and exit")
def main(scenarios, experts_file, expert_urls, api_key_env, quick, out_dir, allow_remote, options,
         slo, calibration, list_only):
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
        raise SystemExit(exitcodes.OK)
    out_dir = script_out_dir(out_dir, "load_scenarios")
    raise SystemExit(run_script("load", out_dir, lambda: run_suite(
        out_dir, scenarios, experts_file=experts_file, quick=quick, allow_remote=allow_remote,
        options=dict(options), calibrate=calibration, expert_urls=expert_urls,
        api_key_env=api_key_env, slo=slo)))


if __name__ == "__main__":
    main()
