#!/usr/bin/env python3
"""How much does the load generator's schedule lag change the latency an open-model run reports?

An open run at RATE/s for SECONDS against the bundled simulator's fixed-latency model
(`pool-hold-500ms`: a 500 ms answer, about a Circle query's p50 at 70/s), while a task in
the generator's own event loop blocks it for B ms every 100 ms (B = 0: no blocking).
Prints, per B, the lag p50/p99 and the latency p50/p95/p99 the run reports: the basis of
the schedule-lag limit in codeperf.load.loadgen (docs/load.md, "Schedule lag").
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

from pathlib import Path

import aiohttp
import click

from codeperf import cli

from codeperf.experts.config import load
from codeperf.experts.simulator import CALIBRATION_MODELS, SimulatorConfig
from codeperf.harness import exitcodes
from codeperf.load import loadgen, schedules

MODEL = "pool-hold-500ms"


async def _measure(port: int, rate: float, seconds: float, blocks: tuple[int, ...],
                   rounds: int) -> list[dict[str, float]]:
    rows: list[dict[str, float]] = []
    url = f"http://127.0.0.1:{port}/v1"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        for _ in range(100):  # the simulator's start-up
            try:
                async with session.get(f"{url}/models") as reply:
                    await reply.read()
                break
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)

        async def op(i: int) -> None:
            body = {"model": MODEL, "messages": [{"role": "user", "content": "lag"}]}
            async with session.post(f"{url}/chat/completions", json=body) as reply:
                reply.raise_for_status()
                await reply.read()

        for n in range(rounds):
            for block_ms in blocks:
                stop = asyncio.Event()

                async def blocker() -> None:
                    while not stop.is_set():
                        await asyncio.sleep(0.1)
                        time.sleep(block_ms / 1000)  # holds the loop: what a stalled generator does

                task = asyncio.ensure_future(blocker())
                result = await loadgen.run_open(op, schedules.constant(rate), duration_s=seconds)
                stop.set()
                await task
                lat, lag = result.latency, result.schedule_lag
                if not lat.count:
                    click.echo(f"round {n} block {block_ms} ms: no successes {dict(result.errors)}", err=True)
                    continue
                rows.append({"round": n, "block_ms": block_ms, "lag_p99_ms": lag.percentile_ms(99),
                             "p50_ms": lat.percentile_ms(50), "p95_ms": lat.percentile_ms(95),
                             "p99_ms": lat.percentile_ms(99)})
                click.echo(f"round {n} block {block_ms:3d} ms/100 ms: lag p50 {lag.percentile_ms(50):6.2f} "
                           f"p99 {lag.percentile_ms(99):6.2f} ms | latency p50 {lat.percentile_ms(50):6.1f} "
                           f"p95 {lat.percentile_ms(95):6.1f} p99 {lat.percentile_ms(99):6.1f} ms | "
                           f"load average {os.getloadavg()[0]:.1f}")
    return rows


EPILOG = "Exit codes: 0 measured (numbers printed); 2 usage error."


@cli.command(epilog=EPILOG)
@click.option("--rate", type=click.FloatRange(min=1), default=70.0, help="Requests per second.")
@click.option("--seconds", type=click.FloatRange(min=0.5), default=4.0, help="Seconds per run.")
@click.option("--block", "blocks", type=click.IntRange(0, 99), multiple=True,
              default=(0, 5, 10, 20, 40, 80), help="Milliseconds the loop is held every 100 ms.")
@click.option("--rounds", type=click.IntRange(1), default=1, help="Times the list of blocks is run.")
@cli.out_option("Also write the rows to DIR/lag_effect.json. [default: print only]")
@click.option("--port", type=click.IntRange(1, 65535), default=18931, help="Simulator port (loopback).")
def main(rate: float, seconds: float, blocks: tuple[int, ...], rounds: int, port: int,
         out_dir: Path | None) -> None:
    """Latency reported vs schedule lag, with the generator's loop blocked on purpose."""
    config = SimulatorConfig.from_dict(load(None).simulator).with_models(CALIBRATION_MODELS)
    sim = subprocess.Popen([sys.executable, "-m", "codeperf.experts.simulator", "--port", str(port),
                            "--config-json", json.dumps(config.to_dict())],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rows = asyncio.run(_measure(port, rate, seconds, blocks, rounds))
    finally:
        sim.terminate()
        sim.wait()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "lag_effect.json").write_text(json.dumps(rows, indent=2) + "\n")
    cli.exit_with(exitcodes.OK)


if __name__ == "__main__":
    main()
