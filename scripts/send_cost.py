"""The event loop's CPU per query sent: what a burst's spike costs the generator.

    .venv/bin/python scripts/send_cost.py                  # 3 rounds of 150 queries, asyncio's loop
    .venv/bin/python scripts/send_cost.py --profile 25     # + cProfile's top 25 of the sends

Starts the bundled simulator in a child process, opens one keep-alive
connection per expert request (as the burst does), then sends N queries at
once through the scenarios' own op (`QueryStats.op` -> `consult` -> aiohttp)
to experts that answer only after 500 ms (`pool-hold-500ms`, three streamed
experts, as the default circle's requests). The loop thread's CPU
(`time.thread_time`) over the next 300 ms is the cost of sending them: no
answer has arrived yet, only each streamed response's headers, which the
simulator sends at once (as streaming servers do). Prints
the loop CPU per query per round, the median and the minimum (the
least disturbed round on a shared machine), and the simulator's CPU over the
same 300 ms (it shares the cores in a real run), then one more round under
cProfile for the Python function calls per query (a count that a busy machine
does not move). Numbers only; nothing judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import io
import pstats
import statistics
import time
from pathlib import Path

import click

from codeperf import cli
from codeperf.harness import exitcodes
from codeperf.harness.envelope import write_json_atomic

from codeperf.experts.config import Expert, ExpertsConfig
from codeperf.experts.simulator import CALIBRATION_MODELS, SimulatorConfig
from codeperf.experts.simulator_process import SimulatorProcess
from codeperf.load.event_loops import factory
from codeperf.load.expert_scenarios import _open_connections, _session
from codeperf.load.querystats import QueryStats

HOLD_MODEL = "pool-hold-500ms"
WINDOW_S = 0.3  # < the 500 ms hold: only sends happen in it


async def _measure(url: str, queries: int, rounds: int, profile: int, sim_pids: list[int]
                   ) -> list[tuple[float, float]]:
    experts = ExpertsConfig(experts=tuple(
        Expert(f"hold{k}", url, HOLD_MODEL, timeout_s=10.0, stream=True) for k in range(3)))

    def sim_cpu_s() -> float:
        # /proc/<pid>/schedstat: nanoseconds on a CPU, every thread of the process
        # (psutil's cpu_times count whole 10 ms ticks: too coarse for one round).
        total = 0
        for pid in sim_pids:
            for task in Path(f"/proc/{pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9

    out = []
    async with _session(queries * 3) as session:
        opened = await _open_connections(session, experts, queries)
        click.echo(f"warm connections: {opened}", err=True)
        # Round 0 warms up the code paths, not counted; the last one runs under cProfile
        # for its count of Python function calls per query, which unlike CPU time does
        # not move with the machine's load (its CPU time is not counted either).
        for r in range(rounds + 2):
            stats = QueryStats(experts)
            op = stats.op(session)
            sim_cpu0 = sim_cpu_s()
            profiler = cProfile.Profile() if r == rounds + 1 else None
            cpu0 = time.thread_time()
            if profiler:
                profiler.enable()
            gc.disable()  # as run_open does during a run: no collection inside the window
            tasks = [asyncio.ensure_future(op(i)) for i in range(queries)]
            await asyncio.sleep(WINDOW_S)
            if profiler:
                profiler.disable()
            cpu = time.thread_time() - cpu0
            gc.enable()
            sim_cpu = sim_cpu_s() - sim_cpu0
            results = await asyncio.gather(*tasks, return_exceptions=True)
            failed = sum(isinstance(x, BaseException) for x in results)
            if profiler:
                calls = pstats.Stats(profiler).total_calls
                click.echo(f"profiled round: {calls / queries:.0f} Python function calls per "
                           f"query sent ({failed} failed)", err=True)
            elif r:
                out.append((cpu, sim_cpu))
                click.echo(f"round {r}: loop CPU {cpu * 1000:.1f} ms for {queries} queries = "
                           f"{cpu / queries * 1000:.3f} ms/query; simulator CPU "
                           f"{sim_cpu * 1000:.0f} ms ({failed} failed)", err=True)
            if profiler and profile:
                buf = io.StringIO()
                pstats.Stats(profiler, stream=buf).sort_stats("tottime").print_stats(profile)
                click.echo(buf.getvalue(), err=True)
    return out


@cli.command()
@click.option("--queries", type=click.IntRange(min=1), default=150,
              help="Queries sent at once per round.")
@click.option("--rounds", type=click.IntRange(min=1), default=3,
              help="Measured rounds (after one warm-up, before the profiled one).")
@click.option("--loop", "loop_name", type=click.Choice(["asyncio", "uvloop"]), default="asyncio",
              help="The generator's event loop.")
@click.option("--simulator-processes", type=click.IntRange(min=1), default=1,
              help="Bundled simulator processes on one port.")
@click.option("--profile", type=click.IntRange(min=0), default=0,
              help="Print cProfile's top N functions of the profiled round.")
@cli.out_option("Also write the rounds to DIR/send_cost.json. [default: print only]")
@click.option("--url", help="A simulator already running (e.g. under a profiler): no child is "
                            "started and its CPU is not measured.")
def main(queries: int, rounds: int, loop_name: str, simulator_processes: int, profile: int,
         out_dir: Path | None, url: str | None) -> None:
    """The generator's loop CPU per query sent, and the simulator's (numbers only)."""
    config = SimulatorConfig().with_models(CALIBRATION_MODELS)
    with contextlib.ExitStack() as stack:
        pids: list[int] = []
        if url is None:
            sim = stack.enter_context(SimulatorProcess(config, processes=simulator_processes))
            url, pids = sim.base_url, sim.pids
        loop = factory(loop_name)()
        try:
            rows = loop.run_until_complete(_measure(url, queries, rounds, profile, pids))
        finally:
            loop.close()
    per_query = [cpu / queries * 1000 for cpu, _ in rows]
    sim_cpu = (f"{statistics.median(s for _, s in rows) / queries * 1000:.3f} ms" if pids
           else "not measured")
    click.echo(f"{loop_name}: loop CPU per query sent, median {statistics.median(per_query):.3f} ms, "
               f"min {min(per_query):.3f} ms "
               f"(rounds {', '.join(f'{x:.3f}' for x in per_query)}); simulator CPU per query "
               f"{sim_cpu}", err=True)
    if out_dir is not None:
        write_json_atomic(out_dir / "send_cost.json", {
            "queries": queries, "event_loop": loop_name, "simulator_processes": simulator_processes,
            "loop_cpu_ms_per_query": per_query,
            "simulator_cpu_ms_per_query": [s / queries * 1000 for _, s in rows] if pids else None})
    cli.exit_with(exitcodes.OK)


if __name__ == "__main__":
    main()
