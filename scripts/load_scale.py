#!/usr/bin/env python3
"""The load generator on 1 and N workers: Ray's cost, rates beside wrk, 10k/s lag, the burst.

Writes <out>/load_scale.json (and each burst run's load.json under <out>/burst-*);
the table goes to stderr. Details: docs/load.md, "Scaling the generator".
"""

from __future__ import annotations

import click

from codeperf import cli
from codeperf.harness import exitcodes
from codeperf.harness.envelope import write_json_atomic
from codeperf.harness.run_dir import script_out_dir


class IntList(click.ParamType):
    """A comma list of whole numbers >= 1, e.g. 1,2."""

    name = "N[,N...]"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        try:
            numbers = [int(part) for part in str(value).split(",") if part.strip()]
        except ValueError:
            self.fail(f"{value!r} is not a comma list of whole numbers", param, ctx)
        if not numbers or min(numbers) < 1:
            self.fail(f"{value!r}: every worker count must be >= 1", param, ctx)
        return numbers


def _fmt(value, spec=".0f"):
    return "n/a" if value is None else format(value, spec)


def _machine(use):
    if not use:
        return ""
    return (f"; machine (all CPUs) busy {use['busy']:.0f} ms, idle {use['idle']:.0f} ms, "
            f"stolen by the host {use['steal']:.0f} ms")


def _ms_list(values):
    return "[" + ", ".join(_fmt(v) for v in values) + "]"


@cli.command()
@cli.out_option()
@click.option("--workers", "workers_list", type=IntList(), default="1,2",
              help="Worker counts to compare (Ray for N > 1).")
@click.option("--seconds", default=3.0, type=click.FloatRange(min=0, min_open=True),
              help="Length of each rate run.")
@click.option("--connections", default=64, type=click.IntRange(min=1),
              help="Keep-alive connections (split over the workers).")
@click.option("--rounds", default=3, type=click.IntRange(min=1), show_default=True,
              help="Rounds of the minimal client and wrk, run alternately (medians compared).")
@click.option("--burst-size", default=300, type=click.IntRange(min=1),
              help="Queries per burst spike (3 expert requests each) within 100 ms.")
@click.option("--no-burst", is_flag=True, help="Skip the burst part (no simulator).")
@click.option("--part", "parts", multiple=True, type=click.Choice(["rates", "open", "burst"]),
              help="Run only these parts (repeatable): rates (closed model, minimal and "
                   "aiohttp clients, beside wrk), open (10,000/s), burst. [default: all]")
@click.option("--endpoint-nice", type=click.IntRange(0, 19), default=0, show_default=True,
              help="Niceness of the trivial endpoint process (docs/load.md).")
@click.option("--loop", type=click.Choice(["asyncio", "uvloop"]), default=None,
              help="Every generator's event loop, 1 worker and N alike. "
                   "[default: uvloop when installed, else asyncio]")
@click.option("--simulator-processes", type=click.IntRange(min=1), default=None,
              help="Simulator processes behind the N-worker burst. [default: load_scenarios' "
                   "default, docs/load.md]")
@click.option("--simulator-nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="Niceness of the burst's simulator processes, 1 worker and N alike, so "
                   "the generators have the cores first (docs/load.md).")
def main(out_dir, workers_list, seconds, connections, rounds, burst_size, no_burst, parts, loop,
         simulator_processes, simulator_nice, endpoint_nice):
    """Compare the generator on 1 and N workers in one run (numbers only: no pass/fail gate)."""
    from codeperf.load import event_loops, scaling
    from codeperf.load.loadgen import LATE_SEND_MS

    try:
        loop = event_loops.check(loop or event_loops.default_name())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--loop") from None

    parts = [p for p in scaling.PARTS if p in parts] if parts else list(scaling.PARTS)
    if no_burst and scaling.BURST in parts:
        parts.remove(scaling.BURST)
    log = lambda line: click.echo(line, err=True)  # noqa: E731
    out = script_out_dir(out_dir, "load_scale")
    log(f"parts {', '.join(parts) or 'none'}; workers {workers_list}, loop {loop}")
    result = (scaling.generator_rates(workers_list, seconds, connections, log, loop, rounds,
                                      parts, endpoint_nice)
              if scaling.RATES in parts or scaling.OPEN in parts else
              {"rows": [], "wrk": [], "ray": [], "comparison": []})
    result["config"] = {"workers": workers_list, "seconds": seconds, "connections": connections,
                        "rounds": rounds, "parts": parts, "endpoint_nice": endpoint_nice,
                        "burst_size": burst_size, "event_loop": loop,
                        "simulator_processes": simulator_processes,
                        "simulator_nice": simulator_nice}
    if scaling.BURST in parts:
        result["burst"] = scaling.burst_spikes(workers_list, burst_size, out, log, loop,
                                               simulator_processes, simulator_nice)
    path = out / "load_scale.json"
    write_json_atomic(path, result)
    log("")
    for r in result["ray"]:
        log(f"Ray, {r['workers']} workers: start-up {r['startup_s']:.2f} s, "
            f"RSS of its processes {r['rss_bytes'] / 2**20:.0f} MiB")
    log(f"{'measurement':34s} {'workers':>7s} {'ok/s':>9s} {'sent/s':>9s} {'lag p99 ms':>10s} "
        f"{'ok/cpu-s':>9s} valid")
    for row in result["rows"]:
        log(f"{row['measurement']:34s} {row['workers']:7d} {_fmt(row['throughput_rps']):>9s} "
            f"{_fmt(row['achieved_send_rps']):>9s} {_fmt(row['schedule_lag_p99_ms'], '.2f'):>10s} "
            f"{_fmt(row.get('requests_per_loop_cpu_s')):>9s} {row['valid']}")
    for row in result["rows"]:
        if row["measurement"].startswith("open"):
            log(f"{row['measurement']}, {row['workers']} worker(s): sends > "
                f"{LATE_SEND_MS:g} ms late, per second: {row['late_sends_by_second']}; "
                f"loop threads waited {_ms_list(row['generator_cpu_wait_ms'])} ms for a CPU, "
                f"in flight at most {row['max_in_flight_count']}; endpoint CPU "
                f"{_fmt(row['endpoint_cpu_ms'])} ms, waited {_fmt(row['endpoint_cpu_wait_ms'])} ms"
                + _machine(row.get("machine_cpu_ms")))
    for w in result["wrk"]:
        rps = w.get("requests_per_s")
        log(f"{'wrk -t' + str(w['threads']):34s} {w['threads']:7d} {_fmt(rps):>9s}"
            + ("" if w.get("available") else f"  ({w.get('reason')})"))
    for c in result["comparison"]:
        log(f"minimal client on {c['workers']} worker(s) vs wrk -t{c['workers']}, "
            f"{len(c['minimal_rps'])} alternated rounds: medians {_fmt(c['minimal_median_rps'])} vs "
            f"{_fmt(c['wrk_median_rps'])} requests/s = {_fmt(c['ratio_of_medians'], '.2f')}x "
            f"(per round {[round(x, 2) for x in c['ratio_per_round']]}; spread max/min: ours "
            f"{_fmt(c['minimal_spread_x'], '.2f')}x, wrk {_fmt(c['wrk_spread_x'], '.2f')}x)")
    for b in result.get("burst", []):
        log(f"burst {b.get('queries')} queries ({b.get('expert_requests')} requests) in 100 ms, "
            f"{b['workers']} worker(s): {'VALID' if b['valid'] else 'INVALID'}; lag p99 per worker "
            f"{b.get('schedule_lag_p99_ms')} ms; last send of each spike at "
            f"{[None if t is None else round(t, 1) for t in b.get('spike_last_send_ms') or []]} ms "
            f"(within 100 ms: {b.get('within_spread')})")
    log(f"wrote {path}")
    cli.exit_with(exitcodes.OK)


if __name__ == "__main__":
    main()
