#!/usr/bin/env python3
"""Check the regression gate end to end: A/A pairs must pass it, a seeded regression must fail it."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from codeperf import gate_check
from codeperf.harness import exitcodes
from codeperf.harness.suites import SUITES

HERE = Path(__file__).resolve().parent
EPILOG = ("Exit codes: 0 the gate behaved (A/A: no gate failure, at most 1 gated case flagged "
          "and instruction counts within 1 % in every pair; seeded: the gate failed in every "
          "try); 1 it did not; 2 usage error. Runs are real quick runs: use a quiet machine "
          "for figures you quote.")
SUITE = click.Choice(SUITES)


def _root(kind: str, reports: Path) -> Path:
    return reports / "gate-check" / f"{kind}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"


def _finish(kind: str, root: Path, outcomes: list[gate_check.GateOutcome], judge) -> None:
    failures = 0
    for outcome in outcomes:
        for line in gate_check.describe(outcome):
            click.echo(line, err=True)
        problems = judge(outcome)
        failures += bool(problems)
        click.echo(f"    => {'ok' if not problems else 'SHORT: ' + '; '.join(problems)}", err=True)
    path = gate_check.write_summary(root, kind, outcomes)
    click.echo(f"{kind}: {len(outcomes) - failures} of {len(outcomes)} as required; summary {path}",
               err=True)
    sys.exit(exitcodes.FAILED if failures else exitcodes.OK)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
             epilog=EPILOG)
def main() -> None:
    """Runs quick suites into reports/gate-check/ (reports/latest is not moved) and prints,
    per comparison, the gate result, the flagged cases and the instruction-count differences."""


@main.command("aa", epilog=EPILOG)
@click.option("--pairs", type=click.IntRange(1), default=5, help="A/A pairs of quick runs.")
@click.option("--suite", "suites", type=SUITE, multiple=True, help="Only these suites [default: all].")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"))
def aa(pairs: int, suites: tuple[str, ...], reports: Path) -> None:
    """PAIRS pairs of quick runs of unchanged code, B gated against A each time."""
    root = _root("aa", reports)
    check = gate_check.GateCheck(root, HERE, suites or SUITES)
    _finish("aa", root, check.aa_pairs(pairs), gate_check.aa_problems)


@main.command("seeded", epilog=EPILOG)
@click.option("--tries", type=click.IntRange(1), default=5, help="Seeded runs, each gated.")
@click.option("--suite", "suites", type=SUITE, multiple=True,
              help="Only these suites [default: bench_rust, the only one the seed touches].")
@click.option("--reports", type=click.Path(file_okay=False, path_type=Path), default=Path("reports"))
def seeded(tries: int, suites: tuple[str, ...], reports: Path) -> None:
    """One unseeded quick run, then TRIES runs with CODEPERF_SEED_REGRESSION=analyze, each gated."""
    root = _root("seeded", reports)
    check = gate_check.GateCheck(root, HERE, suites or ("bench_rust",))
    _finish("seeded", root, check.seeded(tries), gate_check.seeded_problems)


if __name__ == "__main__":
    main()
