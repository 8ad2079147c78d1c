#!/usr/bin/env python3
"""Run every suite into one run directory, then the combined report (`make perf`)."""

from __future__ import annotations

from pathlib import Path

import click

from codeperf import cli
from codeperf.deployment import Deployment, DeploymentError
from codeperf.harness import exitcodes
from codeperf.harness.run_dir import LATEST, REPORTS_DIR, LatestLinkError, resolve_out
from codeperf.harness.suites import SUITES
from codeperf.perf_run import run_perf
from codeperf.report.compare import DEFAULT_NOISE_PCT

HERE = Path(__file__).resolve().parent
EPILOG = ("Exit codes: 0 every suite ran and every target passed; 1 a suite failed, crashed, "
          "timed out or is missing, a target failed, or (with --fail-on-regression) a metric "
          "regressed - the report is written first in every case; 2 usage error, an unusable "
          "--expert URL or remote target without --allow-remote, or --fail-on-regression with "
          "a missing, unreadable or empty baseline (checked before running) or one that lacks a "
          "suite this run has (after the report); 130 interrupted (the report of what ran is "
          "still written).")


@cli.command(epilog=EPILOG)
@cli.quick_option("Each suite's --quick mode (pull requests); the report without charts.")
@cli.out_option("The run directory: every suite's envelope and log, the report. "
                "[default: a new reports/<run-id>, linked from reports/latest]")
@cli.deprecated_alias("--reports", "out_dir", "--out DIR/latest", convert=lambda p: p / LATEST,
                      type=click.Path(file_okay=False, path_type=Path))
@cli.experts_option("Experts TOML (your OpenAI-compatible endpoints) for every suite that "
                    "queries experts: load, memory, MCP `consult`. [default: the bundled "
                    "simulator circle]")
@cli.expert_url_option("An OpenAI-compatible endpoint for the circle, instead of --experts "
                       "(repeatable), e.g. http://127.0.0.1:8000/v1#llama3; without #MODEL the "
                       "first model of GET URL/models is used (none listed: exit 2).")
@cli.api_key_env_option()
@cli.mcp_config_option("--mcp-config")
@cli.allow_remote_option("Allow experts and MCP URLs outside 127.0.0.0/8 and ::1 (never by "
                         "accident).")
@cli.baseline_option()
@click.option("--fail-on-regression", is_flag=True,
              help="Also exit 1 on a significant regression against --baseline.")
@click.option("--scripts", "scripts_dir", type=click.Path(file_okay=False, path_type=Path),
              default=HERE, show_default="this script's directory", metavar="DIR",
              help="Where the suite scripts live.")
@click.option("--suite", "suites", type=click.Choice(SUITES), multiple=True,
              help="Run only these suites (repeatable). [default: all]")
@click.option("--suite-timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds before a suite is stopped. [default: 1800, 600 with --quick]")
@click.option("--noise-pct", type=click.FloatRange(min=0), default=DEFAULT_NOISE_PCT,
              help="Baseline changes smaller than this (percent) count as unchanged.")
def main(quick: bool, out_dir: Path | None, experts_file: Path | None,
         expert_urls: tuple[str, ...], api_key_env: str, config_files: tuple[Path, ...],
         allow_remote: bool, baseline: Path | None, fail_on_regression: bool, scripts_dir: Path,
         suites: tuple[str, ...], suite_timeout: float | None, noise_pct: float) -> None:
    """Run the whole performance suite and write one report.

    Suites run one after another (bench_rust, load, memory, mcp), each even if
    an earlier one failed, all sharing one run id (CODEPERF_RUN_ID). Output:
    the run directory with each suite's envelope and log, run.json, report.md,
    report.html, summary.json and charts.

    Without --experts/--expert/--mcp-config every suite measures its embedded
    defaults (the expert simulator, the bundled MCP servers). With them, the
    same run measures your deployment, and the report's header lists the
    systems under test (names and URLs, never keys).

    \b
    Examples:
      perf.py --quick
      perf.py --experts my_experts.toml --mcp-config claude_desktop_config.json
      perf.py --expert http://127.0.0.1:11434/v1#llama3.2 --suite load --suite memory
    """
    if fail_on_regression and baseline is None:
        raise click.UsageError("--fail-on-regression needs --baseline")
    if expert_urls and experts_file is not None:
        raise click.UsageError("--experts FILE and --expert URL are alternatives; give one")
    timeout = suite_timeout if suite_timeout is not None else (600.0 if quick else 1800.0)
    deployment = Deployment(experts_file=experts_file, expert_urls=expert_urls,
                            api_key_env=api_key_env, mcp_configs=config_files,
                            allow_remote=allow_remote)
    try:
        if out_dir is None:
            parent, run_dir = REPORTS_DIR, None
        elif out_dir.name == LATEST and not out_dir.is_symlink():
            # No run to add to yet: a new run under its parent, linked as `latest` (run_perf
            # refuses a `latest` that is a plain directory, before any suite runs).
            parent, run_dir = out_dir.parent, None
        else:  # as every suite's --out: DIR itself (reports/latest: the run it points at)
            run_dir = resolve_out(out_dir)
            parent = run_dir.parent
        result = run_perf(parent, scripts_dir, quick=quick, baseline=baseline,
                          fail_on_regression=fail_on_regression, suites=suites or SUITES,
                          timeout_s=timeout, noise_pct=noise_pct, deployment=deployment,
                          run_dir=run_dir,
                          # Quick runs (the pull-request gate) skip the charts: matplotlib took
                          # 6.7 s of CPU (13 s wall, loaded) of the 3-minute budget; `make report`
                          # draws them afterwards.
                          charts=not quick)
    except (LatestLinkError, DeploymentError) as exc:
        cli.setup_error(f"perf: {exc}")
    cli.exit_with(result.exit_code)


if __name__ == "__main__":
    main()
