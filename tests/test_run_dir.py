"""reports/latest stays a link: suite scripts and `make perf` give each run a directory and
move the link atomically; a `latest` that cannot be moved is an error saying why."""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.harness import exitcodes
from codeperf.harness.run_dir import LatestLinkError, resolve_out
from codeperf.perf_run import run_perf

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture
def fresh_clone(tmp_path, monkeypatch):
    """cwd = an empty checkout; CODEPERF_RUN_ID unset now and restored afterwards
    (resolve_out sets it for the envelope written next)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CODEPERF_RUN_ID", "placeholder")
    monkeypatch.delenv("CODEPERF_RUN_ID")
    return tmp_path


def _leftovers(reports: Path) -> list[str]:
    return [p.name for p in reports.iterdir() if p.name.startswith(".latest")]


def test_a_suite_without_out_gets_a_run_directory_and_the_link(fresh_clone):
    first = resolve_out(None)
    latest = fresh_clone / "reports" / "latest"
    assert latest.is_symlink() and latest.resolve() == first.resolve()
    assert first.parent == Path("reports") and os.environ["CODEPERF_RUN_ID"] == first.name
    os.environ.pop("CODEPERF_RUN_ID")
    second = resolve_out(None)
    assert second != first and latest.resolve() == second.resolve() and first.is_dir()
    assert not _leftovers(fresh_clone / "reports")


def test_out_latest_adds_to_the_run_it_points_at_or_starts_one(fresh_clone):
    started = resolve_out("reports/latest")  # no link yet: a new run, linked
    assert (fresh_clone / "reports" / "latest").is_symlink()
    assert resolve_out("reports/latest") == started.resolve()  # then: the same run
    assert resolve_out("elsewhere") == Path("elsewhere")  # any other --out: as given


def test_a_plain_latest_directory_is_an_error_that_says_why(fresh_clone):
    (fresh_clone / "reports" / "latest").mkdir(parents=True)
    with pytest.raises(LatestLinkError, match=r"is a directory, not a link.*mv "):
        resolve_out(None)
    with pytest.raises(LatestLinkError, match="is a directory"):
        resolve_out("reports/latest")
    assert not _leftovers(fresh_clone / "reports")


def test_suite_script_exits_2_on_a_latest_it_cannot_move(fresh_clone):
    (fresh_clone / "reports" / "latest").mkdir(parents=True)
    result = CliRunner().invoke(_script("load_scenarios"), ["--scenario", "single-query"])
    assert result.exit_code == exitcodes.USAGE
    assert "load_scenarios: reports/latest is a directory, not a link" in result.stderr
    assert not any((fresh_clone / "reports" / "latest").iterdir())


def _stand_in_suite(scripts: Path) -> None:
    scripts.mkdir()
    (scripts / "memory_profile.py").write_text(
        "import sys\nfrom pathlib import Path\n"
        "from codeperf.harness.envelope import Recorder\n"
        "out = Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "with Recorder('memory', out, config={}, environment={'backend': 'python'}) as rec:\n"
        "    rec.mark_complete()\n")


def test_one_suite_then_make_perf_twice_keeps_latest_a_link(fresh_clone, monkeypatch):
    """The issue's sequence: a lone suite run on a fresh clone, then `make perf` twice."""
    monkeypatch.setenv("CODEPERF_TARGETS", str(ROOT / "tests" / "data" / "report" / "targets.toml"))
    reports = fresh_clone / "reports"
    lone = resolve_out(None)
    os.environ.pop("CODEPERF_RUN_ID")
    scripts = fresh_clone / "scripts"
    _stand_in_suite(scripts)
    runs = []
    for _ in range(2):
        result = run_perf(reports, scripts, suites=["memory"], echo=io.BytesIO(), charts=False)
        runs.append(result.run_dir)
        latest = reports / "latest"
        assert latest.is_symlink() and latest.resolve() == result.run_dir.resolve()
        assert (latest / "report.md").is_file()
        assert not _leftovers(reports)
    assert len({lone.name, *(r.name for r in runs)}) == 3


def test_make_perf_refuses_a_plain_latest_directory(fresh_clone, tmp_path):
    reports = fresh_clone / "reports"
    (reports / "latest").mkdir(parents=True)
    (reports / "latest" / "memory.json").write_text("{}")  # an old suite run's output
    result = CliRunner().invoke(_script("perf"), ["--out", str(reports / "latest"),
                                                  "--scripts", str(tmp_path / "none")])
    assert result.exit_code == exitcodes.USAGE, result.output
    assert "is a directory, not a link" in result.stderr
    assert sorted(p.name for p in reports.iterdir()) == ["latest"]  # no run dir, no .latest.<pid>
    assert (reports / "latest" / "memory.json").read_text() == "{}"
