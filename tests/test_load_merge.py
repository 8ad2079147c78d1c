"""Merging workers' results: exact histograms, summed counts, one lagging worker invalidates."""

from __future__ import annotations

import pickle
import random

import pytest

from codeperf.harness.latency import LatencyHistogram
from codeperf.load.loadgen import LoadResult
from codeperf.load.merge import merge_results


def _worker(samples_us, lags_us, errors, offered):
    r = LoadResult(model="open", offered=offered, sent=len(samples_us) + sum(errors.values()),
                   ok=len(samples_us), sent_on_schedule=offered, elapsed_s=2.0, send_window_s=1.5,
                   loop_cpu_s=0.2, complete=True, stopped_by="budget")
    for v in samples_us:
        r.latency.record_us(v)
        r.service.record_us(v / 2)
    for v in lags_us:
        r.schedule_lag.record_us(v)
    r.errors.update(errors)
    r.timeline["ok"] = [len(samples_us)]
    return r


def test_histograms_merge_exactly_and_counts_add_up():
    rng = random.Random(3)
    a = [rng.lognormvariate(8, 1) for _ in range(3000)]
    b = [rng.lognormvariate(9, 0.5) for _ in range(2000)]
    merged = merge_results([_worker(a, [100] * 10, {"timeout": 2}, 3002),
                            _worker(b, [200] * 10, {"timeout": 1, "http_503": 4}, 2005)])
    whole = LatencyHistogram()
    for v in a + b:
        whole.record_us(v)
    assert merged.latency.to_dict()["hdr"] == whole.to_dict()["hdr"]  # bucket for bucket
    for p in (50, 90, 99, 99.9):
        assert merged.latency.percentile_ms(p) == whole.percentile_ms(p)
    assert merged.ok == 5000 and merged.sent == 5007 and merged.offered == 5007
    assert dict(merged.errors) == {"timeout": 3, "http_503": 4}
    assert merged.timeline["ok"] == [5000]
    summary = merged.to_dict()
    assert [w["summary"]["ok_count"] for w in summary["workers"]] == [3000, 2000]
    assert merged.valid and summary["valid"]


def test_one_lagging_worker_makes_the_run_invalid():
    fine = _worker([1000] * 100, [500] * 100, {}, 100)
    lagging = _worker([1000] * 100, [50_000] * 100, {}, 100)  # 50 ms late: over the 10 ms limit
    merged = merge_results([fine, lagging])
    assert fine.valid and not lagging.valid
    assert not merged.valid
    failed = [c["check"] for c in merged.self_checks() if not c["ok"]]
    assert failed == ["worker1/schedule_lag"]
    # Merged alone, the lag histogram's p99 could hide it; per-worker checks do not.
    assert merge_results([fine, fine]).valid


def test_an_interrupted_worker_makes_the_merge_incomplete():
    done = _worker([1000], [], {}, 1)
    cut = _worker([1000], [], {"unfinished": 1}, 1)
    cut.complete, cut.stopped_by = False, "interrupted"
    merged = merge_results([done, cut])
    assert merged.complete is False and merged.stopped_by == "interrupted"


def test_results_and_histograms_survive_pickling():
    """Ray sends results back pickled: the HdrHistogram goes in its encoded form."""
    r = _worker([1000, 2000, 3000], [10], {"connect": 1}, 4)
    back = pickle.loads(pickle.dumps(r))
    assert back.latency.to_dict()["hdr"] == r.latency.to_dict()["hdr"]
    assert back.summary() == r.summary()


def test_the_loop_threads_cpu_waits_add_up_and_unmeasured_stays_unmeasured():
    a, b = _worker([1000], [], {}, 1), _worker([1000], [], {}, 1)
    assert merge_results([a, b]).loop_wait_s is None  # neither measured: not zero
    a.loop_wait_s, a.loop_wakeups = 0.25, 100
    b.loop_wait_s, b.loop_wakeups = 0.5, 40
    merged = merge_results([a, b])
    assert merged.loop_wait_s == 0.75 and merged.loop_wakeups == 140
    assert merged.summary()["generator_cpu_wait_ms"] == 750.0
    per_worker = [w["summary"]["generator_cpu_wait_ms"] for w in merged.to_dict()["workers"]]
    assert per_worker == [250.0, 500.0]


def test_expert_stats_where_no_worker_answered_say_so_not_an_assertion():
    # Every worker killed (e.g. by Ray's out-of-memory killer): the pool hands back no
    # statistics; the partial-results builder must get a clear reason, not `assert`.
    from codeperf.load import expert_workers

    held: list = [(object(), [None, None])]
    with pytest.raises(expert_workers.NoWorkerStatistics, match="no worker returned its statistics"):
        expert_workers.merged(held)
    assert len(held) == 1  # nothing half-merged left behind
