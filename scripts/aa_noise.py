#!/usr/bin/env python3
"""Measure the noise floor of wall-clock metrics from A/A runs (the same build, run again).

Reads two or more run directories of unchanged code (e.g. three `make perf-quick`
runs in a row) and writes, per mode, suite, result id and metric, the largest
relative spread between them to python/codeperf/report/aa_noise.json, merged with
what it holds (a metric keeps its largest spread). The baseline comparison uses
1.5x that spread as the metric's noise floor (docs/report.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from codeperf import cli
from codeperf.harness.envelope import write_json_atomic
from codeperf.report.loading import load_run
from codeperf.report.noise import AA_NOISE_PATH, measure, merge


@cli.command(epilog="Exit codes: 0 written; 2 usage error (fewer than two runs, or a run "
                    "with no readable envelope).")
@click.argument("runs", nargs=-1, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--floors", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=AA_NOISE_PATH, show_default="python/codeperf/report/aa_noise.json",
              metavar="FILE", help="Floors file to update (a file the report reads, not a run "
                                   "directory: hence not --out).")
@cli.deprecated_alias("--out", "out", "--floors", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Replace the file instead of merging into it.")
def main(runs: tuple[Path, ...], out: Path, replace: bool) -> None:
    """Noise floors from RUNS (two or more run directories of the same build)."""
    if len(runs) < 2:
        raise click.UsageError("give at least two run directories of the same build")
    loaded = []
    for directory in runs:
        run = load_run(directory)
        envelopes = {d.suite: d.envelope for d in run.present}
        if not envelopes:
            cli.setup_error(f"{directory}: no readable suite envelope")
        loaded.append(envelopes)
    new = measure(loaded)
    if not replace and out.exists():
        new = merge(json.loads(out.read_text(encoding="utf-8")), new)
    write_json_atomic(out, new)
    metrics = sum(len(m) for suites in new["spreads"].values() for ids in suites.values()
                  for m in ids.values())
    click.echo(f"{out}: {metrics} metric floors from {new['runs']} runs", err=True)


if __name__ == "__main__":
    main()
