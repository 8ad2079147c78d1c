#!/usr/bin/env python3
"""Check the regression gate end to end: A/A pairs must pass it, a seeded regression must fail it."""

from __future__ import annotations

import time
from pathlib import Path

import click

from codeperf import cli, gate_check
from codeperf.harness import exitcodes
from codeperf.harness.suites import SUITES

HERE = Path(__file__).resolve().parent
EPILOG = ("Exit codes: 0 the gate behaved (aa: no gate failure, at most 1 gated case flagged "
          "and instruction counts within 1 % in every pair; seeded: the gate failed in every "
          "try); 1 it did not; 2 usage error. Runs are real quick runs: use a quiet machine "
          "for figures you quote.")


@cli.command(epilog=EPILOG)
@click.argument("check", type=click.Choice(["aa", "seeded"]))
@click.option("--count", type=click.IntRange(1), default=5,
              help="A/A pairs (aa) or seeded tries (seeded).")
@click.option("--suite", "suites", type=click.Choice(SUITES), multiple=True,
              help="Only these suites. [default: all for aa; bench_rust, the only one the "
                   "seed touches, for seeded]")
@cli.out_option("Where the runs and gate_check.json go. [default: a new "
                "reports/gate-check/<check>-<stamp>; reports/latest is not moved]")
def main(check: str, count: int, suites: tuple[str, ...], out_dir: Path | None) -> None:
    """CHECK is `aa` (COUNT pairs of quick runs of unchanged code, B gated against A) or
    `seeded` (one unseeded quick run, then COUNT runs with CODEPERF_SEED_REGRESSION=analyze,
    each gated against it). Prints, per comparison, the gate result, the flagged cases and
    the instruction-count differences."""
    root = out_dir or Path("reports") / "gate-check" / \
        f"{check}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    runner = gate_check.GateCheck(root, HERE, suites or (SUITES if check == "aa" else ("bench_rust",)))
    outcomes = runner.aa_pairs(count) if check == "aa" else runner.seeded(count)
    judge = gate_check.aa_problems if check == "aa" else gate_check.seeded_problems
    failures = 0
    for outcome in outcomes:
        for line in gate_check.describe(outcome):
            click.echo(line, err=True)
        problems = judge(outcome)
        failures += bool(problems)
        click.echo(f"    => {'ok' if not problems else 'SHORT: ' + '; '.join(problems)}", err=True)
    path = gate_check.write_summary(root, check, outcomes)
    click.echo(f"{check}: {len(outcomes) - failures} of {len(outcomes)} as required; summary {path}",
               err=True)
    cli.exit_with(exitcodes.FAILED if failures else exitcodes.OK)


if __name__ == "__main__":
    main()
