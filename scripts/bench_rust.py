#!/usr/bin/env python3
"""Rust engine vs its Python twin: pyperf micro-benchmarks, correctness gate, memory, targets."""

from __future__ import annotations

from pathlib import Path

import click

# Before the heavy imports: a SIGTERM while importing still leaves a partial envelope
# and exit 130 (the suite contract, codeperf.harness.contract).
from codeperf.harness.contract import trap_startup_signals  # noqa: E402

if __name__ == "__main__":  # run as a script, not imported by a test
    trap_startup_signals("bench_rust")

from codeperf.bench_rust import baseline as bench_baseline  # noqa: E402
from codeperf.bench_rust import cost_curve as cost_curve_mod  # noqa: E402
from codeperf.bench_rust import driver, grid, timing  # noqa: E402
from codeperf import cli  # noqa: E402
from codeperf.harness import exitcodes  # noqa: E402
from codeperf.harness.contract import SetupError, run_script  # noqa: E402
from codeperf.harness.envelope import EnvelopeError  # noqa: E402
from codeperf.harness.run_dir import script_out_dir  # noqa: E402

BENCH_HELP = ("Benchmark(s) to run, repeatable or comma list: "
              + ", ".join(grid.ALL_OPS) + "; aliases: consensus (both), ffi, all.")


class SizeList(click.ParamType):
    name = "SIZES"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            return grid.parse_sizes([value])
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


@cli.command(epilog="Full mode: the reference family (" + grid.REFERENCE_FAMILY + ") at "
               + ", ".join(s.label for s in grid.FULL_GRID)
               + f" (a cross through the reference {grid.REFERENCE.label}, not a full product), "
               + "every other family at " + ", ".join(s.label for s in grid.OTHER_FAMILIES_GRID)
               + "; " + ", ".join(grid.REFERENCE_ONLY_OPS) + " at the reference shape only; "
               + f"{timing.FULL_OFF_REFERENCE.processes} pyperf processes off the reference shape. "
               + "--quick: " + ", ".join(s.label for s in grid.QUICK_GRID) + ". "
               + "--sizes times every benchmark at the given sizes in every chosen family. "
               + exitcodes.EPILOG)
@click.option("--bench", "benches", multiple=True, metavar="NAME[,NAME]", help=BENCH_HELP)
@click.option("--sizes", type=SizeList(), default=None,
              help="Input sizes RESPONSESxBYTES, comma list (e.g. 10x2KB,100x0.5KB), for "
                   "every chosen family and benchmark. [default: full mode's plan (below), or "
                   "the quick grid with --quick]")
@click.option("--corpus", "families", multiple=True, metavar="FAMILY[,FAMILY]",
              help="Corpus families, repeatable or comma list: " + ", ".join(grid.FAMILIES)
                   + ". [default: all of them, or the reference family (own) with --quick]")
@cli.quick_option("Fast mode for pull requests: the reference size and family, fewer pyperf "
                  "processes, no cost curve.")
@click.option("--cost-curve", "cost_curve", default=None, metavar="N[,N]",
              help="Responses (2 KB each) for the cost curve of one call per operation, time "
                   "and peak of both heaps; 'none' skips it. [default: "
                   + ",".join(map(str, cost_curve_mod.FULL_RESPONSES)) + "; quick: none]")
@cli.out_option()
@click.option("--seed", type=int, default=0, help="Corpus seed (same seed, same inputs).")
@click.option("--processes", type=click.IntRange(1), default=None,
              help=f"Pyperf worker processes per case, at every size. [default: "
                   f"{timing.FULL.processes} at the reference shape and "
                   f"{timing.FULL_OFF_REFERENCE.processes} off it, quick {timing.QUICK.processes}]")
@click.option("--values", type=click.IntRange(1), default=None,
              help=f"Pyperf values per process. [default: {timing.FULL.values}]")
@click.option("--warmups", type=click.IntRange(0), default=None,
              help=f"Pyperf warmups per process. [default: {timing.FULL.warmups}]")
@click.option("--min-time", type=click.FloatRange(min=0, min_open=True), default=None,
              help=f"Pyperf minimum seconds per value. [default: {timing.FULL.min_time}, "
                   f"quick {timing.QUICK.min_time}]")
@click.option("--loops", type=click.IntRange(0), default=0,
              help="Pyperf loops per value; 0 lets pyperf calibrate.")
@click.option("--memory/--no-memory", default=True, help="Run the memory-efficiency pass.")
@click.option("--rust-threads", type=click.IntRange(1), default=None,
              help="Threads of the Rust engine (RAYON_NUM_THREADS); 1 compares single-threaded "
                   "code, which a busy shared machine disturbs less. [default: one per core]")
@click.option("--instructions/--no-instructions", default=True,
              help="Count each op's instructions per backend under valgrind's callgrind "
                   "(the deterministic measure the regression gate compares; skipped with a "
                   "note when valgrind is not installed).")
@click.option("--instructions-size", type=SizeList(), default=None,
              help="Input size of the instruction counts, for both backends. [default: the "
                   "Python twin 20x2KB, Rust 100x2KB: a count is deterministic, so a small "
                   "input gates as well and callgrind's Python run costs half]")
@click.option("--baseline", type=click.Path(exists=True, path_type=Path), default=None,
              help="A previous run: its bench_rust.json or its directory; report which cases "
                   "changed.")
@click.option("--noise-pct", type=click.FloatRange(min=0), default=bench_baseline.DEFAULT_NOISE_PCT,
              help="With --baseline: smallest change (percent) that counts as a change.")
def main(benches, sizes, families, quick, cost_curve, out_dir, seed, processes, values, warmups,
         min_time, loops, memory, rust_threads, instructions, instructions_size, baseline,
         noise_pct):
    """Benchmark the Rust engine (codeperf._rust) against its Python twin.

    For each benchmark and input size: run both backends on the exact input to
    be timed and compare (a mismatch fails the case, which is not timed); measure
    peak memory in a separate pass; time each backend with pyperf in
    subprocesses. Writes OUT/pyperf/<op>__<backend>__<size>.json (pyperf files)
    and OUT/bench_rust.json (the result envelope); a table goes to stderr.
    """
    if baseline is not None and baseline.is_dir():
        baseline = baseline / "bench_rust.json"
    try:
        ops = grid.parse_benches(benches)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--bench") from None
    try:
        chosen = grid.parse_families(families) or (
            (grid.REFERENCE_FAMILY,) if quick else tuple(grid.FAMILIES))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--corpus") from None
    try:
        curve = cost_curve_mod.parse_responses(cost_curve, quick)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--cost-curve") from None
    defaults = timing.QUICK if quick else timing.FULL
    def settings_from(base: timing.PyperfSettings) -> timing.PyperfSettings:
        return timing.PyperfSettings(
            processes=processes or base.processes, values=values or base.values,
            warmups=base.warmups if warmups is None else warmups,
            min_time=min_time or base.min_time, loops=loops)

    settings = settings_from(defaults)
    # Full mode's plan (grid.full_sizes): fewer processes off the reference shape, unless
    # --processes says how many everywhere.
    off_reference = (settings_from(timing.FULL_OFF_REFERENCE)
                     if not quick and processes is None else None)
    if sizes:
        planned, reference_only = grid.in_families(sizes, chosen), ()
    elif quick:
        planned, reference_only = grid.in_families(grid.QUICK_GRID, chosen), ()
    else:
        planned, reference_only = grid.full_sizes(chosen), grid.REFERENCE_ONLY_OPS
    out = script_out_dir(out_dir, "bench_rust")  # after the usage checks: no empty run for a typo
    config = driver.RustBenchConfig(
        ops=ops, sizes=planned, reference_only_ops=reference_only,
        off_reference_settings=off_reference, cost_curve=curve,
        settings=settings, out=out, seed=seed, quick=quick, memory=memory,
        baseline=baseline, noise_pct=noise_pct, rust_threads=rust_threads,
        instructions=instructions,
        instructions_size=instructions_size[0] if instructions_size else None)
    def body() -> int:
        try:
            return driver.run(config)
        except EnvelopeError as exc:  # an unreadable --baseline: nothing measured
            raise SetupError(str(exc)) from None

    cli.exit_with(run_script("bench_rust", out, body))


if __name__ == "__main__":
    main()
