#!/usr/bin/env python3
"""The load generator's own speed and punctuality against a trivial local endpoint, beside wrk.

Writes <out>/loadgen_selftest.json; a summary goes to stderr. Logic:
codeperf.harness.loadgen_selftest.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from codeperf.harness import exitcodes
from codeperf.harness.envelope import write_json_atomic


@click.command(context_settings={"help_option_names": ["-h", "--help"]}, epilog=exitcodes.EPILOG)
@click.option("--out", "out_dir", default="reports/latest", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="output directory")
@click.option("--quick", is_flag=True, help="2 s per run instead of --seconds")
@click.option("--seconds", default=5.0, show_default=True, help="length of each run")
@click.option("--connections", default=64, show_default=True, help="keep-alive connections")
@click.option("--lag-rate", default=1000.0, show_default=True,
              help="open-model rate at which schedule lag is judged (requests/s)")
@click.option("--wrk/--no-wrk", default=True, show_default=True,
              help="also run wrk against the same endpoint (if installed)")
def main(out_dir, quick, seconds, connections, lag_rate, wrk):
    """Measure the generator: max rate on one core, schedule lag at --lag-rate, and wrk's rate."""
    from codeperf.harness.loadgen_selftest import selftest

    log = lambda line: click.echo(line, err=True)  # noqa: E731
    result = selftest(seconds=2.0 if quick else seconds, connections=connections,
                      lag_rate=lag_rate, with_wrk=wrk, log=log)
    path = out_dir / "loadgen_selftest.json"
    write_json_atomic(path, result)
    s = result["summary"]
    log("")
    log(f"generator, closed model : {s['closed_throughput_rps']:.0f} requests/s wall clock, "
        f"{s['closed_requests_per_cpu_s'] or 0:.0f} per CPU-second of its thread")
    if s["wrk_rps"] is not None:
        log(f"wrk -t1 (same core)     : {s['wrk_rps']:.0f} requests/s  "
            f"(ours / wrk = {s['ours_vs_wrk_x']:.2f}x)")
    else:
        log(f"wrk                     : {result['wrk'].get('reason')}")
    log(f"open model at 10000/s   : sent {s['open_10k_achieved_send_rps']:.0f}/s, "
        f"lag p99 {s['open_10k_schedule_lag_p99_ms']} ms")
    log(f"schedule lag p99 at {s['paced_rate_rps']:g}/s: {s['paced_schedule_lag_p99_ms']} ms")
    for goal in result["goals"]:
        log(f"{'PASS' if goal['ok'] else 'FAIL'}  {goal['check']}: {goal['detail']}")
    log(f"wrote {path}")
    sys.exit(exitcodes.OK if all(g["ok"] for g in result["goals"]) else exitcodes.FAILED)


if __name__ == "__main__":
    main()
