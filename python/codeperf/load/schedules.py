"""Arrival schedules of the open model: intended send times, in seconds from the start.

`constant`, `poisson`, `ramp` and `burst` each return a `Schedule`, an endless
iterator of offsets that `codeperf.load.loadgen.run_open` sends on.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable, Iterator


@dataclass(frozen=True)
class Schedule:
    """Intended send times (seconds from the start) of an open-model run."""

    name: str
    params: dict[str, Any]
    _offsets: Callable[[], Iterator[float]]

    def offsets(self) -> Iterator[float]:
        return self._offsets()

    def count_before(self, seconds: float, cap: int | None = None) -> int:
        """How many sends the schedule offers in [0, seconds) (at most `cap`)."""
        n = 0
        for off in self.offsets():
            if off >= seconds or (cap is not None and n >= cap):
                break
            n += 1
        return n

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}


def constant(rate_rps: float) -> Schedule:
    """One request every 1/rate seconds."""
    if rate_rps <= 0:
        raise ValueError("rate_rps must be positive")
    interval = 1.0 / rate_rps

    def gen() -> Iterator[float]:
        i = 0
        while True:
            yield i * interval  # multiply, not accumulate: no drift over long runs
            i += 1

    return Schedule("constant", {"rate_rps": rate_rps}, gen)


def poisson(rate_rps: float, seed: int = 0) -> Schedule:
    """Exponential inter-arrival times with mean 1/rate (a Poisson process), reproducible by seed."""
    if rate_rps <= 0:
        raise ValueError("rate_rps must be positive")

    def gen() -> Iterator[float]:
        rng = random.Random(seed)
        t = 0.0
        while True:
            yield t
            t += rng.expovariate(rate_rps)

    return Schedule("poisson", {"rate_rps": rate_rps, "seed": seed}, gen)


def ramp(start_rps: float, end_rps: float, ramp_s: float) -> Schedule:
    """Rate rising (or falling) linearly from start to end over ramp_s, then held at end."""
    if start_rps <= 0 or end_rps <= 0 or ramp_s <= 0:
        raise ValueError("ramp rates and duration must be positive")
    slope = (end_rps - start_rps) / ramp_s

    def gen() -> Iterator[float]:
        # The n-th send is where the integral of the rate reaches n.
        n = 0
        area_at_end = (start_rps + end_rps) / 2.0 * ramp_s
        while True:
            if n < area_at_end:
                if slope == 0:
                    yield n / start_rps
                else:
                    yield (-start_rps + math.sqrt(start_rps ** 2 + 2 * slope * n)) / slope
            else:
                yield ramp_s + (n - area_at_end) / end_rps
            n += 1

    return Schedule("ramp", {"start_rps": start_rps, "end_rps": end_rps, "ramp_s": ramp_s}, gen)


def burst(size: int, every_s: float, spread_s: float = 0.1, first_at_s: float = 0.0,
          baseline_rps: float = 0.0) -> Schedule:
    """`size` requests spread evenly over `spread_s`, repeated every `every_s`; an optional
    constant baseline rate runs between bursts."""
    if size <= 0 or every_s <= 0 or spread_s < 0:
        raise ValueError("burst size and period must be positive")

    def bursts() -> Iterator[float]:
        k = 0
        while True:
            start = first_at_s + k * every_s
            for j in range(size):
                yield start + spread_s * j / size
            k += 1

    def gen() -> Iterator[float]:
        if baseline_rps <= 0:
            yield from bursts()
            return
        base = constant(baseline_rps).offsets()
        spikes = bursts()
        a, b = next(base), next(spikes)
        while True:
            if a <= b:
                yield a
                a = next(base)
            else:
                yield b
                b = next(spikes)

    return Schedule("burst", {"size": size, "every_s": every_s, "spread_s": spread_s,
                              "first_at_s": first_at_s, "baseline_rps": baseline_rps}, gen)
