"""scripts/engine_speed.py (`make speed-check`): exit codes and the --out file, on a tiny input.

Timings on this shared machine are not asserted; what is checked is that the exit
code, the printed verdicts and the written file agree with each other.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner



ROOT = Path(__file__).resolve().parents[1]


def _main():
    spec = importlib.util.spec_from_file_location("engine_speed_script", ROOT / "scripts" / "engine_speed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.needs_rust
def test_out_writes_every_block_and_the_exit_code_follows_the_goals(tmp_path):
    result = CliRunner().invoke(_main(), ["--responses", "4", "--size", "128", "--repeat", "2",
                                          "--corpus", "own", "--out", str(tmp_path)])
    assert result.exit_code in (0, 1), result.output
    data = json.loads((tmp_path / "engine_speed.json").read_text())
    assert result.exit_code == (0 if data["all_goals_met"] else 1)
    assert [r["op"] for r in data["rows"]] == ["analyze", "consensus_cosine", "consensus_jaccard",
                                               "aggregate"]
    for row in data["rows"]:
        assert row["correct"] is True and len(row["python_block_s"]) == len(row["rust_block_s"]) == 2
        ratio = statistics.median(row["python_block_s"]) / statistics.median(row["rust_block_s"])
        assert row["ratio_of_medians"] == pytest.approx(ratio)
        assert row["goal_op"] == ">="  # the real targets.toml: every family's goals are there
        assert row["goal_met"] == (ratio >= row["goal_speedup"])
    assert data["all_goals_met"] == all(r["goal_met"] for r in data["rows"]) \
        and data["rows"][0]["mb_s_goal_met"] is not None


@pytest.mark.needs_rust
def test_goals_come_from_the_targets_file(tmp_path, monkeypatch):
    """Only what $CODEPERF_TARGETS holds is judged, by its own comparison and threshold:
    an analyze goal no engine meets fails the run (exit 1) and is the one shown; goals the
    file lacks judge nothing (no silent pass against 0)."""
    targets = tmp_path / "targets.toml"
    targets.write_text('[[target]]\nsuite = "bench_rust"\nname = "s"\nmetric = "speedup.analyze"\n'
                       'op = ">="\nthreshold = 1e9\nunit = "x"\n')
    monkeypatch.setenv("CODEPERF_TARGETS", str(targets))
    args = ["--responses", "4", "--size", "128", "--repeat", "1", "--corpus", "own"]
    result = CliRunner().invoke(_main(), args + ["--out", str(tmp_path / "a")])
    assert result.exit_code == 1, result.output
    rows = json.loads((tmp_path / "a" / "engine_speed.json").read_text())["rows"]
    assert (rows[0]["goal_speedup"], rows[0]["goal_op"], rows[0]["goal_met"]) == (1e9, ">=", False)
    assert rows[0]["goal_mb_s"] is None and rows[0]["mb_s_goal_met"] is None
    assert all(r["goal_speedup"] is None and r["goal_met"] is None for r in rows[1:])
    assert ">=1e+09x" in result.output
    # The same run with that goal made reachable by its comparison: every goal met, exit 0.
    targets.write_text(targets.read_text().replace('op = ">="', 'op = "<"'))
    result = CliRunner().invoke(_main(), args + ["--out", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "b" / "engine_speed.json").read_text())["rows"]
    assert (rows[0]["goal_op"], rows[0]["goal_met"]) == ("<", True)


def test_unknown_family_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(_main(), ["--corpus", "poetry", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown corpus family poetry" in result.stderr
    assert not (tmp_path / "engine_speed.json").exists()


def test_out_must_be_a_directory(tmp_path):
    file = tmp_path / "f"
    file.write_text("")
    assert CliRunner().invoke(_main(), ["--out", str(file)]).exit_code == 2
