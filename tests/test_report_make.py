"""`make perf-quick` end to end (with stand-in suite scripts) and the real targets file.

The real suites run in CI (.github/workflows/perf.yml runs `make perf-quick` on
every pull request); here the Makefile's wiring is checked in seconds: the
build stamps are marked up to date with `make -o` so no Rust build starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from _availability import unavailable
from codeperf.harness.targets import load_specs
from codeperf.report import build_report

ROOT = Path(__file__).resolve().parents[1]
STAMPS = [".venv/.requirements-installed", ".venv/.rust-extension-built"]


@pytest.fixture(autouse=True)
def _make_installed():
    # Skips locally without make; fails under CI=true (tests/_availability.py).
    if shutil.which("make") is None:
        unavailable("make not installed")


def make(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = ["make", "--no-print-directory"]
    for stamp in STAMPS:
        command += ["-o", stamp]
    return subprocess.run(command + list(args), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture
def env(tmp_path):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "python")
    env["CODEPERF_TARGETS"] = str(ROOT / "tests" / "data" / "report" / "targets.toml")
    for inherited in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CODEPERF_RUN_ID"):
        env.pop(inherited, None)  # e.g. when pytest itself runs under `make test`
    env.pop("BASELINE", None)
    env.pop("QUICK", None)
    return env


def test_make_perf_quick_writes_the_report_then_fails(tmp_path, env):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    # One suite that passes its targets; the other three scripts are missing.
    (scripts / "mcp_bench.py").write_text(
        "import sys\n"
        "from pathlib import Path\n"
        "from codeperf.harness.envelope import Recorder\n"
        "from codeperf.harness.targets import evaluate\n"
        "out = Path(sys.argv[sys.argv.index('--out') + 1])\n"
        "assert '--quick' in sys.argv\n"
        "with Recorder('mcp', out, config={'quick': True}, environment={}) as rec:\n"
        "    for t in evaluate('mcp', {'tool_calls.mean_ms': 2.0, 'tool_calls.completed': 1200}):\n"
        "        rec.add_target(t)\n"
        "    rec.mark_complete()\n")
    reports = tmp_path / "reports"
    result = make("perf-quick", f"PERF_ARGS=--out {reports}/latest --scripts {scripts}", env=env)
    assert result.returncode != 0, result.stdout + result.stderr
    latest = reports / "latest"
    assert latest.is_symlink()
    text = (latest / "report.md").read_text()
    assert "## Verdict: ❌ FAIL" in text
    assert "| ✅ PASS | MCP tool calls handled | mcp | 1,200 calls |" in text
    assert "scripts/bench_rust.py does not exist" in text
    assert "[perf] report:" in result.stderr

    # make report re-aggregates the same run, comparing it with itself.
    again = make("report", f"RUN={latest}", f"BASELINE={latest}", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "## Comparison with baseline" in (latest / "report.md").read_text()


def test_every_target_in_targets_toml_is_in_the_table(tmp_path):
    specs = load_specs(ROOT / "targets.toml")
    report = build_report(tmp_path, out_dir=tmp_path / "out", charts=False,
                          targets_path=ROOT / "targets.toml")
    text = report.markdown_path.read_text()
    assert len(report.rows) == len(specs) > 0
    for spec in specs:
        assert f"| ⏭️ not run | {spec.name} | {spec.suite} |" in text
    assert report.verdict.status == "incomplete"
