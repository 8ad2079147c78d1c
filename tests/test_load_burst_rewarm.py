"""The burst re-opens its connections before every spike after the first (Rewarm)."""

from __future__ import annotations

import asyncio

import pytest

from codeperf.load import expert_scenarios, loadgen, schedules
from codeperf.load.expert_scenarios import Rewarm


def _run(rewarm: Rewarm, spikes: int, size: int, monkeypatch) -> tuple[list, list[int]]:
    events: list[tuple[str, int]] = []

    async def fake_open(session, experts, queries, timeout_s=10.0):
        events.append(("rewarm", queries))
        return queries * 3

    monkeypatch.setattr(expert_scenarios, "_open_connections", fake_open)

    async def op(i: int) -> None:
        events.append(("send", i))

    async def main() -> list[int]:
        schedule = schedules.burst(size, rewarm.every_s, spread_s=0.01)
        async with rewarm.around(op, None, None, size) as (wrapped, opened):
            await loadgen.run_open(wrapped, schedule, max_requests=size * spikes,
                                   duration_s=rewarm.every_s * spikes)
        return opened

    opened = asyncio.run(main())
    return events, opened


def test_each_spike_but_the_last_plans_a_rewarm_before_the_next(monkeypatch):
    size, spikes = 4, 3
    events, opened = _run(Rewarm(size, spikes, every_s=0.5, lead_s=0.3), spikes, size, monkeypatch)
    assert opened == [12, 12]  # after spikes 1 and 2; none after the last
    # Each re-warm came after its spike's sends and before the next spike's first send.
    order = [e[0] if e[0] == "rewarm" else e[1] // size for e in events]
    assert order == [0] * size + ["rewarm"] + [1] * size + ["rewarm"] + [2] * size


def test_no_rewarm_when_switched_off_or_when_the_lead_leaves_no_time(monkeypatch):
    for rewarm in (Rewarm(2, 2, every_s=0.2, lead_s=0.0), Rewarm(2, 2, every_s=0.2, lead_s=0.3)):
        events, opened = _run(rewarm, 2, 2, monkeypatch)
        assert opened == [] and all(kind == "send" for kind, _ in events)


def test_a_pending_rewarm_is_cancelled_when_the_run_ends(monkeypatch):
    started = []

    async def fake_open(session, experts, queries, timeout_s=10.0):
        started.append(queries)
        return 0

    monkeypatch.setattr(expert_scenarios, "_open_connections", fake_open)

    async def main() -> list[int]:
        rewarm = Rewarm(size=1, spikes=2, every_s=60.0, lead_s=1.0)  # due in 59 s
        async with rewarm.around(lambda i: asyncio.sleep(0), None, None, 1) as (op, opened):
            await op(0)
        return opened

    assert asyncio.run(asyncio.wait_for(main(), 5)) == [] and started == []


def test_the_rewarm_option_is_a_non_negative_number():
    from codeperf.load import registry

    registry.load_registered()
    assert registry.validate_options(["burst"], {"burst_rewarm_s": 0}) == {"burst_rewarm_s": 0.0}
    with pytest.raises(registry.OptionError, match="burst_rewarm_s"):
        registry.validate_options(["burst"], {"burst_rewarm_s": -1})
