"""scripts/engine_ab.py: builds side by side in one process; results checked before timing.

Timings are not asserted (shared machine); the rows, the check and the exit codes are.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]


def _script():
    spec = importlib.util.spec_from_file_location("engine_ab_script", ROOT / "scripts" / "engine_ab.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _built() -> Path:
    from codeperf import _rust
    return Path(_rust.__file__)


@pytest.mark.needs_rust
def test_two_builds_are_timed_per_operation_in_one_process(tmp_path):
    so = _built()
    result = CliRunner().invoke(_script().main, [str(so), str(so), "--responses", "3", "--size", "256",
                                                 "--rounds", "2", "--calls", "1",
                                                 "--ops", "analyze,aggregate", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith(("analyze", "aggregate"))]
    assert [(r[0], r[-1]) for r in rows] == [("analyze", str(so))] * 2 + [("aggregate", str(so))] * 2
    assert all(float(r[1]) > 0 for r in rows)
    data = json.loads((tmp_path / "engine_ab.json").read_text())
    assert [(r["op"], len(r["round_s"])) for r in data["rows"]] == [("analyze", 2)] * 2 + [("aggregate", 2)] * 2


@pytest.mark.needs_rust
def test_builds_that_disagree_are_not_timed(monkeypatch):
    script = _script()
    real = script.load_build

    def second_differs(path, k):
        module = real(path, k)
        if k == 0:
            return module

        class Wrong:
            def __getattr__(self, name):
                fn = getattr(module, name)
                return lambda *a, **kw: {"changed": fn(*a, **kw)}
        return Wrong()

    monkeypatch.setattr(script, "load_build", second_differs)
    so = str(_built())
    result = CliRunner().invoke(script.main, [so, so, "--responses", "2", "--size", "128", "--ops", "analyze"])
    assert result.exit_code == 1 and "results differ" in result.stderr
    assert "analyze " not in result.stdout


def test_unknown_operation_and_unloadable_build_are_usage_errors(tmp_path):
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    script = _script()
    assert CliRunner().invoke(script.main, [str(junk), "--ops", "sort"]).exit_code == 2
    result = CliRunner().invoke(script.main, [str(junk), "--ops", "analyze"])
    assert result.exit_code == 2 and "cannot load a build" in result.stderr
