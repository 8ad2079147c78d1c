"""scripts/aggregate_report.py and scripts/perf.py (make perf's driver): exit codes and outputs.

The perf driver is exercised with small stand-in suite scripts written here, so
the orchestration (shared run id, --quick, a failing, crashing, missing or hung
suite, the report written before the exit code) is tested in seconds.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from codeperf.perf_run import run_perf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "report"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fixture_targets(monkeypatch):
    monkeypatch.setenv("CODEPERF_TARGETS", str(DATA / "targets.toml"))


@pytest.fixture
def aggregate():
    return load_script("aggregate_report").main


def test_aggregate_writes_the_report(tmp_path, aggregate, fixture_targets):
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    result = CliRunner().invoke(aggregate, ["--out", str(run), "--no-charts"])
    assert result.exit_code == 0, result.output
    assert "verdict: PASS" in result.stderr
    for name in ("report.md", "report.html", "summary.json"):
        assert (run / name).is_file()


def _with_instruction_counts(src: Path, dest: Path, rust_analyze: int) -> Path:
    """A fixture run plus bench_rust instruction counts (the engine's gate)."""
    shutil.copytree(src, dest)
    path = dest / "bench_rust.json"
    data = json.loads(path.read_text())
    data["results"].append({"id": "instructions/analyze/rust/100x2KB", "kind": "instructions",
                            "op": "analyze", "backend": "rust", "scale": 100, "size_bytes": 2048,
                            "instructions": rust_analyze, "tool": "valgrind-callgrind 3.19.0"})
    path.write_text(json.dumps(data))
    return dest


def test_aggregate_fail_on_regression(tmp_path, aggregate, fixture_targets):
    run = _with_instruction_counts(DATA / "run_pass", tmp_path / "run", 2_200_000)  # +10 %
    base = _with_instruction_counts(DATA / "baseline", tmp_path / "base", 2_000_000)
    args = ["--out", str(run), "--report-dir", str(tmp_path / "out"), "--no-charts", "--baseline", str(base)]
    assert CliRunner().invoke(aggregate, args).exit_code == 0
    result = CliRunner().invoke(aggregate, args + ["--fail-on-regression"])
    assert result.exit_code == 1
    assert "instructions/analyze/rust/100x2KB instructions" in result.stderr
    # bench_rust's wall-clock figures (the fixture's speedup drop too) are informational.
    assert "speedup_x" not in result.stderr and "median_s" not in result.stderr
    same = ["--out", str(DATA / "run_pass"), "--report-dir", str(tmp_path), "--no-charts",
            "--baseline", str(DATA / "run_pass"), "--fail-on-regression"]
    assert CliRunner().invoke(aggregate, same).exit_code == 0


def test_aggregate_usage_errors(tmp_path, aggregate):
    assert CliRunner().invoke(aggregate, ["--out", str(tmp_path / "nope")]).exit_code == 2
    result = CliRunner().invoke(aggregate, ["--out", str(tmp_path), "--fail-on-regression"])
    assert result.exit_code == 2


def test_aggregate_names_a_malformed_file(tmp_path, aggregate, fixture_targets):
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    (run / "load.json").write_text("[]")
    result = CliRunner().invoke(aggregate, ["--out", str(run), "--no-charts"])
    assert result.exit_code == 0
    assert "error: load.json: not a JSON object" in result.stderr
    assert "verdict: FAIL" in result.stderr


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD_SUITE_FILES = {
    "non-UTF-8": (b'{"suite": "load", "x": "\xff\xfe"}', "not UTF-8"),
    "deep nesting": (_nested(100_000).encode(), "nested too deeply"),
    "moderate nesting": (("{\"a\": " * 200 + "1" + "}" * 200).encode(), "nested deeper than"),
    "Infinity": (None, "non-finite number Infinity"),
    "NaN": (None, "non-finite number NaN"),
    "1e999": (None, "out of range"),
}


def _bad_file(kind: str) -> bytes:
    body, _ = BAD_SUITE_FILES[kind]
    if body is not None:
        return body
    # A valid envelope with one non-finite value: used to crash after report.md, before summary.json.
    text = (DATA / "run_pass" / "load.json").read_text()
    literal = {"Infinity": "Infinity", "NaN": "NaN", "1e999": "1e999"}[kind]
    return text.replace('"schema_version": 1', f'"schema_version": 1, "x": {literal}', 1).encode()


@pytest.mark.parametrize("kind", list(BAD_SUITE_FILES))
@pytest.mark.parametrize("where", ["run", "baseline"])
def test_aggregate_survives_a_bad_suite_file(tmp_path, aggregate, fixture_targets, kind, where):
    run, baseline = tmp_path / "run", tmp_path / "baseline"
    shutil.copytree(DATA / "run_pass", run)
    shutil.copytree(DATA / "baseline", baseline)
    (run if where == "run" else baseline).joinpath("load.json").write_bytes(_bad_file(kind))
    result = CliRunner().invoke(aggregate, ["--out", str(run), "--baseline", str(baseline),
                                            "--no-charts"])
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    summary = json.loads((run / "summary.json").read_text())  # written, and strict JSON
    assert "report.md" in result.stderr
    if where == "run":
        assert f"error: load.json: " in result.stderr and BAD_SUITE_FILES[kind][1] in result.stderr
        assert summary["suites"]["load"]["state"] == "unreadable"
        assert "verdict: FAIL" in result.stderr
    # The other suites are still reported.
    assert summary["suites"]["bench_rust"]["state"] == "ok"
    assert summary["suites"]["memory"]["results"]


SHAPE_FAULTS = {
    "summary is a string": lambda d: d["results"][0].__setitem__("summary", "x"),
    "summary is a list": lambda d: d["results"][0].__setitem__("summary", [1, 2]),
    "environment value is a list of lists": lambda d: d["environment"].__setitem__("python", [[1]]),
}


@pytest.mark.parametrize("fault", list(SHAPE_FAULTS))
@pytest.mark.parametrize("where", ["run", "baseline"])
def test_a_suite_file_the_schema_accepts_but_the_report_cannot_show_is_named(
        tmp_path, aggregate, fixture_targets, fault, where):
    run, baseline = tmp_path / "run", tmp_path / "baseline"
    shutil.copytree(DATA / "run_pass", run)
    shutil.copytree(DATA / "baseline", baseline)
    target = (run if where == "run" else baseline) / "load.json"
    data = json.loads(target.read_text())
    SHAPE_FAULTS[fault](data)
    target.write_text(json.dumps(data))
    result = CliRunner().invoke(aggregate, ["--out", str(run), "--baseline", str(baseline),
                                            "--no-charts"])
    assert result.exit_code == 0, result.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["suites"]["bench_rust"]["state"] == "ok"  # the others are still reported
    if where == "run":
        assert "error: load.json: the report cannot show it" in result.stderr
        assert summary["suites"]["load"]["state"] == "unreadable"


def test_a_bad_run_record_is_named_not_raised(tmp_path, fixture_targets):
    from codeperf.report.loading import load_run

    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    (run / "run.json").write_bytes(b"\xff" + _nested(50_000).encode())
    loaded = load_run(run)
    assert loaded.record is None and "run.json: unreadable" in loaded.record_error
    assert loaded.suites["load"].envelope is not None


HOSTILE = "[x](javascript:alert(1)) ![i](javascript:alert(2)) <script>alert(3)</script> <javascript:alert(4)>"


def test_text_from_systems_under_test_is_data_in_both_reports(tmp_path, aggregate, fixture_targets):
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    mcp = json.loads((run / "mcp.json").read_text())
    mcp["results"][0]["id"] = f"srv/{HOSTILE}"
    mcp["errors"].append({"kind": "tool", "message": HOSTILE})
    (run / "mcp.json").write_text(json.dumps(mcp))
    result = CliRunner().invoke(aggregate, ["--out", str(run), "--no-charts"])
    assert result.exit_code == 0, result.output
    page = (run / "report.html").read_text()
    assert "javascript:" in page  # shown as text...
    assert 'href="javascript' not in page and 'src="javascript' not in page  # ...never a link
    assert "<script>" not in page and "&lt;script&gt;" in page
    markdown_text = (run / "report.md").read_text()
    assert "[x](javascript" not in markdown_text and "\\[x\\](javascript" in markdown_text


def test_html_keeps_only_http_links_and_our_embedded_charts():
    from codeperf.report.render_html import render

    page = render("[a](https://example.org) [b](#verdict) [c](javascript:alert(1)) "
                  "[d](JaVaScRiPt:x) [t](java&#9;script:x) [e](data:text/html,x) ![f](data:image/png;base64,AAAA)",
                  Path("."))
    assert 'href="https://example.org"' in page and 'href="#verdict"' in page
    assert 'href="javascript' not in page.lower() and 'href="data:' not in page
    assert 'src="data:' not in page  # a data: image we did not embed ourselves


# -- make perf's driver ------------------------------------------------------

ENVELOPE_SCRIPT = '''
import json, os, sys
from pathlib import Path
from codeperf.harness.envelope import Recorder
from codeperf.harness.targets import evaluate
out = Path(sys.argv[sys.argv.index("--out") + 1])
with Recorder({suite!r}, out, config={{"quick": "--quick" in sys.argv}},
              environment={{"python": "3.11", "backend": "python"}}) as rec:
    rec.add_result({{"id": "case/one", "kind": "case", "summary": {{"mean_ms": 1.0}}}})
    for target in evaluate({suite!r}, {measured!r}):
        rec.add_target(target)
    {body}
    rec.mark_complete()
sys.exit({exit_code})
'''


def write_suite(scripts: Path, name: str, suite: str, measured: dict, exit_code: int = 0,
                body: str = "pass") -> None:
    (scripts / name).write_text(ENVELOPE_SCRIPT.format(suite=suite, measured=measured,
                                                       exit_code=exit_code, body=body))


@pytest.fixture
def suite_env(monkeypatch, fixture_targets):
    monkeypatch.setenv("PYTHONPATH", str(ROOT / "python"))
    monkeypatch.delenv("CODEPERF_RUN_ID", raising=False)


def test_perf_runs_every_suite_and_reports_failures(tmp_path, suite_env):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_suite(scripts, "bench_rust.py", "bench_rust",
                {"speedup.analyze": 12.0, "speedup.consensus_cosine": 25.0,
                 "speedup.consensus_jaccard": 25.0, "speedup.aggregate": 25.0,
                 "memory_reduction_pct.analyze": 70.0, "memory_reduction_pct.consensus_cosine": 70.0,
                 "memory_reduction_pct.consensus_jaccard": 70.0,
                 "memory_reduction_pct.aggregate": 70.0})
    write_suite(scripts, "load_scenarios.py", "load", {"sustained.p95_ms": 5000.0}, exit_code=1)
    (scripts / "mcp_bench.py").write_text("import sys\nprint('boom', file=sys.stderr)\nsys.exit(3)\n")
    # memory_profile.py is missing on purpose.
    echo = io.BytesIO()
    result = run_perf(tmp_path / "reports", scripts, quick=True, echo=echo, charts=False)

    assert result.exit_code == 1
    statuses = {o.suite: o.status for o in result.outcomes}
    assert statuses == {"bench_rust": "ok", "load": "failed", "memory": "missing script",
                        "mcp": "crashed"}
    run_dir = result.run_dir
    assert (tmp_path / "reports" / "latest").resolve() == run_dir.resolve()
    for suite in ("bench_rust", "load"):
        envelope = json.loads((run_dir / f"{suite}.json").read_text())
        assert envelope["run_id"] == run_dir.name  # CODEPERF_RUN_ID was shared
        assert envelope["config"] == {"quick": True}
    assert b"boom" in echo.getvalue()
    assert "boom" in (run_dir / "logs" / "mcp.log").read_text()
    record = json.loads((run_dir / "run.json").read_text())
    assert [s["status"] for s in record["suites"]] == ["ok", "failed", "missing script", "crashed"]
    text = (run_dir / "report.md").read_text()
    assert "## Verdict: ❌ FAIL" in text
    assert "scripts/memory_profile.py does not exist" in text
    assert "ended crashed (exit code 3)" in text


def passing_mcp_suite(tmp_path):
    """A scripts/ directory whose stand-in mcp suite meets every mcp target."""
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_suite(scripts, "mcp_bench.py", "mcp",
                {"tool_calls.mean_ms": 3.0, "tool_calls.error_rate_pct": 0.0,
                 "tool_calls.completed": 1500})
    return scripts


def test_perf_passes_when_every_requested_suite_passes(tmp_path, suite_env):
    scripts = passing_mcp_suite(tmp_path)
    result = run_perf(tmp_path / "reports", scripts, suites=["mcp"], echo=io.BytesIO(),
                      charts=False)
    assert result.exit_code == 0
    assert result.report.verdict.status == "incomplete"  # the other suites were not asked for


def test_perf_gate_with_a_baseline_that_lacks_the_suite_is_exit_2(tmp_path, suite_env):
    # The baseline is readable (load only) but has no mcp: the gate cannot pass on mcp.
    scripts = passing_mcp_suite(tmp_path)
    base = tmp_path / "base"
    base.mkdir()
    shutil.copy(DATA / "run_pass" / "load.json", base / "load.json")
    result = run_perf(tmp_path / "reports", scripts, suites=["mcp"], echo=io.BytesIO(),
                      charts=False, baseline=base, fail_on_regression=True)
    assert result.exit_code == 2
    assert result.report.comparison.uncompared == ["mcp (not in the baseline)"]


# The stand-in suite starts with SIGTERM blocked (inherited from the test) and
# unblocks it once inside its Recorder, so the driver's timeout SIGTERM stays
# pending until the suite is ready: however slowly Python starts on a loaded
# machine, the signal lands on the Recorder's handler, never on a half-started
# interpreter, and the timeout can stay short.
READY_THEN_HANG = ("import signal, time; "
                   "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM}); "
                   "time.sleep(60)")


@contextlib.contextmanager
def sigterm_blocked():
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def test_perf_stops_a_hung_suite_and_keeps_its_partial_results(tmp_path, suite_env):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_suite(scripts, "mcp_bench.py", "mcp", {}, body=READY_THEN_HANG)
    with sigterm_blocked():
        result = run_perf(tmp_path / "reports", scripts, suites=["mcp"], timeout_s=0.5,
                          echo=io.BytesIO(), charts=False)
    assert result.exit_code == 1
    assert result.outcomes[0].status == "timed out"
    envelope = json.loads((result.run_dir / "mcp.json").read_text())
    assert envelope["complete"] is False and envelope["results"]


def test_perf_cli_exit_code(tmp_path, suite_env):
    main = load_script("perf").main
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    result = CliRunner().invoke(main, ["--out", str(tmp_path / "r" / "latest"), "--scripts", str(scripts),
                                       "--suite", "load", "--quick"])
    assert result.exit_code == 1  # the load script does not exist
    assert (tmp_path / "r" / "latest" / "report.md").is_file()
    assert CliRunner().invoke(main, ["--fail-on-regression"]).exit_code == 2


@pytest.mark.parametrize("quick, charts", [(True, False), (False, True)])
def test_perf_quick_skips_the_charts(tmp_path, monkeypatch, quick, charts):
    """perf-quick (the pull-request gate) writes its report without charts, to save its budget."""
    module = load_script("perf")
    seen = {}

    def fake_run_perf(*args, **kwargs):
        seen.update(kwargs)
        return SimpleNamespace(exit_code=0)

    monkeypatch.setattr(module, "run_perf", fake_run_perf)
    args = ["--reports", str(tmp_path)] + (["--quick"] if quick else [])
    result = CliRunner().invoke(module.main, args)
    assert result.exit_code == 0, result.output
    assert seen["charts"] is charts and seen["quick"] is quick


def test_perf_help():
    result = CliRunner().invoke(load_script("perf").main, ["-h"])
    assert result.exit_code == 0 and "Exit codes" in result.output


def test_perf_sigterm_stops_the_run_and_still_writes_the_report(tmp_path, suite_env):
    import os
    import signal
    import subprocess
    import sys
    import time

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    write_suite(scripts, "bench_rust.py", "bench_rust", {}, body="import time; time.sleep(60)")
    reports = tmp_path / "reports"
    proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "perf.py"), "--out",
                             str(reports / "latest"), "--scripts", str(scripts)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    # Wait until the suite is inside its Recorder (its envelope exists), then stop the driver.
    while not list(reports.glob("*/bench_rust.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, output
    run_dir = (reports / "latest").resolve()
    record = json.loads((run_dir / "run.json").read_text())
    assert [s["status"] for s in record["suites"]] == ["interrupted"]  # later suites skipped
    assert json.loads((run_dir / "bench_rust.json").read_text())["complete"] is False
    assert (run_dir / "report.md").is_file()
    assert os.path.exists(run_dir / "logs" / "bench_rust.log")


# -- renamed options: one release of hidden aliases that warn ---------------------------

def test_aggregate_run_is_a_deprecated_alias_of_out(tmp_path, aggregate, fixture_targets):
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    result = CliRunner().invoke(aggregate, ["--run", str(run), "--no-charts"])
    assert result.exit_code == 0, result.output
    assert "warning: --run is deprecated" in result.stderr and "use --out" in result.stderr
    assert (run / "report.md").is_file()
    # The old `--run RUN --out DIR` (DIR: where to write) now reads --out as the run: refused,
    # with the new spelling, rather than reading the wrong directory.
    other = tmp_path / "elsewhere"
    other.mkdir()
    both = CliRunner().invoke(aggregate, ["--run", str(run), "--out", str(other)])
    assert both.exit_code == 2
    assert "`--out RUN --report-dir DIR`" in both.stderr


def test_aggregate_report_dir_writes_elsewhere(tmp_path, aggregate, fixture_targets):
    out = tmp_path / "report"
    result = CliRunner().invoke(aggregate, ["--out", str(DATA / "run_pass"), "--report-dir", str(out),
                                            "--no-charts"])
    assert result.exit_code == 0, result.output
    assert (out / "report.md").is_file() and not (DATA / "run_pass" / "report.md").exists()


def test_perf_reports_is_a_deprecated_alias(tmp_path, suite_env):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    result = CliRunner().invoke(load_script("perf").main, ["--reports", str(tmp_path / "r"),
                                                           "--scripts", str(scripts), "--suite", "load"])
    assert result.exit_code == 1  # the load script does not exist; the report is still written
    assert "warning: --reports is deprecated" in result.stderr and "--out DIR/latest" in result.stderr
    assert (tmp_path / "r" / "latest" / "report.md").is_file()


def test_perf_out_dir_is_used_as_given(tmp_path, suite_env):
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    run = tmp_path / "my-run"
    result = CliRunner().invoke(load_script("perf").main, ["--out", str(run), "--scripts", str(scripts),
                                                           "--suite", "load"])
    assert result.exit_code == 1
    assert (run / "report.md").is_file() and (run / "run.json").is_file()
    assert not (tmp_path / "latest").exists()  # links untouched, as with a suite's --out
