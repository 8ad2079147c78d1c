"""`load_scenarios.py --expert URL[#MODEL]`: a circle from URLs, models discovered from GET /v1/models."""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.experts import urls
from codeperf.experts.simulator import ModelProfile, SimulatorConfig
from codeperf.experts.simulator_process import SimulatorProcess
from codeperf.harness import exitcodes

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "load_scenarios.py"
MODELS = (ModelProfile("u-first", ttft_median_ms=5, tokens_per_s=2000, answer_tokens=10),
          ModelProfile("u-second", ttft_median_ms=5, tokens_per_s=2000, answer_tokens=10))


@pytest.fixture(scope="module")
def simulator(tmp_path_factory):
    sim = SimulatorProcess(SimulatorConfig(models=MODELS),
                           log_path=tmp_path_factory.mktemp("sim") / "sim.log")
    sim.start()
    yield sim
    sim.stop()


class _Models(BaseHTTPRequestHandler):
    """An OpenAI-compatible server as far as /v1/models goes, listing `models`."""

    models: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps({"object": "list", "data": [{"id": m} for m in self.models]}).encode()
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def empty_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Empty", (_Models,), {"models": []}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("value, expected", [
    ("http://127.0.0.1:8000/v1", ("http://127.0.0.1:8000/v1", None)),
    ("http://127.0.0.1:8000/v1/#llama3.2", ("http://127.0.0.1:8000/v1", "llama3.2")),
    ("http://localhost:11434", ("http://localhost:11434/v1", None)),
    ("https://api.example.com/openai/v1#gpt-4o-mini", ("https://api.example.com/openai/v1", "gpt-4o-mini")),
])
def test_parse(value, expected):
    assert urls.parse(value) == expected


@pytest.mark.parametrize("value", ["127.0.0.1:8000", "ftp://x/v1", "http:///v1"])
def test_parse_refuses_what_is_not_an_http_url(value):
    with pytest.raises(urls.ExpertUrlError, match="expected http"):
        urls.parse(value)


def test_discovery_from_the_simulator(simulator):
    assert urls.discover_models(simulator.base_url) == ["u-first", "u-second"]
    circle = urls.from_urls([simulator.base_url, f"{simulator.base_url}#u-second",
                             f"{simulator.base_url}#u-second"])
    assert [(e.name, e.model, e.base_url) for e in circle.experts] == [
        ("u-first", "u-first", simulator.base_url), ("u-second", "u-second", simulator.base_url),
        ("u-second-2", "u-second", simulator.base_url)]


def test_a_server_listing_no_model_is_an_error_naming_it(empty_server):
    with pytest.raises(urls.ExpertUrlError, match=f"{empty_server}/v1/models lists no model"):
        urls.from_urls([empty_server])


def test_the_check_runs_before_any_request():
    seen = []

    def refuse(url):
        seen.append(url)
        raise urls.ExpertUrlError(f"{url}: refused")

    # 192.0.2.1 (TEST-NET-1) is never contacted: the check refuses first.
    with pytest.raises(urls.ExpertUrlError, match="refused"):
        urls.from_urls(["http://192.0.2.1:8000/v1"], check=refuse)
    assert seen == ["http://192.0.2.1:8000/v1"]


def _invoke(args):
    spec = importlib.util.spec_from_file_location("load_scenarios_script_urls", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return CliRunner().invoke(module.main, args, catch_exceptions=False)


def test_cli_expert_url_runs_a_scenario_against_it(tmp_path, simulator):
    out = tmp_path / "run"
    result = _invoke(["--out", str(out), "--expert", simulator.base_url, "--expert",
                      f"{simulator.base_url}#u-second", "--scenario", "single-query",
                      "-o", "queries=2", "--no-calibration", "--quick"])
    data = json.loads((out / "load.json").read_text())
    experts = data["config"]["experts"]["experts"]
    assert [(e["name"], e["base_url"]) for e in experts] == [("u-first", simulator.base_url),
                                                             ("u-second", simulator.base_url)]
    (entry,) = [r for r in data["results"] if r["id"].startswith("single-query")]
    assert entry["summary"]["error_rate_pct"] == 0, entry["summary"]
    assert result.exit_code in (exitcodes.OK, exitcodes.FAILED), result.output


def test_cli_server_without_models_exits_2_naming_the_url(tmp_path, empty_server):
    result = _invoke(["--out", str(tmp_path / "o"), "--expert", empty_server, "--scenario", "single-query"])
    assert result.exit_code == exitcodes.USAGE
    assert f"{empty_server}/v1/models lists no model" in result.output
    assert not (tmp_path / "o" / "load.json").exists()


def test_cli_remote_expert_url_needs_allow_remote(tmp_path):
    result = _invoke(["--out", str(tmp_path / "o"), "--expert", "https://api.example.com/v1",
                      "--scenario", "single-query"])
    assert result.exit_code == exitcodes.USAGE
    assert "not a loopback address" in result.output and "--allow-remote" in result.output


def test_cli_expert_and_experts_file_are_alternatives(tmp_path):
    experts = tmp_path / "e.toml"
    experts.write_text('[[expert]]\nname = "a"\nbase_url = "simulator"\nmodel = "sim-fast"\n')
    result = _invoke(["--out", str(tmp_path / "o"), "--experts", str(experts),
                      "--expert", "http://127.0.0.1:9/v1#m", "--scenario", "single-query"])
    assert result.exit_code == exitcodes.USAGE
    assert "alternatives" in result.output
