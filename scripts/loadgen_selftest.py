#!/usr/bin/env python3
"""The load generator's own speed and punctuality against a trivial local endpoint, beside wrk.

Writes <out>/loadgen_selftest.json (with "complete": false and what was measured
so far on Ctrl-C or SIGTERM); a summary goes to stderr. Logic:
codeperf.load.loadgen_selftest.
"""

from __future__ import annotations

import signal

import click

from codeperf import cli
from codeperf.harness import exitcodes
from codeperf.harness.envelope import Interrupted, write_json_atomic
from codeperf.harness.run_dir import script_out_dir

STATUS_LABEL = {"passed": "PASS", "failed": "FAIL", "not_demonstrated": "NOT DEMONSTRATED",
                "not_measured": "NOT MEASURED"}


def _on_sigterm(signum, frame):
    # Outside the event loop (endpoint start-up, wrk); inside it, loadgen.run_stoppable
    # turns SIGTERM into a cancellation of the runs instead.
    raise Interrupted("SIGTERM")


@cli.command()
@cli.out_option()
@cli.quick_option("2 s per run instead of --seconds.")
@click.option("--seconds", default=5.0, type=click.FloatRange(min=0, min_open=True),
              help="Length of each run.")
@click.option("--connections", default=64, type=click.IntRange(min=1),
              help="Keep-alive connections.")
@click.option("--lag-rate", default=1000.0, type=click.FloatRange(min=0, min_open=True),
              help="Open-model rate at which schedule lag is judged (requests/s).")
@click.option("--wrk/--no-wrk", default=True,
              help="Also run wrk against the same endpoint (if installed).")
@click.option("--workers", "workers_list", default="", metavar="N[,N...]",
              help="Also compare the generator on these worker counts (e.g. 1,2: Ray for N > 1), "
                   "minimal and aiohttp clients beside wrk -tN, as `make load-scale` does "
                   "without its burst.")
def main(out_dir, quick, seconds, connections, lag_rate, wrk, workers_list):
    """Measure the generator: its wall-clock rate on one core, schedule lag at --lag-rate, and
    wrk's rate. The 10,000 requests/s goal is judged on the wall-clock rate; when the
    generator's thread got well under a full core it is "not demonstrated" (exit 1), not passed.
    """
    from codeperf.load.loadgen_selftest import SelfTest

    log = lambda line: click.echo(line, err=True)  # noqa: E731
    try:
        counts = [int(n) for n in workers_list.split(",") if n.strip()]
    except ValueError:
        counts = [0]
    if any(n < 1 for n in counts):
        raise click.BadParameter(f"{workers_list!r}: a comma list of worker counts >= 1",
                                 param_hint="--workers")
    path = script_out_dir(out_dir, "loadgen_selftest") / "loadgen_selftest.json"
    test = SelfTest(seconds=2.0 if quick else seconds, connections=connections,
                    lag_rate=lag_rate, with_wrk=wrk, log=log)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        test.run()
    except (KeyboardInterrupt, Interrupted):
        write_json_atomic(path, test.report(complete=False))
        log(f"interrupted; what was measured is in {path} (complete: false)")
        cli.exit_with(exitcodes.INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    result = test.report()
    if counts:
        from codeperf.load import scaling

        log(f"the generator on {counts} worker(s)")
        result["scaling"] = scaling.generator_rates(counts, 2.0 if quick else seconds,
                                                    connections, log, rounds=1)
    write_json_atomic(path, result)
    s = result["summary"]
    log("")
    log(f"generator, closed model : {s['closed_throughput_rps'] or 0:.0f} requests/s wall clock "
        f"(its thread at {s['closed_generator_cpu_pct'] or 0:.0f}% of the core; "
        f"{s['closed_requests_per_cpu_s'] or 0:.0f} per CPU-second, information only)")
    if s["wrk_rps"] is not None:
        log(f"wrk -t1 (same core)     : {s['wrk_rps']:.0f} requests/s  "
            f"(ours / wrk = {s['ours_vs_wrk_x']:.2f}x)")
    else:
        log(f"wrk                     : {result['wrk'].get('reason')}")
    if s["closed_aiohttp_throughput_rps"] is not None:
        ratio = s["aiohttp_vs_wrk_x"]
        log(f"generator through aiohttp: {s['closed_aiohttp_throughput_rps']:.0f} requests/s "
            f"(the scenarios' client{f'; / wrk = {ratio:.2f}x' if ratio else ''})")
    log(f"open model at 10000/s   : sent {s['open_10k_achieved_send_rps'] or 0:.0f}/s, "
        f"lag p99 {s['open_10k_schedule_lag_p99_ms']} ms")
    log(f"schedule lag p99 at {s['paced_rate_rps']:g}/s: {s['paced_schedule_lag_p99_ms']} ms")
    for row in result.get("scaling", {}).get("rows", []):
        log(f"{row['workers']} worker(s), {row['measurement']:30s}: "
            f"{row['throughput_rps'] or 0:.0f} requests/s, lag p99 {row['schedule_lag_p99_ms']} ms")
    for w in result.get("scaling", {}).get("wrk", []):
        log(f"wrk -t{w['threads']}{'':27s}: {w.get('requests_per_s') or w.get('reason')}")
    for goal in result["goals"]:
        log(f"{STATUS_LABEL[goal['status']]}  {goal['check']}: {goal['detail']}")
    log(f"wrote {path}")
    cli.exit_with(exitcodes.OK if all(g["ok"] for g in result["goals"]) else exitcodes.FAILED)


if __name__ == "__main__":
    main()
