"""`make perf EXPERTS=FILE MCP_CONFIG=FILE` (scripts/perf.py --experts/--expert/--mcp-config/
--allow-remote): one run over the user's systems, one report that names them.

The end-to-end test runs the real suite scripts against local stand-ins for a
deployment: the expert simulator as "your" OpenAI-compatible endpoint (listed
in an experts file by URL, not as the bundled `simulator`) and a bundled MCP
server started from a Claude Desktop config entry. Only the suites' sizes are
shrunk (wrappers append tiny options), so the test takes seconds, not minutes.
"""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.deployment import EXPERTS_FILE_NAME, Deployment, DeploymentError
from codeperf.experts import config as experts_config
from codeperf.experts.simulator import ModelProfile, SimulatorConfig
from codeperf.experts.simulator_process import SimulatorProcess
from codeperf.perf_run import run_perf

ROOT = Path(__file__).resolve().parents[1]
MODELS = (ModelProfile("dep-a", ttft_median_ms=5, tokens_per_s=4000, answer_tokens=20),
          ModelProfile("dep-b", ttft_median_ms=5, tokens_per_s=4000, answer_tokens=20))


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """An OpenAI-compatible endpoint on loopback: the simulator, addressed by its URL."""
    sim = SimulatorProcess(SimulatorConfig(models=MODELS),
                           log_path=tmp_path_factory.mktemp("sim") / "sim.log")
    sim.start()
    yield sim.base_url
    sim.stop()


def _experts_file(tmp_path: Path, base_url: str) -> Path:
    path = tmp_path / "my_experts.toml"
    path.write_text("".join(
        f'[[expert]]\nname = "{m.name}"\nbase_url = "{base_url}"\nmodel = "{m.name}"\n'
        f'api_key_env = "CODEPERF_T_DEPLOY_KEY"\ntimeout_s = 10\nstream = true\n\n' for m in MODELS))
    return path


def _mcp_config(tmp_path: Path) -> Path:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps({"mcpServers": {"util": {
        "command": sys.executable, "args": ["-m", "codeperf.mcp.utility", "--transport", "stdio"],
        "env": {"UTIL_TOKEN": "${env:CODEPERF_T_DEPLOY_KEY}"}}}}))
    return path


# -- which suite gets what ------------------------------------------------------------

def test_each_suite_gets_the_options_it_takes():
    deployment = Deployment(experts_file=Path("e.toml"), mcp_configs=(Path("a.json"), Path("b.json")),
                            allow_remote=True)
    assert deployment.suite_args("bench_rust") == []
    assert deployment.suite_args("load") == ["--experts", "e.toml", "--allow-remote"]
    assert deployment.suite_args("memory") == ["--experts", "e.toml", "--allow-remote"]
    assert deployment.suite_args("mcp") == ["--experts", "e.toml", "--config", "a.json",
                                            "--config", "b.json", "--allow-remote"]
    assert Deployment().is_default and all(Deployment().suite_args(s) == []
                                           for s in ("bench_rust", "load", "memory", "mcp"))


def test_experts_file_and_urls_are_alternatives():
    with pytest.raises(DeploymentError, match="alternatives"):
        Deployment(experts_file=Path("e.toml"), expert_urls=("http://127.0.0.1:1/v1",))


def test_expert_urls_become_one_experts_file_for_every_suite(tmp_path, endpoint, monkeypatch):
    monkeypatch.setenv("CODEPERF_T_DEPLOY_KEY", "secret-value-123456")
    resolved = Deployment(expert_urls=(endpoint, f"{endpoint}#dep-b"),
                          api_key_env="CODEPERF_T_DEPLOY_KEY").resolve(tmp_path)
    assert resolved.experts_file == tmp_path / EXPERTS_FILE_NAME
    text = resolved.experts_file.read_text()
    assert "secret-value-123456" not in text  # the variable's name only
    circle = experts_config.load(resolved.experts_file)
    assert [(e.name, e.model, e.base_url, e.api_key_env) for e in circle.experts] == [
        ("dep-a", "dep-a", endpoint, "CODEPERF_T_DEPLOY_KEY"),
        ("dep-b", "dep-b", endpoint, "CODEPERF_T_DEPLOY_KEY")]
    assert resolved.suite_args("load") == ["--experts", str(resolved.experts_file)]


def test_a_remote_expert_url_is_refused_before_any_request(tmp_path):
    # 192.0.2.1 (TEST-NET-1) is never contacted: the loopback rule refuses it first.
    with pytest.raises(DeploymentError, match="not a loopback address"):
        Deployment(expert_urls=("http://192.0.2.1:8000/v1#m",)).resolve(tmp_path)


def test_dump_toml_round_trips_an_experts_file():
    circle = experts_config.load(ROOT / "python" / "codeperf" / "experts" / "default_experts.toml")
    plain = experts_config.ExpertsConfig(circle.experts, {}, "x", circle.slo)
    again = experts_config.parse(tomllib.loads(experts_config.dump_toml(plain, header="h")), "y")
    assert again.experts == plain.experts and again.slo == plain.slo


# -- the CLI and make --------------------------------------------------------------------

def _perf():
    spec = importlib.util.spec_from_file_location("perf_script_deploy", ROOT / "scripts" / "perf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_perf_cli_usage_errors(tmp_path):
    experts = _experts_file(tmp_path, "http://127.0.0.1:9/v1")
    both = CliRunner().invoke(_perf(), ["--experts", str(experts), "--expert", "http://127.0.0.1:9/v1"])
    assert both.exit_code == 2 and "alternatives" in both.stderr
    missing = CliRunner().invoke(_perf(), ["--mcp-config", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "does not exist" in missing.stderr
    remote = CliRunner().invoke(_perf(), ["--expert", "http://192.0.2.1:8000/v1#m",
                                          "--out", str(tmp_path / "run")])
    assert remote.exit_code == 2 and "not a loopback address" in remote.stderr
    assert not (tmp_path / "run").exists()  # nothing ran, no empty run left behind


def test_make_perf_passes_experts_and_mcp_config():
    dry = subprocess.run(["make", "--no-print-directory", "-n", "perf", "EXPERTS=e.toml",
                          "MCP_CONFIG=a.json b.json", "ALLOW_REMOTE=1"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    line = " ".join(dry.stdout.split())
    assert "scripts/perf.py --experts e.toml --mcp-config a.json --mcp-config b.json --allow-remote" \
        in line


# -- end to end: real suites, local stand-ins for the user's systems ---------------------

WRAPPER = '''
import runpy, sys
sys.argv = [{script!r}] + sys.argv[1:] + {extra!r}
runpy.run_path({script!r}, run_name="__main__")
'''
TINY = {"load_scenarios.py": ["--scenario", "single-query", "--no-calibration",
                              "-o", "queries=3"],
        "memory_profile.py": ["--component", "experts"],
        "mcp_bench.py": ["--no-floor", "--handled-calls", "20", "--calls", "3",
                         "--concurrency", "1", "--tool", "noop", "--tool", "hash"]}


def test_perf_measures_the_deployment_and_the_report_names_it(tmp_path, endpoint, monkeypatch):
    monkeypatch.setenv("CODEPERF_T_DEPLOY_KEY", "secret-value-123456")
    monkeypatch.delenv("CODEPERF_RUN_ID", raising=False)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, extra in TINY.items():
        (scripts / name).write_text(WRAPPER.format(script=str(ROOT / "scripts" / name), extra=extra))
    deployment = Deployment(experts_file=_experts_file(tmp_path, endpoint),
                            mcp_configs=(_mcp_config(tmp_path),))
    result = run_perf(tmp_path / "reports", scripts, quick=True, suites=["load", "memory", "mcp"],
                      deployment=deployment, echo=io.BytesIO(), charts=False, timeout_s=600)
    run_dir = result.run_dir
    statuses = {o.suite: o.status for o in result.outcomes}
    for suite in ("load", "memory"):
        # Tiny runs may miss a machine-dependent goal, but never crash or record an error;
        # the process ended as its envelope's own outcome says.
        envelope = json.loads((run_dir / f"{suite}.json").read_text())
        assert envelope["complete"] is True and envelope["errors"] == [], (suite, envelope["errors"])
        expected = "ok" if envelope["outcome"]["exit_code"] == 0 else "failed"
        assert statuses[suite] == expected, (suite, statuses, envelope["outcome"])
    assert statuses["mcp"] == "failed"  # 20 handled calls < the 1000-call target: it must fail
    load = json.loads((run_dir / "load.json").read_text())
    assert {e["base_url"] for e in load["config"]["experts"]["experts"]} == {endpoint}
    single = [r for r in load["results"] if r["id"].startswith("single-query")]
    assert single and single[0]["summary"]["ok_count"] == 3  # the user's endpoint answered
    memory = json.loads((run_dir / "memory.json").read_text())
    assert {s["endpoint"] for s in memory["config"]["systems"]} == {endpoint}
    mcp = json.loads((run_dir / "mcp.json").read_text())
    assert mcp["config"]["systems"] == [{"kind": "mcp_server", "name": "util", "transport": "stdio",
                                         "endpoint": None, "origin": "config"}]
    rows = {r["id"]: r for r in mcp["results"] if r.get("kind") == "tool"}
    assert rows["util/noop"]["summary"]["ok_count"] > 0
    record = json.loads((run_dir / "run.json").read_text())
    assert record["deployment"]["mcp_configs"] == [str(deployment.mcp_configs[0])]
    text = (run_dir / "report.md").read_text()
    assert "**Systems under test**" in text
    assert f"| expert | dep-a | dep-a at {endpoint} | load, memory |" in text
    assert "| MCP server | util | stdio (config) | mcp |" in text
    for file in run_dir.rglob("*"):
        if file.is_file():
            assert "secret-value-123456" not in file.read_text(errors="replace"), file


@pytest.mark.parametrize("target, script", [("load", "load_scenarios.py"), ("memory", "memory_profile.py"),
                                            ("mcp", "mcp_bench.py")])
def test_each_suite_target_takes_experts_too(target, script):
    dry = subprocess.run(["make", "--no-print-directory", "-n", target, "EXPERTS=e.toml", "ALLOW_REMOTE=1"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    line = " ".join(l for l in dry.stdout.splitlines() if f"scripts/{script}" in l)
    assert "--experts e.toml --allow-remote" in " ".join(line.split())
