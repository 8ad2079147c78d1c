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
        assert row["goal_met"] == (ratio >= row["goal_speedup"])
    assert data["all_goals_met"] == all(r["goal_met"] for r in data["rows"]) \
        and data["rows"][0]["mb_s_goal_met"] is not None


def test_unknown_family_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(_main(), ["--corpus", "poetry", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown corpus family poetry" in result.stderr
    assert not (tmp_path / "engine_speed.json").exists()


def test_out_must_be_a_directory(tmp_path):
    file = tmp_path / "f"
    file.write_text("")
    assert CliRunner().invoke(_main(), ["--out", str(file)]).exit_code == 2
