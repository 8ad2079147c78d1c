#!/usr/bin/env python3
"""Combine a run directory's suite envelopes into report.md, report.html, summary.json and charts."""

from __future__ import annotations

from pathlib import Path

import click

from codeperf import cli
from codeperf.harness import exitcodes
from codeperf.report import build_report
from codeperf.report.compare import DEFAULT_NOISE_PCT, BaselineUnusable

DEFAULT_RUN = Path("reports/latest")
EPILOG = ("Exit codes: 0 report written; 1 report written and --fail-on-regression found a "
          "significant regression; 2 usage error, or --fail-on-regression with a baseline that "
          "is missing, unreadable or empty, or that lacks (or cannot read) a suite this run has "
          "(the reason is printed; the report is written). Failed targets do not "
          "change the exit code here (`make perf` fails on them); they are in the report's "
          "verdict.")


@cli.command(epilog=EPILOG)
@cli.existing_dir_option("--out", "run_dir", show_default="reports/latest",
                         help="The run directory: reads its <suite>.json envelopes and writes "
                              "the report into it (as every suite's --out).")
@cli.deprecated_alias("--run", "run_dir", "--out",
                      type=click.Path(exists=True, file_okay=False, path_type=Path),
                      conflict_hint="--out now names the run directory (it was --run); the "
                                    "old `--run RUN --out DIR` is `--out RUN --report-dir DIR`")
@click.option("--report-dir", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, metavar="DIR",
              help="Write the report here instead. [default: the run directory]")
@cli.baseline_option()
@click.option("--fail-on-regression", is_flag=True,
              help="Exit 1 when a metric regressed significantly against --baseline.")
@click.option("--noise-pct", type=click.FloatRange(min=0), default=DEFAULT_NOISE_PCT,
              help="Noise floor (percent) of wall-clock metrics that have no A/A data in "
                   "python/codeperf/report/aa_noise.json; smaller changes count as unchanged.")
@click.option("--no-charts", is_flag=True, help="Skip the matplotlib charts.")
def main(run_dir: Path | None, report_dir: Path | None, baseline: Path | None, fail_on_regression: bool,
         noise_pct: float, no_charts: bool) -> None:
    """Aggregate one run's suite results into a single report.

    Reads every suite envelope in the run directory (a file that cannot be
    read is named in the report; the other suites are still reported),
    evaluates the verdict against every target in targets.toml, draws the
    charts and, with --baseline, classifies each metric as improved,
    regressed or unchanged.
    """
    if run_dir is None:  # not a click default: --run, its old name, must be able to fill it
        run_dir = DEFAULT_RUN
        if not run_dir.is_dir():
            cli.setup_error(f"{run_dir} does not exist: run `make perf` first, or give --out RUN")
    if fail_on_regression and baseline is None:
        raise click.UsageError("--fail-on-regression needs --baseline")
    try:
        report = build_report(run_dir, baseline_dir=baseline, out_dir=report_dir,
                              noise_pct=noise_pct, charts=not no_charts)
    except BaselineUnusable as exc:
        if fail_on_regression:  # a gate with nothing to compare with must not pass
            cli.setup_error(str(exc))
        click.echo(f"warning: {exc}; report written without a comparison", err=True)
        report = build_report(run_dir, out_dir=report_dir, noise_pct=noise_pct,
                              charts=not no_charts)
    for problem in report.problems:
        click.echo(f"error: {problem}", err=True)
    for error in report.chart_errors:
        click.echo(f"warning: {error}", err=True)
    rows = report.rows
    click.echo(f"verdict: {report.verdict.status.upper()} — targets "
               f"{sum(r.state == 'pass' for r in rows)} passed, "
               f"{sum(r.state == 'fail' for r in rows)} failed, "
               f"{sum(r.state == 'not run' for r in rows)} not run", err=True)
    if report.comparison is not None:
        regressions = report.comparison.regressions
        click.echo(f"baseline: {len(regressions)} significant regression(s)", err=True)
        for m in regressions:
            click.echo(f"  {m.suite} {m.id} {m.metric}: ratio {m.ratio:.3f} ({m.method})"
                       if m.ratio is not None else f"  {m.suite} {m.id} {m.metric}: {m.detail}",
                       err=True)
    click.echo(f"report: {report.markdown_path}", err=True)
    click.echo(f"        {report.html_path}", err=True)
    if fail_on_regression and report.comparison is not None and report.comparison.regressions:
        cli.exit_with(exitcodes.FAILED)
    if fail_on_regression and report.comparison is not None and report.comparison.uncompared:
        # A suite with nothing to compare with must not pass the gate unseen.
        cli.setup_error(f"baseline {baseline}: cannot compare "
                        + "; ".join(report.comparison.uncompared))


if __name__ == "__main__":
    main()
