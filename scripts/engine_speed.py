#!/usr/bin/env python3
"""Print Rust vs Python speed ratios of the engine at the reference size (100 x 2 KB),
for each corpus family (own, multilingual, code, chat).

A quick check of the engine's speed goals, in one process on the same input; the
goals are read from targets.toml (suite bench_rust: `speedup.<op>` and
`throughput_mb_s.analyze`), never from constants here, and judged by the targets'
own rule (`TargetSpec.evaluate`: their comparison and threshold). A goal missing from
the file is shown as "-" and judges nothing (never a silent "yes" against 0).
The full pyperf suite (worker processes, confidence intervals, scaling) is
`make bench-rust`. Like pyperf, each timed value is the mean of a block of
back-to-back calls lasting at least ~20 ms; blocks of the two backends alternate,
so machine noise hits both alike. The goals are judged on the medians of those
values. A third column shows, for information, one Rust call made right after a
Python call: rayon's pool has gone to sleep by then and the caches are cold, which
is what an engine called now and then pays.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import click

from codeperf import cli
from codeperf.engine import BackendUnavailable, backend
from codeperf.harness import exitcodes
from codeperf.harness.envelope import utc_now, write_json_atomic
from codeperf.engine.corpus_families import FAMILIES, generate_family
from codeperf.harness.targets import TargetSpec, load_specs

# (label, engine function, keyword arguments, bench_rust op naming its target)
OPS = [("analyze_responses", "analyze_responses", {}, "analyze"),
       ("compute_consensus (cosine)", "compute_consensus", {"similarity": "cosine"}, "consensus_cosine"),
       ("compute_consensus (jaccard)", "compute_consensus", {"similarity": "jaccard"}, "consensus_jaccard"),
       ("aggregate_responses", "aggregate_responses", {}, "aggregate")]


def goals() -> dict[str, TargetSpec]:
    """metric -> the bench_rust target of targets.toml (or of $CODEPERF_TARGETS)."""
    return {spec.metric: spec for spec in load_specs() if spec.suite == "bench_rust"}


def _judge(spec: TargetSpec | None, value: float) -> tuple[bool | None, str, str]:
    """(met, goal shown, verdict shown); met is None without a goal."""
    if spec is None:
        return None, "-", "-  "
    met = spec.evaluate(value).passed
    return met, f"{spec.op}{spec.threshold:g}", "yes" if met else "NO "


def _block(fn, responses, kwargs, calls: int) -> float:
    """Mean seconds per call over `calls` back-to-back calls."""
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn(responses, **kwargs)
    return (time.perf_counter_ns() - start) / 1e9 / calls


def _calls_per_block(fn, responses, kwargs, min_s: float = 0.02) -> int:
    one = _block(fn, responses, kwargs, 1)
    return max(1, int(min_s / max(one, 1e-6)) + 1)


EPILOG = ("Exit codes: 0 every goal met; 1 a goal missed or the backends disagree; 2 the "
          "Rust extension is not built, an unknown family or a bad targets file.")
RESULT_FILE = "engine_speed.json"


@cli.command(epilog=EPILOG)
@click.option("--responses", "n", type=click.IntRange(1), default=100, help="Number of responses.")
@click.option("--size", "size_bytes", type=click.IntRange(1), default=2048,
              help="Bytes per response.")
@click.option("--repeat", type=click.IntRange(1), default=15,
              help="Timed blocks per backend and operation (each block >= ~20 ms of calls).")
@click.option("--seed", type=int, default=0, help="Corpus seed (same seed, same inputs).")
@click.option("--corpus", "families", default=",".join(FAMILIES),
              help="Corpus families, comma list: " + ", ".join(FAMILIES) + ".")
@cli.out_option(f"Also write {RESULT_FILE} (every block's time, ratios, goals) into this "
                f"directory. [default: print only]")
def main(n: int, size_bytes: int, repeat: int, seed: int, families: str, out_dir: Path | None) -> None:
    """Time each engine operation on both backends and print Python/Rust ratios per family."""
    chosen = [f.strip() for f in families.split(",") if f.strip()]
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown or not chosen:
        cli.setup_error(f"unknown corpus family {', '.join(unknown) or '(none)'}; use "
                        f"{', '.join(FAMILIES)}")
    try:
        rust, python = backend("rust"), backend("python")
        goal = goals()
    except (BackendUnavailable, ValueError) as exc:
        cli.setup_error(str(exc))
    ok = True
    rows: list[dict[str, Any]] = []
    started = utc_now()
    for family in chosen:
        ok &= _family(family, python, rust, n, size_bytes, repeat, seed, goal, rows)
    if out_dir is not None:
        path = Path(out_dir) / RESULT_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, {"started_at": started, "finished_at": utc_now(),
                                 "responses": n, "size_bytes": size_bytes, "repeat": repeat,
                                 "seed": seed, "rust_threads": rust.module.rayon_threads(),
                                 "rows": rows, "all_goals_met": ok})
        click.echo(f"wrote {path}", err=True)
    cli.exit_with(exitcodes.OK if ok else exitcodes.FAILED)


def _family(family: str, python, rust, n: int, size_bytes: int, repeat: int, seed: int,
            goal: dict[str, TargetSpec], rows: list[dict[str, Any]]) -> bool:
    responses = generate_family(family, n, size_bytes, seed)
    text_mb = sum(len(r.content.encode("utf-8")) for r in responses) / 1e6
    click.echo(f"\n[{family}] {n} responses x {size_bytes} B ({text_mb:.2f} MB of text), rust "
               f"threads: {rust.module.rayon_threads()}, {repeat} alternating blocks per backend; "
               f"ms per call, median (best)")
    click.echo(f"{'operation':30} {'python ms':>16} {'rust ms':>14} {'ratio':>7} {'goal':>7}  ok   "
               f"rust cold call (ratio)")
    ok = True
    for label, name, kwargs, op in OPS:
        py_fn, rs_fn = getattr(python, name), getattr(rust, name)
        if py_fn(responses, **kwargs) != rs_fn(responses, **kwargs):  # arrays compare by value
            click.echo(f"{label}: backends disagree; not timed", err=True)
            rows.append({"family": family, "op": op, "correct": False})
            ok = False
            continue
        py_calls = _calls_per_block(py_fn, responses, kwargs)
        rs_calls = _calls_per_block(rs_fn, responses, kwargs)
        py_t, rs_t, rs_cold = [], [], []
        for _ in range(repeat):
            py_t.append(_block(py_fn, responses, kwargs, py_calls))
            rs_cold.append(_block(rs_fn, responses, kwargs, 1))  # right after Python
            rs_t.append(_block(rs_fn, responses, kwargs, rs_calls))
        py_med, rs_med = statistics.median(py_t), statistics.median(rs_t)
        ratio = py_med / rs_med
        spec = goal.get(f"speedup.{op}")
        met, shown, verdict = _judge(spec, ratio)
        ok &= met is not False
        rows.append({"family": family, "op": op, "correct": True, "python_block_s": py_t,
                     "rust_block_s": rs_t, "rust_cold_call_s": rs_cold, "ratio_of_medians": ratio,
                     "goal_speedup": spec.threshold if spec else None,
                     "goal_op": spec.op if spec else None, "goal_met": met})
        click.echo(f"{label:30} {py_med * 1e3:8.2f} ({min(py_t) * 1e3:5.2f}) "
                   f"{rs_med * 1e3:7.3f} ({min(rs_t) * 1e3:5.3f}) {ratio:6.1f}x {shown + 'x':>7}  "
                   f"{verdict}  {statistics.median(rs_cold) * 1e3:7.3f} "
                   f"({py_med / statistics.median(rs_cold):4.1f}x)")
        if name == "analyze_responses":
            mb_s = text_mb / rs_med
            spec = goal.get("throughput_mb_s.analyze")
            met, shown, verdict = _judge(spec, mb_s)
            ok &= met is not False
            rows[-1].update({"rust_analyze_mb_s": mb_s, "goal_mb_s": spec.threshold if spec else None,
                             "mb_s_goal_met": met})
            click.echo(f"{'  rust analyze throughput':30} {mb_s:24.1f} MB/s (goal {shown} MB/s)  "
                       f"{verdict.strip()}")
    return ok


if __name__ == "__main__":
    main()
