#!/usr/bin/env python3
"""Time several builds of the Rust extension side by side, in one process, per call.

    git archive OLD | tar -x -C /tmp/old && (cd /tmp/old && cargo build --release -p codeperf-py)
    .venv/bin/python scripts/engine_ab.py /tmp/old/target/release/lib_rust.so python/codeperf/_rust*.so

Each build is loaded as its own module (its own rayon pool), every one is checked to
give the first one's results on the input, then rounds alternate the builds (A B A B
...): each round times a block of back-to-back calls per build, so a burst of load from
other jobs hits every build alike. Comparing two separate runs of `make speed-check`
instead compares the machine's two moments as much as the builds (docs/bench_rust.md,
"fifth pass": the second core's availability alone moved Rust's time by ~1.4x).
Prints, per operation, each build's median and best ms per call.
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import time
from pathlib import Path
from types import ModuleType

import click

from codeperf import cli
from codeperf.engine.corpus_families import FAMILIES, generate_family
from codeperf.harness import exitcodes
from codeperf.harness.envelope import utc_now, write_json_atomic

# op -> (extension function, keyword arguments)
OPS = {"analyze": ("analyze_responses", {}),
       "consensus_cosine": ("compute_consensus", {"similarity": "cosine"}),
       "consensus_jaccard": ("compute_consensus", {"similarity": "jaccard"}),
       "aggregate": ("aggregate_responses", {})}

RESULT_FILE = "engine_ab.json"
EPILOG = ("Exit codes: 0 timed; 1 a build's results differ from the first build's (not "
          "timed); 2 a build cannot be loaded, an unknown operation or family.")


def load_build(path: Path, k: int) -> ModuleType:
    """The extension at `path` as a module of its own (`_rust` inside a unique package
    name, so its init function is found and it does not replace codeperf._rust)."""
    spec = importlib.util.spec_from_file_location(f"engine_ab_build{k}._rust", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"not an extension module: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def alternate(fns: list, responses, kwargs: dict, rounds: int, calls: int) -> list[list[float]]:
    """Per build, the mean seconds per call of each round's block, rounds alternating."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for k, fn in enumerate(fns):
            start = time.perf_counter_ns()
            for _ in range(calls):
                fn(responses, **kwargs)
            times[k].append((time.perf_counter_ns() - start) / 1e9 / calls)
    return times


@cli.command(epilog=EPILOG)
@click.argument("builds", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                   path_type=Path))
@click.option("--corpus", "family", default="own", help="Corpus family: " + ", ".join(FAMILIES) + ".")
@click.option("--ops", default=",".join(OPS), help="Operations, comma list: " + ", ".join(OPS) + ".")
@click.option("--responses", "n", type=click.IntRange(1), default=100, help="Number of responses.")
@click.option("--size", "size_bytes", type=click.IntRange(1), default=2048, help="Bytes per response.")
@click.option("--rounds", type=click.IntRange(1), default=15, help="Alternating rounds.")
@click.option("--calls", type=click.IntRange(1), default=20, help="Calls per build per round.")
@cli.out_option(f"Also write {RESULT_FILE} (every round's time per build) into this directory. "
                f"[default: print only]")
def main(builds: tuple[Path, ...], family: str, ops: str, n: int, size_bytes: int, rounds: int,
         calls: int, out_dir: Path | None) -> None:
    """Time each BUILD (a built lib_rust.so / _rust*.so) per call, alternated in one process."""
    chosen = [o.strip() for o in ops.split(",") if o.strip()]
    unknown = [o for o in chosen if o not in OPS] + ([family] if family not in FAMILIES else [])
    if unknown or not chosen:
        cli.setup_error(f"unknown operation or family {', '.join(unknown) or '(none)'}")
    try:
        modules = [load_build(path, k) for k, path in enumerate(builds)]
    except ImportError as exc:
        cli.setup_error(f"cannot load a build: {exc}")
    responses = generate_family(family, n, size_bytes, 0)
    started, load_before, rows = utc_now(), os.getloadavg(), []
    click.echo(f"[{family}] {n} x {size_bytes} B, {rounds} rounds x {calls} calls, "
               f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', '(default)')}, "
               f"load average {os.getloadavg()[0]:.2f}; ms per call, median (best)")
    for op in chosen:
        name, kwargs = OPS[op]
        fns = [getattr(m, name) for m in modules]
        first = fns[0](responses, **kwargs)
        differ = [str(p) for p, fn in zip(builds[1:], fns[1:]) if fn(responses, **kwargs) != first]
        if differ:
            click.echo(f"{op}: results differ from {builds[0]}: {', '.join(differ)}; not timed",
                       err=True)
            cli.exit_with(exitcodes.FAILED)
        for path, t in zip(builds, alternate(fns, responses, kwargs, rounds, calls)):
            click.echo(f"{op:18} {statistics.median(t) * 1e3:8.3f} ({min(t) * 1e3:.3f})  {path}")
            rows.append({"op": op, "build": str(path), "round_s": t, "median_s": statistics.median(t)})
    click.echo(f"load average after {os.getloadavg()[0]:.2f}")
    if out_dir is not None:
        path = Path(out_dir) / RESULT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"started_at": started, "finished_at": utc_now(), "family": family,
                                 "responses": n, "size_bytes": size_bytes, "rounds": rounds,
                                 "calls": calls, "load_average_before": load_before,
                                 "load_average_after": os.getloadavg(), "rows": rows})
        click.echo(f"wrote {path}", err=True)
    cli.exit_with(exitcodes.OK)


if __name__ == "__main__":
    main()
