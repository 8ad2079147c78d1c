"""SLOs and goodput (vLLM's definition): parsing, per-query judgement, violations by bound."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from codeperf.experts import config
from codeperf.experts.orchestrator import ExpertCall, QueryResult
from codeperf.experts.slo import Slo, SloError, SloTally
from codeperf.harness import exitcodes


def _call(ttft=100.0, itl=(20.0, 20.0), tpot=20.0, latency=500.0, status="ok"):
    call = ExpertCall("e", "m", status=status, ttft_ms=ttft, latency_ms=latency, tpot_ms=tpot)
    call.itl_ms = list(itl) if itl is not None else None
    return call


def _query(*calls, ok=True, total_ms=600.0):
    return QueryResult("q", quorum=len(calls), calls=list(calls), ok=ok, total_ms=total_ms)


def test_parse_and_merge():
    slo = Slo.parse(["ttft_ms=500", "e2e_ms=2000"])
    assert slo.bounds == {"ttft_ms": 500.0, "e2e_ms": 2000.0}
    assert Slo({"e2e_ms": 1000.0, "itl_ms": 50.0}).merged(slo).bounds == {
        "e2e_ms": 2000.0, "itl_ms": 50.0, "ttft_ms": 500.0}  # the command line wins


@pytest.mark.parametrize("items", [["ttft=500"], ["ttft_ms"], ["ttft_ms=fast"], ["e2e_ms=0"],
                                   ["itl_ms=-3"]])
def test_bad_bounds_are_refused(items):
    with pytest.raises(SloError):
        Slo.parse(items)


def test_experts_file_slo_table_is_checked():
    base = {"expert": [{"name": "a", "base_url": "simulator", "model": "m"}]}
    assert config.parse({**base, "slo": {"ttft_ms": 300}}).slo == {"ttft_ms": 300.0}
    with pytest.raises(config.ExpertsConfigError, match="unknown bound"):
        config.parse({**base, "slo": {"latency": 3}})
    with pytest.raises(config.ExpertsConfigError, match="must be a table"):
        config.parse({**base, "slo": 5})


def test_violations_are_partitioned_by_bound():
    slo = Slo.parse(["ttft_ms=200", "itl_ms=50", "tpot_ms=30", "e2e_ms=1000"])
    assert slo.violations(_query(_call(), _call())) == []
    assert slo.violations(_query(_call(), _call(ttft=300))) == ["ttft_ms"]
    assert slo.violations(_query(_call(itl=(40, 80)))) == ["itl_ms"]  # mean 60 > 50
    assert slo.violations(_query(_call(tpot=31))) == ["tpot_ms"]
    assert slo.violations(_query(_call(), total_ms=1500)) == ["e2e_ms"]
    assert sorted(slo.violations(_query(_call(ttft=300, tpot=40), total_ms=1500))) == [
        "e2e_ms", "tpot_ms", "ttft_ms"]
    assert slo.violations(_query(_call(), ok=False)) == ["failed"]


def test_unmeasurable_values():
    slo = Slo.parse(["ttft_ms=200", "itl_ms=50", "tpot_ms=30"])
    # Non-streamed: no TTFT, so the whole latency stands in for it; no ITL/TPOT to judge.
    assert slo.violations(_query(_call(ttft=None, itl=None, tpot=None, latency=150))) == []
    assert slo.violations(_query(_call(ttft=None, itl=None, tpot=None, latency=250))) == [
        "ttft_ms"]
    # One chunk: ITL not measurable, nothing to violate.
    assert slo.violations(_query(_call(itl=None))) == []


def test_goodput_counts_queries_meeting_every_bound_per_second():
    tally = SloTally(Slo.parse(["ttft_ms=200", "e2e_ms=1000"]))
    for query in (_query(_call()), _query(_call()), _query(_call(ttft=300)),
                  _query(_call(), total_ms=2000), _query(_call(), ok=False)):
        tally.record(query)
    data = tally.to_dict(duration_s=2.0)
    assert data["queries"] == 5 and data["met"] == 2
    assert data["slo_met_pct"] == pytest.approx(40.0)
    assert data["goodput_qps"] == pytest.approx(1.0)  # 2 good queries in 2 s
    assert data["violations_by_bound"] == {"e2e_ms": 1, "failed": 1, "ttft_ms": 1}
    # No SLO: every successful query is good.
    plain = SloTally(Slo())
    plain.record(_query(_call(ttft=9999)))
    plain.record(_query(_call(), ok=False))
    assert plain.summary(1.0)["goodput_qps"] == 1.0


def test_bad_slo_on_the_command_line_is_a_usage_error(tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "load_scenarios.py"
    spec = importlib.util.spec_from_file_location("load_scenarios_slo", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    result = CliRunner().invoke(module.main, ["--out", str(tmp_path), "--no-calibration",
                                              "--scenario", "single-query",
                                              "--slo", "latency=5"])
    assert result.exit_code == exitcodes.USAGE
    assert "unknown bound" in result.output
