"""scripts/load_scale.py (make load-scale): options and one small run without Ray."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.harness import exitcodes

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load_scale.py"


def _cli():
    spec = importlib.util.spec_from_file_location("load_scale_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize("args", [["--workers", "0"], ["--workers", "a"], ["--seconds", "0"],
                                  ["--rounds", "0"], ["--simulator-nice", "20"],
                                  ["--loop", "trio"], ["--simulator-processes", "0"],
                                  ["--part", "closed"], ["--endpoint-nice", "20"]])
def test_bad_options_are_usage_errors(tmp_path, args):
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), *args])
    assert result.exit_code == exitcodes.USAGE, result.output
    assert not (tmp_path / "load_scale.json").exists()


def test_uvloop_asked_for_but_missing_is_a_usage_error(tmp_path, monkeypatch):
    from codeperf.load import event_loops

    monkeypatch.setattr(event_loops, "uvloop_installed", lambda: False)
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), "--loop", "uvloop",
                                         "--no-burst"])
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "uvloop is not installed" in result.output


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_one_worker_run_writes_every_measurement(tmp_path, loop):
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), "--workers", "1",
                                         "--seconds", "0.3", "--no-burst", "--loop", loop])
    assert result.exit_code == exitcodes.OK, result.output
    data = json.loads((tmp_path / "load_scale.json").read_text())
    assert [r["measurement"] for r in data["rows"]] == [
        "closed, minimal client", "closed, minimal client", "closed, minimal client",
        "closed, aiohttp client", "open 10000/s, minimal client"]
    assert all(r["throughput_rps"] for r in data["rows"])
    assert data["config"]["event_loop"] == loop
    assert all(r["requests_per_loop_cpu_s"] > 0 for r in data["rows"])
    open_row = data["rows"][-1]
    assert isinstance(open_row["late_sends_by_second"], list)
    assert sum(open_row["late_sends_by_second"]) <= open_row["throughput_rps"] * 0.3 + 1
    assert "late, per second" in result.output
    assert [w["threads"] for w in data["wrk"]] == [1, 1, 1]  # --rounds 3 by default
    for wrk in data["wrk"]:
        assert wrk["available"] is False or wrk["requests_per_s"] > 0  # measured, or said why not


def test_minimal_client_and_wrk_alternate_and_are_compared_by_their_medians(tmp_path):
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), "--workers", "1",
                                         "--seconds", "0.3", "--no-burst", "--rounds", "2"])
    assert result.exit_code == exitcodes.OK, result.output
    data = json.loads((tmp_path / "load_scale.json").read_text())
    assert [(r["measurement"], r.get("round")) for r in data["rows"]] == [
        ("closed, minimal client", 1), ("closed, minimal client", 2),
        ("closed, aiohttp client", None), ("open 10000/s, minimal client", None)]
    assert [w["round"] for w in data["wrk"]] == [1, 2]
    (c,) = data["comparison"]
    assert c["workers"] == 1 and len(c["minimal_rps"]) == 2
    if all(w["available"] for w in data["wrk"]):
        assert c["ratio_of_medians"] == pytest.approx(c["minimal_median_rps"] / c["wrk_median_rps"])
        assert len(c["ratio_per_round"]) == 2
    assert "alternated rounds" in result.output


def test_compare_takes_medians_ratios_and_spreads():
    from codeperf.load.scaling import compare

    ours = [{"throughput_rps": 10.0}, {"throughput_rps": 30.0}, {"throughput_rps": 20.0}]
    wrk = [{"requests_per_s": 40.0}, {"requests_per_s": 20.0}, {"requests_per_s": None}]
    c = compare(2, ours, wrk)
    assert c["minimal_median_rps"] == 20.0 and c["wrk_median_rps"] == 30.0
    assert c["ratio_of_medians"] == pytest.approx(20.0 / 30.0)
    assert c["ratio_per_round"] == [0.25, 1.5]  # the round without a wrk figure is left out
    assert c["minimal_spread_x"] == 3.0 and c["wrk_spread_x"] == 2.0
    assert compare(1, ours, [])["ratio_of_medians"] is None


def test_part_open_runs_the_open_model_alone_and_says_what_waited(tmp_path):
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), "--workers", "1",
                                         "--seconds", "0.3", "--part", "open"])
    assert result.exit_code == exitcodes.OK, result.output
    data = json.loads((tmp_path / "load_scale.json").read_text())
    assert [r["measurement"] for r in data["rows"]] == ["open 10000/s, minimal client"]
    assert data["wrk"] == [] and data["comparison"] == [] and "burst" not in data
    assert data["config"]["parts"] == ["open"]
    (row,) = data["rows"]
    assert len(row["generator_cpu_wait_ms"]) == len(row["max_in_flight_count"]) == 1
    assert row["max_in_flight_count"][0] >= 1
    if Path("/proc/thread-self/schedstat").exists():  # Linux: measured
        assert row["generator_cpu_wait_ms"][0] >= 0
        assert row["endpoint_cpu_ms"] > 0 and row["endpoint_wakeups"] > 0
        assert row["machine_cpu_ms"]["busy"] > 0 and row["machine_cpu_ms"]["steal"] >= 0
    assert "waited" in result.output and "endpoint CPU" in result.output


def test_parts_keep_their_order_and_no_burst_removes_the_burst(tmp_path):
    result = CliRunner().invoke(_cli(), ["--out", str(tmp_path), "--workers", "1",
                                         "--seconds", "0.3", "--rounds", "1", "--part", "burst",
                                         "--part", "rates", "--no-burst",
                                         "--endpoint-nice", "5"])
    assert result.exit_code == exitcodes.OK, result.output
    data = json.loads((tmp_path / "load_scale.json").read_text())
    assert data["config"]["parts"] == ["rates"]
    assert [r["measurement"] for r in data["rows"]] == [
        "closed, minimal client", "closed, aiohttp client"]
    assert data["endpoint"]["nice"] == 5 and data["config"]["endpoint_nice"] == 5
