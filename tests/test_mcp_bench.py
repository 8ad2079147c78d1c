"""mcp_bench: argument generation, scenario files, end-to-end runs on tiny settings,
faults (a server that crashes or hangs mid-run), exit codes and clean shutdown."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
from click.testing import CliRunner

from codeperf.harness import envelope, exitcodes
from codeperf.harness.targets import load_specs
from codeperf.mcp.bench import argsgen, launch, runner
from codeperf.mcp.bench.suite import run_suite

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parents[1]
FAULTY = Path(__file__).with_name("mcp_faulty_server.py")


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("mcp_bench_script", REPO / "scripts" / "mcp_bench.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _tiny(**overrides: Any) -> runner.McpBenchConfig:
    base = dict(calls_per_tool=4, warmup_calls=1, init_samples=1, list_samples=2, concurrency=(1, 4),
                sweep_calls=8, payload_sizes=(64, 4096), payload_calls=2, call_timeout_s=10.0,
                floor=False, handled_calls=12, handled_concurrency=3)
    base.update(overrides)
    return runner.McpBenchConfig(**base)


def use_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                *targets: tuple[str, str, str, float, str]) -> Path:
    """A targets file of (name, metric, op, threshold, unit) in suite mcp, used by this test."""
    path = tmp_path / "targets.toml"
    path.write_text("\n".join(f'[[target]]\nsuite = "mcp"\nname = "{name}"\nmetric = "{metric}"\n'
                              f'op = "{op}"\nthreshold = {threshold!r}\nunit = "{unit}"\n'
                              for name, metric, op, threshold, unit in targets))
    monkeypatch.setenv("CODEPERF_TARGETS", str(path))
    return path


@pytest.fixture
def lenient_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Targets a tiny run can meet, so a healthy run exits 0."""
    return use_targets(tmp_path, monkeypatch, ("mean", "tool_calls.mean_ms", "<", 60000, "ms"),
                       ("completed", "tool_calls.completed", ">=", 1, "calls"))


def _faulty(label: str, *args: str) -> launch.ServerSpec:
    return launch.stdio_spec(label, f"{sys.executable} {FAULTY} {' '.join(args)}")


def _quiet(_: str) -> None:
    pass


# -- argument generation -------------------------------------------------------

SCHEMAS = [
    {"type": "object", "properties": {"a": {"type": "integer", "minimum": 5}, "b": {"type": "string"}},
     "required": ["a", "b"]},
    {"type": "object", "properties": {"kind": {"enum": ["x", "y"]}, "n": {"type": "number", "default": 2.5},
                                      "opt": {"type": "string"}}, "required": ["kind", "n"]},
    {"type": "object", "properties": {"s": {"type": "string", "minLength": 12, "maxLength": 20},
                                      "i": {"type": "integer", "exclusiveMinimum": 0, "maximum": 3}},
     "required": ["s", "i"]},
    {"type": "object", "$defs": {"Item": {"type": "object", "properties": {"id": {"type": "integer"}},
                                          "required": ["id"]}},
     "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 2},
                    "maybe": {"anyOf": [{"type": "null"}, {"type": "string", "format": "uri"}]}},
     "required": ["items", "maybe"]},
    {"type": "object", "properties": {"flag": {"type": "boolean"}, "when": {"type": "string", "format": "date-time"},
                                      "nested": {"type": "object", "properties": {"k": {"const": 7}},
                                                 "required": ["k"]}},
     "required": ["flag", "when", "nested"]},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_generated_arguments_satisfy_their_schema(schema: dict[str, Any]) -> None:
    args = argsgen.generate(schema)
    jsonschema.validate(args, schema)
    assert set(args) == set(schema["required"])  # required properties only


def test_generated_arguments_follow_refs_and_prefer_values_over_null() -> None:
    args = argsgen.generate(SCHEMAS[3])
    assert args["items"] == [{"id": 1}, {"id": 1}]
    assert args["maybe"] == "https://example.invalid/"


def test_generated_arguments_valid_for_every_bundled_tool(tmp_path: Path) -> None:
    from codeperf.mcp import experts, files, system, utility

    async def schemas() -> list[tuple[str, dict[str, Any]]]:
        out = []
        for server in (files.build(tmp_path), experts.build(), system.build(), utility.build()):
            out += [(t.name, t.input_schema) for t in await server.list_tools()]
        return out

    for name, schema in asyncio.run(schemas()):
        jsonschema.validate(argsgen.generate(schema), schema)


def test_scenario_files_json_and_toml(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"echo": [{"payload": "x"}], "s.hash": {"payload": "y"}}))
    (tmp_path / "a.toml").write_text('sleep = [{ ms = 1 }, { ms = 2 }]\n')
    assert argsgen.load_scenario_file(tmp_path / "a.json") == {
        "echo": [{"payload": "x"}], "s.hash": [{"payload": "y"}]}
    loaded = argsgen.load_scenario_file(tmp_path / "a.toml")
    assert loaded == {"sleep": [{"ms": 1}, {"ms": 2}]}
    tool = {"name": "hash", "inputSchema": {"type": "object"}}
    assert argsgen.args_for("s", tool, {"s.hash": [{"payload": "y"}], "hash": [{}]}) == (
        [{"payload": "y"}], "scenario")
    assert argsgen.args_for("other", {"name": "new", "inputSchema": SCHEMAS[0]}, {})[1] == "schema"
    (tmp_path / "bad.json").write_text('{"echo": 3}')
    with pytest.raises(argsgen.ScenarioFileError, match="bad.json"):
        argsgen.load_scenario_file(tmp_path / "bad.json")
    (tmp_path / "broken.toml").write_text("x = [")
    with pytest.raises(argsgen.ScenarioFileError, match="not valid TOML"):
        argsgen.load_scenario_file(tmp_path / "broken.toml")


# -- end to end ------------------------------------------------------------------

def test_bench_against_a_bundled_server(tmp_path: Path, lenient_targets: Path) -> None:
    code = run_suite(tmp_path, bundled=["utility"], bundled_transports=["stdio"], config=_tiny(),
                     log=_quiet)
    data = envelope.load(tmp_path / "mcp.json")
    assert code == exitcodes.OK, data["errors"]
    assert data["complete"] and data["suite"] == "mcp"
    ids = {r["id"] for r in data["results"]}
    for tool in ("noop", "echo", "hash", "sleep", "fail"):
        assert f"utility.stdio/{tool}" in ids
    assert {"utility.stdio/session/initialize", "utility.stdio/session/tools_list",
            "utility.stdio/sweep/c1", "utility.stdio/sweep/c4", "utility.stdio/echo/4096B",
            "utility.stdio/process", "bottlenecks/slowest_tools"} <= ids
    rows = {r["id"]: r for r in data["results"]}
    noop = rows["utility.stdio/noop"]["summary"]
    assert noop["ok_count"] == noop["calls_count"] == 4 and noop["p50_ms"] > 0
    fail = rows["utility.stdio/fail"]["summary"]
    assert fail["ok_count"] == 0 and fail["errors_is_error_count"] == 2 and fail["errors_jsonrpc_count"] == 2
    assert rows["utility.stdio/fail"]["errors_expected"] is True  # out of the target's error rate
    assert "errors_expected" not in rows["utility.stdio/noop"]
    assert rows["utility.stdio/process"]["pid_known"]
    assert rows["utility.stdio/noop"]["summary"]["server_rss_end_bytes"] > 0
    validity = {v["check"]: v["ok"] for v in data["validity"]}
    assert validity["processes_reaped"] and validity["servers_ok"]
    for pid in launch.seen_pids():
        assert not launch.alive(pid)
    # The handled run: 12 calls through the session, 3 in flight, over the tools that worked.
    handled = rows["utility.stdio/handled"]
    assert handled["summary"]["ok_count"] == handled["summary"]["calls_count"] == 12
    assert "fail" not in handled["tools"] and "noop" in handled["tools"]
    assert rows["handled/total"]["summary"]["ok_count"] == 12
    completed = {t["metric"]: t for t in data["targets"]}["tool_calls.completed"]
    assert completed["measured"] == 12  # not the per-tool, payload or sweep calls


def test_bench_exit_code_1_when_a_target_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_targets(tmp_path, monkeypatch, ("impossible", "tool_calls.mean_ms", "<", 0.000001, "ms"))
    config = _tiny(include=("noop",), concurrency=(1,))
    code = run_suite(tmp_path / "out", bundled=["utility"], bundled_transports=["stdio"], config=config,
                     log=_quiet)
    data = envelope.load(tmp_path / "out" / "mcp.json")
    assert code == exitcodes.FAILED
    assert data["targets"][0]["passed"] is False and data["targets"][0]["measured"] > 0


def test_a_tool_that_never_works_counts_in_the_error_rate_the_latency_is_judged_with(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # One working tool beside one that always fails: the mean covers the successes only,
    # so the latency target must fail on the error rate (4 of 8 calls), not pass on noop.
    use_targets(tmp_path, monkeypatch, ("mean", "tool_calls.mean_ms", "<", 60000, "ms"),
                ("errors", "tool_calls.error_rate_pct", "<", 5, "%"))
    config = _tiny(include=("noop", "fail", "work"), concurrency=(1,), handled_calls=0)
    code = run_suite(tmp_path / "out", bundled=["utility"], bundled_transports=["stdio"],
                     extra_specs=[_faulty("failing", "--fail-all")], config=config, log=_quiet)
    data = envelope.load(tmp_path / "out" / "mcp.json")
    rows = {r["id"]: r for r in data["results"]}
    assert rows["failing/work"]["summary"]["ok_count"] == 0
    assert "errors_expected" not in rows["failing/work"]  # a user's tool: its errors count
    assert rows["utility.stdio/fail"]["errors_expected"] is True  # deliberate: they do not
    by_metric = {t["metric"]: t for t in data["targets"]}
    assert by_metric["tool_calls.error_rate_pct"]["measured"] == pytest.approx(50.0)
    mean = by_metric["tool_calls.mean_ms"]
    assert mean["passed"] is False and "error rate" in mean["note"]
    assert code == exitcodes.FAILED


@pytest.mark.slow
def test_crashing_and_hanging_servers_are_reported_and_others_carry_on(
        tmp_path: Path, lenient_targets: Path) -> None:
    marker = f"m{uuid.uuid4().hex[:10]}"
    specs = [_faulty("crasher", "--crash-after", "3", "--marker", marker),
             _faulty("hanger", "--hang-after", "3", "--marker", marker)]
    # One warm-up + 2 calls succeed, then the crash/hang hits the tool phase.
    config = _tiny(call_timeout_s=1.0, give_up_after=2)
    code = run_suite(tmp_path, bundled=["utility"], bundled_transports=["stdio"], extra_specs=specs,
                     config=config, log=_quiet)
    data = envelope.load(tmp_path / "mcp.json")
    assert code == exitcodes.FAILED
    errors = {e.get("server"): e for e in data["errors"]}
    assert errors["crasher"]["kind"] == "server_crashed"
    assert "crashing on call 4" in errors["crasher"]["stderr_tail"]
    assert errors["hanger"]["kind"] == "server_hung"
    assert "hanging on call 4" in errors["hanger"]["stderr_tail"]
    rows = {r["id"]: r["summary"] for r in data["results"]}
    assert rows["crasher/work"]["errors_transport_count"] >= 1
    assert rows["hanger/work"]["errors_timeout_count"] >= 1
    assert rows["utility.stdio/noop"]["ok_count"] == 4  # the healthy server still ran
    assert {v["check"]: v["ok"] for v in data["validity"]}["servers_ok"] is False
    assert not _marked_processes(marker)


def test_handled_target_fails_when_every_call_to_the_servers_under_test_fails(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The floor's no-op calls (on a bundled server) succeed, yet count for nothing."""
    use_targets(tmp_path, monkeypatch, ("handled", "tool_calls.completed", ">=", 20, "calls"))
    config = _tiny(handled_calls=20, floor=True, floor_calls=30, floor_http_calls=30,
                   floor_sdk_stdio_server=False)
    code = run_suite(tmp_path / "out", bundled=[], extra_specs=[_faulty("failing", "--fail-all")],
                     config=config, log=_quiet)
    data = envelope.load(tmp_path / "out" / "mcp.json")
    assert code == exitcodes.FAILED
    rows = {r["id"]: r for r in data["results"]}
    assert rows["protocol_floor/stdio/sdk/30x-c10"]["summary"]["ok_count"] == 30  # floor calls happened
    total = rows["handled/total"]["summary"]
    assert total["calls_count"] == 20 and total["ok_count"] == 0 and total["errors_is_error_count"] == 20
    [target] = data["targets"]
    assert target["measured"] == 0 and target["passed"] is False
    # ...and this is the metric of the real "Handle 1000+ MCP tool calls" target.
    [real] = [t for t in load_specs(REPO / "targets.toml") if t.metric == "tool_calls.completed"]
    assert real.suite == "mcp" and real.op == ">=" and real.threshold == 1000


def test_handled_run_counts_a_broken_servers_missing_share(tmp_path: Path, lenient_targets: Path) -> None:
    """A server that never gets to its share leaves calls unsent: fewer than asked are handled."""
    specs = [launch.stdio_spec("exits", f"{sys.executable} -c \"import sys; sys.exit(4)\"")]
    code = run_suite(tmp_path, bundled=["utility"], bundled_transports=["stdio"], extra_specs=specs,
                     config=_tiny(include=("noop",), concurrency=(1,)), log=_quiet)
    data = envelope.load(tmp_path / "mcp.json")
    assert code == exitcodes.FAILED
    total = {r["id"]: r for r in data["results"]}["handled/total"]
    assert total["summary"]["planned_count"] == 12 and total["summary"]["ok_count"] == 6
    assert total["summary"]["not_sent_count"] == 6 and total["servers_without_run"] == ["exits"]


def test_slow_tools_sit_out_the_sweep_and_handled_run(tmp_path: Path, lenient_targets: Path) -> None:
    scenario = tmp_path / "args.json"
    scenario.write_text(json.dumps({"sleep": [{"ms": 150}]}))
    config = _tiny(include=("noop", "sleep"), concurrency=(2,), slow_tool_ms=100.0, calls_per_tool=2)
    code = run_suite(tmp_path / "out", bundled=["utility"], bundled_transports=["stdio"],
                     scenario_files=[scenario], config=config, log=_quiet)
    data = envelope.load(tmp_path / "out" / "mcp.json")
    assert code == exitcodes.OK, data["errors"]
    rows = {r["id"]: r for r in data["results"]}
    assert rows["utility.stdio/sleep"]["summary"]["ok_count"] == 2  # measured on its own
    for entry in ("utility.stdio/handled", "utility.stdio/sweep/c2"):
        assert rows[entry]["tools"] == ["noop"]
        assert set(rows[entry]["slow_tools_left_out_p50_ms"]) == {"sleep"}
    assert rows["handled/total"]["summary"]["ok_count"] == 12


@pytest.mark.parametrize("url", ["http://10.0.0.5:8000/mcp", "https://mcp.example.com/mcp",
                                 "http://[2001:db8::1]/mcp"])
def test_url_outside_loopback_needs_allow_remote(tmp_path: Path, url: str) -> None:
    logged: list[str] = []
    code = run_suite(tmp_path, bundled=[], extra_specs=[launch.url_spec("far", url)], config=_tiny(),
                     log=logged.append)
    assert code == exitcodes.USAGE
    assert "--allow-remote" in "\n".join(logged) and not (tmp_path / "mcp.json").exists()
    result = CliRunner().invoke(_load_script().main, ["--url", url, "--out", str(tmp_path)])
    assert result.exit_code == exitcodes.USAGE and not (tmp_path / "mcp.json").exists()


def test_loopback_urls_and_allow_remote_pass_the_check() -> None:
    from codeperf.mcp.bench.suite import SetupError, check_targets

    for url in ("http://127.0.0.1:8000/mcp", "http://127.9.9.9/mcp", "http://[::1]:8000/mcp"):
        check_targets([launch.url_spec("near", url)], allow_remote=False)
    far = [launch.url_spec("far", "http://10.0.0.5/mcp")]
    check_targets(far, allow_remote=True)
    with pytest.raises(SetupError):
        check_targets(far, allow_remote=False)
    check_targets([launch.stdio_spec("local", "ssh far-away mcp-server")], allow_remote=False)  # a process


@pytest.mark.parametrize("content, expect", [
    ("[[expert]\n", "not valid TOML"),
    ('[[expert]]\nname = "a"\n', "missing"),
    ('[[expert]]\nname = "far"\nmodel = "m"\nbase_url = "http://10.0.0.5/v1"\n', "--allow-remote"),
    ('[[expert]]\nname = "a"\nmodel = "m"\nbase_url = "simulator"\ntimeout_s = "10"\n', "timeout_s must be"),
    ('[[expert]]\nname = "a"\nmodel = "m"\nbase_url = "simulator"\nstream = "false"\n', "stream must be"),
    ("expert = [1, 2]\n", "must be a table"),
])
def test_bad_experts_file_is_a_setup_error(tmp_path: Path, content: str, expect: str) -> None:
    experts = tmp_path / "experts.toml"
    experts.write_text(content)
    logged: list[str] = []
    code = run_suite(tmp_path / "out", bundled=["experts"], bundled_transports=["stdio"],
                     experts_file=str(experts), config=_tiny(), log=logged.append)
    assert code == exitcodes.USAGE, logged
    assert expect in "\n".join(logged) and not (tmp_path / "out" / "mcp.json").exists()
    result = CliRunner().invoke(_load_script().main, ["--bundled", "experts", "--experts", str(experts),
                                                      "--out", str(tmp_path / "cli")])
    assert result.exit_code == exitcodes.USAGE


def test_simulator_that_does_not_start_is_a_setup_error(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from codeperf.experts.config import DEFAULT_EXPERTS_FILE
    from codeperf.experts.simulator_process import SimulatorProcess

    def refuse(self: SimulatorProcess) -> str:
        raise RuntimeError("the expert simulator did not start (said '')")

    monkeypatch.setattr(SimulatorProcess, "start", refuse)
    logged: list[str] = []
    code = run_suite(tmp_path, bundled=["experts"], bundled_transports=["stdio"],
                     experts_file=str(DEFAULT_EXPERTS_FILE), config=_tiny(), log=logged.append)
    assert code == exitcodes.USAGE
    assert "did not start" in "\n".join(logged) and not (tmp_path / "mcp.json").exists()


def test_server_that_cannot_start_is_an_error_not_a_crash(tmp_path: Path, lenient_targets: Path) -> None:
    specs = [launch.stdio_spec("missing", "/nonexistent/mcp-server --stdio"),
             launch.stdio_spec("exits", f"{sys.executable} -c \"import sys; sys.stderr.write('no luck'); sys.exit(4)\"")]
    code = run_suite(tmp_path, bundled=[], extra_specs=specs, config=_tiny(), log=_quiet)
    data = envelope.load(tmp_path / "mcp.json")
    assert code == exitcodes.FAILED
    errors = {e["server"]: e for e in data["errors"]}
    assert set(errors) == {"missing", "exits"}
    assert "no luck" in errors["exits"]["stderr_tail"]


def _marked_processes(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        argv = proc.info["cmdline"] or []
        # The server itself, not the bench whose --server option also names the marker.
        if marker in argv and str(FAULTY) in argv and proc.pid != os.getpid():
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(proc.pid)
            except psutil.Error:
                pass
    return found


# -- the script -------------------------------------------------------------------

def test_cli_help_and_usage_errors(tmp_path: Path) -> None:
    script = _load_script()
    cli = CliRunner()
    result = cli.invoke(script.main, ["-h"])
    assert result.exit_code == 0 and "--server" in result.output and "Exit codes" in result.output
    assert cli.invoke(script.main, ["--concurrency", "0,5"]).exit_code == exitcodes.USAGE
    assert cli.invoke(script.main, ["--url", "ftp://x"]).exit_code == exitcodes.USAGE
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    result = cli.invoke(script.main, ["--scenario", str(bad), "--no-floor", "--out", str(tmp_path)])
    assert result.exit_code == exitcodes.USAGE


def test_cli_against_a_third_party_command(tmp_path: Path, lenient_targets: Path) -> None:
    script = _load_script()
    scenario = tmp_path / "args.json"
    scenario.write_text(json.dumps({"work": [{"n": 3}]}))
    result = CliRunner().invoke(script.main, [
        "--server", f"mine={sys.executable} {FAULTY}", "--scenario", str(scenario), "--no-floor",
        "--quick", "--calls", "3", "--concurrency", "1,2", "--handled-calls", "10",
        "--out", str(tmp_path / "out")])
    assert result.exit_code == exitcodes.OK, result.output
    data = envelope.load(tmp_path / "out" / "mcp.json")
    rows = {r["id"]: r for r in data["results"]}
    assert rows["mine/work"]["arguments"] == [{"n": 3}] and rows["mine/work"]["summary"]["ok_count"] == 3
    assert "mine/sweep/c2" in rows
    assert rows["handled/total"]["summary"]["ok_count"] == 10


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_writes_partial_results_and_leaves_no_servers(tmp_path: Path, sig: int) -> None:
    marker = f"m{uuid.uuid4().hex[:10]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "scripts" / "mcp_bench.py"), "--no-floor", "--calls", "100000",
         "--server", f"slow={sys.executable} {FAULTY} --slow-ms 20 --marker {marker}",
         "--out", str(tmp_path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _marked_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _marked_processes(marker), "the server never started"
        time.sleep(1.0)  # let some calls run
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == exitcodes.INTERRUPTED, stderr.decode()[-2000:]
    data = envelope.load(tmp_path / "mcp.json")
    assert data["complete"] is False
    assert any(e["kind"] == "interrupted" for e in data["errors"])
    deadline = time.monotonic() + 10
    while _marked_processes(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _marked_processes(marker)


# -- secrets ----------------------------------------------------------------------

MCP_SECRET = "sk-mcp-DO-NOT-LEAK-9876543210"


def test_consult_sends_the_api_key_and_writes_it_nowhere(tmp_path: Path, lenient_targets: Path) -> None:
    """The experts server gets the variable named by api_key_env (the SDK's stdio transport
    would drop it), the keyed expert answers, and no file under --out holds the key."""
    env = {**os.environ, "CODEPERF_TEST_MCP_KEY": MCP_SECRET,
           "PYTHONPATH": os.pathsep.join([str(REPO / "python"), os.environ.get("PYTHONPATH", "")])}
    sim = subprocess.Popen([sys.executable, "-m", "codeperf.experts.simulator", "--port", "0",
                            "--api-key-env", "CODEPERF_TEST_MCP_KEY", "--exit-with-stdin"],
                           env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        from codeperf.experts.simulator import READY_PREFIX

        line = sim.stdout.readline().decode().strip()  # type: ignore[union-attr]
        assert line.startswith(READY_PREFIX), line
        url = line[len(READY_PREFIX):]
        experts = tmp_path / "keyed.toml"
        experts.write_text("".join(f'[[expert]]\nname = "e{i}"\nbase_url = "{url}"\nmodel = "sim-fast"\n'
                                   f'api_key_env = "CODEPERF_TEST_MCP_KEY"\ntimeout_s = 20\n\n'
                                   for i in range(2)))
        out = tmp_path / "out"
        done = subprocess.run(
            [sys.executable, str(REPO / "scripts" / "mcp_bench.py"), "--bundled", "experts",
             "--transport", "stdio", "--tool", "consult", "--experts", str(experts), "--no-floor",
             "--quick", "--calls", "2", "--handled-calls", "2", "--out", str(out)],
            env=env, capture_output=True, timeout=300)
    finally:
        sim.kill()
        sim.wait()
    stderr = done.stderr.decode()
    assert MCP_SECRET not in stderr and MCP_SECRET not in done.stdout.decode()
    data = envelope.load(out / "mcp.json")
    rows = {r["id"]: r for r in data["results"]}
    consult = rows["experts.stdio/consult"]["summary"]
    assert consult["ok_count"] == consult["calls_count"] == 2, (consult, stderr[-2000:])
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert MCP_SECRET.encode() not in path.read_bytes(), path


# -- process groups -----------------------------------------------------------------

def _marked(marker: str) -> list[int]:
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "status"]):
        if marker in (proc.info["cmdline"] or []) and proc.info["status"] != psutil.STATUS_ZOMBIE \
                and proc.pid != os.getpid():
            found.append(proc.pid)
    return found


def test_a_servers_forked_child_is_killed_with_its_group_and_reported(tmp_path: Path,
                                                                      lenient_targets: Path) -> None:
    marker = f"m{uuid.uuid4().hex[:10]}"
    spec = _faulty("forks", "--fork-child", "--marker", marker)
    try:
        code = run_suite(tmp_path, bundled=[], extra_specs=[spec], config=_tiny(), log=_quiet)
        assert not _marked(marker), "a grandchild of the server outlived the run"
        data = envelope.load(tmp_path / "mcp.json")
        reaped = {v["check"]: v for v in data["validity"]}["processes_reaped"]
        # Every session's server forked one; they outlived their servers, so the check says so.
        assert reaped["ok"] is False and reaped["detail"]["killed_at_end"], reaped
        assert reaped["detail"]["still_running"] == [] and reaped["detail"]["groups_seen"] >= 1
        assert code == exitcodes.FAILED
    finally:
        for pid in _marked(marker):
            os.kill(pid, signal.SIGKILL)


def test_a_well_behaved_server_passes_the_group_check(tmp_path: Path, lenient_targets: Path) -> None:
    code = run_suite(tmp_path, bundled=[], extra_specs=[_faulty("plain")], config=_tiny(), log=_quiet)
    data = envelope.load(tmp_path / "mcp.json")
    reaped = {v["check"]: v for v in data["validity"]}["processes_reaped"]
    assert reaped["ok"], reaped
    assert reaped["detail"]["groups_seen"] >= 1 and reaped["detail"]["killed_at_end"] == []
    assert code == exitcodes.OK, data["errors"]


def test_full_mode_leaves_slow_tools_out_of_the_sweep_as_quick_mode_does() -> None:
    """make perf's full mode: a ~0.5 s tool (consult) no longer holds every sweep level to its
    budget; it is measured per tool and listed as left out (slow_tools_left_out_p50_ms)."""
    full, quick = runner.McpBenchConfig.full(), runner.McpBenchConfig.quick()
    assert full.slow_tool_ms == quick.slow_tool_ms == 100.0
    assert full.calls_per_tool > quick.calls_per_tool  # the rest keeps the full sizes
    assert runner.McpBenchConfig.full(slow_tool_ms=None).slow_tool_ms is None
