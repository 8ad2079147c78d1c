"""The systems under test: recorded by each suite without secrets, listed in the report's header."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codeperf.experts.config import Expert
from codeperf.harness import systems
from codeperf.report import build_report

DATA = Path(__file__).parent / "data" / "report"


@pytest.mark.parametrize("url, expected", [
    ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ("https://user:s3cret@api.example.com/v1?key=abc#frag", "https://api.example.com/v1"),
    ("http://[::1]:9000/mcp", "http://[::1]:9000/mcp"),
    ("not a url", None),
    ("", None),
])
def test_safe_endpoint_drops_credentials_query_and_fragment(url, expected):
    assert systems.safe_endpoint(url) == expected


def test_expert_entries_name_the_endpoint_or_the_bundled_simulator():
    circle = [Expert(name="a", base_url="simulator", model="sim-fast"),
              Expert(name="b", base_url="https://k:v@api.example.com/v1", model="m",
                     api_key_env="SOME_KEY")]
    assert systems.experts(circle) == [
        {"kind": "expert", "name": "a", "model": "sim-fast", "endpoint": "bundled simulator"},
        {"kind": "expert", "name": "b", "model": "m", "endpoint": "https://api.example.com/v1"}]


def test_mcp_entries_never_carry_a_templated_url():
    assert systems.mcp_server("files.http", "http", origin="bundled",
                              url="http://127.0.0.1:{port}/mcp")["endpoint"] is None
    assert systems.mcp_server("remote", "http", origin="config",
                              url="https://mcp.example.com/mcp?token=t0ps3cret") == {
        "kind": "mcp_server", "name": "remote", "transport": "http",
        "endpoint": "https://mcp.example.com/mcp", "origin": "config"}


def _with_systems(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    for suite, entries in {
        "load": [{"kind": "expert", "name": "gpt", "model": "gpt-4o-mini",
                  "endpoint": "https://api.example.com/v1"}],
        "memory": [{"kind": "expert", "name": "gpt", "model": "gpt-4o-mini",
                    "endpoint": "https://api.example.com/v1"}],
        "mcp": [{"kind": "mcp_server", "name": "fs|<script>", "transport": "stdio",
                 "endpoint": None, "origin": "config"}],
    }.items():
        path = run / f"{suite}.json"
        data = json.loads(path.read_text())
        data["config"]["systems"] = entries
        path.write_text(json.dumps(data))
    return run


def test_the_header_lists_each_system_once_with_the_suites_that_measured_it(tmp_path):
    run = _with_systems(tmp_path)
    report = build_report(run, out_dir=tmp_path / "out", targets_path=DATA / "targets.toml",
                          charts=False)
    text = report.markdown_path.read_text()
    header = text[:text.index("## Verdict")]
    assert "| expert | gpt | gpt-4o-mini at https://api.example.com/v1 | load, memory |" in header
    assert header.count("| expert | gpt |") == 1
    # Names come from the user's config: data, never markup.
    assert "| MCP server | fs\\|&lt;script&gt; | stdio (config) | mcp |" in header
    assert "<script>" not in report.html_path.read_text()
    summary = json.loads(report.summary_path.read_text())
    assert summary["systems_under_test"][0] == {
        "kind": "expert", "name": "gpt", "detail": "gpt-4o-mini at https://api.example.com/v1",
        "suites": ["load", "memory"]}


def test_no_systems_recorded_no_table(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(DATA / "run_pass", run)
    for path in run.glob("*.json"):  # as an envelope from before config.systems existed
        data = json.loads(path.read_text())
        data["config"].pop("systems", None)
        path.write_text(json.dumps(data))
    report = build_report(run, out_dir=tmp_path / "out", targets_path=DATA / "targets.toml",
                          charts=False)
    assert "Systems under test" not in report.markdown_path.read_text()
