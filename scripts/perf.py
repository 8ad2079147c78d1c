#!/usr/bin/env python3
"""Run every suite on its embedded defaults into reports/<run-id>/, then the combined report (`make perf`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codeperf.harness import exitcodes
from codeperf.harness.suites import SUITES
from codeperf.harness.run_dir import LatestLinkError
from codeperf.report.compare import DEFAULT_NOISE_PCT
from codeperf.perf_run import run_perf

HERE = Path(__file__).resolve().parent
EPILOG = ("Exit codes: 0 every suite ran and every target passed; 1 a suite failed, crashed, "
          "timed out or is missing, a target failed, or (with --fail-on-regression) a metric "
          "regressed - the report is written first in every case; 2 usage error, or "
          "--fail-on-regression with a missing, unreadable or empty baseline; 130 "
          "interrupted (the report of what ran is still written).")


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
               epilog=EPILOG)
@click.option("--quick", is_flag=True,
              help="Each suite's --quick mode (pull requests); the report without charts.")
@click.option("--baseline", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="A previous run directory to compare with.")
@click.option("--fail-on-regression", is_flag=True,
              help="Also exit 1 on a significant regression against --baseline.")
@click.option("--reports", "reports_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("reports"), help="Parent of the run directory and of the `latest` link.")
@click.option("--scripts", "scripts_dir", type=click.Path(file_okay=False, path_type=Path),
              default=HERE, show_default="this script's directory",
              help="Where the suite scripts live.")
@click.option("--suite", "suites", type=click.Choice(SUITES), multiple=True,
              help="Run only these suites (repeatable) [default: all].")
@click.option("--suite-timeout", type=click.FloatRange(min=1), default=None,
              help="Seconds before a suite is stopped [default: 1800, 600 with --quick].")
@click.option("--noise-pct", type=click.FloatRange(min=0), default=DEFAULT_NOISE_PCT,
              help="Baseline changes smaller than this (percent) count as unchanged.")
def main(quick: bool, baseline: Path | None, fail_on_regression: bool, reports_dir: Path,
         scripts_dir: Path, suites: tuple[str, ...], suite_timeout: float | None,
         noise_pct: float) -> None:
    """Run the whole performance suite and write one report.

    Suites run one after another (bench_rust, load, memory, mcp), each even if
    an earlier one failed, all sharing one run id (CODEPERF_RUN_ID). Output:
    reports/<run-id>/ with each suite's envelope and log, run.json, report.md,
    report.html, summary.json and charts; reports/latest points at it.
    """
    if fail_on_regression and baseline is None:
        raise click.UsageError("--fail-on-regression needs --baseline")
    timeout = suite_timeout if suite_timeout is not None else (600.0 if quick else 1800.0)
    try:
        result = run_perf(reports_dir, scripts_dir, quick=quick, baseline=baseline,
                          fail_on_regression=fail_on_regression, suites=suites or SUITES,
                          timeout_s=timeout, noise_pct=noise_pct,
                          # Quick runs (the pull-request gate) skip the charts: matplotlib took
                          # 6.7 s of CPU (13 s wall, loaded) of the 3-minute budget; `make report`
                          # draws them afterwards.
                          charts=not quick)
    except LatestLinkError as exc:
        click.echo(f"perf: {exc}", err=True)
        sys.exit(exitcodes.USAGE)
    sys.exit(result.exit_code if result.exit_code in (exitcodes.OK, exitcodes.FAILED, exitcodes.USAGE,
                                                      exitcodes.INTERRUPTED) else exitcodes.FAILED)


if __name__ == "__main__":
    main()
