"""The schedule partition: N workers together send exactly the single-process schedule."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeperf.load import partition, schedules


def _take(schedule, n):
    return list(itertools.islice(schedule.offsets(), n))


SCHEDULES = st.one_of(
    st.builds(schedules.constant, st.floats(0.5, 20_000)),
    st.builds(schedules.poisson, st.floats(0.5, 20_000), st.integers(0, 1000)),
    st.builds(schedules.ramp, st.floats(1, 500), st.floats(1, 500), st.floats(0.1, 10)),
    st.builds(schedules.burst, st.integers(1, 400), st.floats(0.2, 10), st.floats(0, 0.2),
              st.just(0.0), st.floats(0, 50)),
)


@settings(max_examples=60, deadline=None)
@given(SCHEDULES, st.integers(1, 8), st.integers(0, 600))
def test_union_of_parts_is_the_single_process_schedule(schedule, workers, n):
    whole = _take(schedule, n)
    budgets = [partition.local_budget(n, k, workers) for k in range(workers)]
    assert sum(budgets) == n
    union = {}
    for k in range(workers):
        for local, offset in enumerate(_take(partition.part(schedule, k, workers), budgets[k])):
            index = partition.global_index(local, k, workers)
            assert index not in union  # no send is sent twice
            union[index] = offset
    assert [union[i] for i in range(n)] == whole  # every send, at its global intended time


@settings(max_examples=60, deadline=None)
@given(SCHEDULES, st.integers(1, 8), st.floats(0.01, 5))
def test_offered_counts_add_up_within_a_window(schedule, workers, window):
    cap = 5000
    whole = schedule.count_before(window, cap)
    parts = sum(partition.part(schedule, k, workers).count_before(
        window, partition.local_budget(cap, k, workers)) for k in range(workers))
    assert parts == whole


@given(st.integers(0, 10_000), st.integers(1, 64))
def test_shares_add_up_and_differ_by_at_most_one(total, workers):
    split = partition.shares(total, workers)
    assert sum(split) == total and len(split) == workers
    assert max(split) - min(split) <= 1


def test_a_burst_spike_is_spread_over_every_worker():
    """Each worker sends its part of the spike across the whole 100 ms window."""
    spike = schedules.burst(900, every_s=10, spread_s=0.1)
    for k in range(2):
        mine = _take(partition.part(spike, k, 2), 450)
        assert mine[0] < 0.001 and 0.099 <= mine[-1] < 0.1


def test_bad_worker_numbers_are_refused():
    with pytest.raises(ValueError):
        partition.part(schedules.constant(10), 2, 2)
    with pytest.raises(ValueError):
        partition.shares(10, 0)
