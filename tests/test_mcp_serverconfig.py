"""MCP client config files (Claude Desktop/Cursor `mcpServers`, VS Code `servers`) -> servers.

The fixtures copy the shapes those clients document: Claude Desktop keeps other
preferences beside `mcpServers`; VS Code has `inputs` and typed entries; Cursor
and Claude Code put `url`/`headers` on remote servers.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from codeperf.mcp.bench import serverconfig
from codeperf.mcp.bench.serverconfig import ConfigError

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mcp_bench.py"
SECRET = "ghp_test-secret-0123456789"

CLAUDE_DESKTOP = {
    "globalShortcut": "Ctrl+Space",  # Claude Desktop's own preference: ignored
    "mcpServers": {
        "filesystem": {"command": "npx",
                       "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]},
        "github": {"command": "docker",
                   "args": ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN",
                            "ghcr.io/github/github-mcp-server"],
                   "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}},
        "sqlite": {"command": "uvx", "args": ["mcp-server-sqlite", "--db-path", "${env:CODEPERF_T_DB}"],
                   "cwd": "/tmp", "disabled": True, "autoApprove": []},
    },
}
VSCODE = {
    "inputs": [{"type": "promptString", "id": "api-token", "description": "API token", "password": True}],
    "servers": {
        "fetch": {"type": "stdio", "command": "uvx", "args": ["mcp-server-fetch"]},
        "remote": {"type": "http", "url": "http://127.0.0.1:9/mcp",
                   "headers": {"Authorization": "Bearer ${input:api-token}"}},
    },
}
CURSOR = {"mcpServers": {"docs": {"url": "http://localhost:9/mcp?key=${CODEPERF_T_KEY}",
                                  "headers": {"X-Api-Key": "${env:CODEPERF_T_KEY}"}}}}


def _write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


@pytest.fixture()
def env(monkeypatch):
    monkeypatch.setenv("CODEPERF_T_DB", "/tmp/test.db")
    monkeypatch.setenv("CODEPERF_T_KEY", "key-from-env-42")
    monkeypatch.setenv("CODEPERF_INPUT_API_TOKEN", "token-from-input-77")
    return monkeypatch


def test_claude_desktop_shape(tmp_path, env):
    path = _write(tmp_path, "claude_desktop_config.json", CLAUDE_DESKTOP)
    servers = {s.name: s for s in serverconfig.load(path)}
    assert list(servers) == ["filesystem", "github", "sqlite"]
    fs = servers["filesystem"].spec
    assert fs.transport == "stdio"
    assert fs.command == ["npx", "-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop"]
    assert fs.env == {} and fs.cwd is None
    gh = servers["github"]
    assert gh.spec.env == {"GITHUB_PERSONAL_ACCESS_TOKEN": SECRET}
    assert SECRET in gh.spec.secrets  # a literal env value is a secret too
    sqlite = servers["sqlite"]
    assert sqlite.spec.command[-1] == "/tmp/test.db" and sqlite.spec.cwd == "/tmp"
    assert sqlite.disabled
    # describe() shows the command as written, env names, never values
    described = json.dumps([s.describe() for s in servers.values()])
    assert SECRET not in described and "GITHUB_PERSONAL_ACCESS_TOKEN" in described
    assert "${env:CODEPERF_T_DB}" in described and "/tmp/test.db" not in described


def test_vscode_shape_with_inputs_and_headers(tmp_path, env):
    path = _write(tmp_path, "mcp.json", VSCODE)
    servers = {s.name: s for s in serverconfig.load(path)}
    assert servers["fetch"].spec.command == ["uvx", "mcp-server-fetch"]
    remote = servers["remote"].spec
    assert remote.transport == "http" and remote.url == "http://127.0.0.1:9/mcp"
    assert remote.headers == {"Authorization": "Bearer token-from-input-77"}
    assert servers["remote"].describe()["headers"] == ["Authorization"]
    assert "token-from-input-77" not in json.dumps(servers["remote"].describe())
    assert remote.scrub("401 for Bearer token-from-input-77") == "401 for [REDACTED]"


def test_vscode_settings_json_nests_servers_under_mcp(tmp_path, env):
    path = _write(tmp_path, "settings.json", {"editor.fontSize": 14, "mcp": VSCODE})
    assert [s.name for s in serverconfig.load(path)] == ["fetch", "remote"]


def test_cursor_url_with_variables_is_described_unresolved(tmp_path, env):
    path = _write(tmp_path, "mcp.json", CURSOR)
    (docs,) = serverconfig.load(path)
    assert docs.spec.url == "http://localhost:9/mcp?key=key-from-env-42"
    assert docs.spec.headers == {"X-Api-Key": "key-from-env-42"}
    assert "key-from-env-42" not in docs.spec.describe()
    assert "${CODEPERF_T_KEY}" in docs.spec.describe()


def test_only_and_disabled(tmp_path, env):
    path = _write(tmp_path, "c.json", CLAUDE_DESKTOP)
    assert [s.name for s in serverconfig.load_all([path])] == ["filesystem", "github"]
    assert [s.name for s in serverconfig.load_all([path], only=["sqlite"])] == ["sqlite"]
    with pytest.raises(ConfigError, match="--only nope: no such server.*filesystem, github, sqlite"):
        serverconfig.load_all([path], only=["nope"])


@pytest.mark.parametrize("text, message", [
    ('{"mcpServers": {"a": {"command": "x",}}}', "not valid JSON"),
    ('{"mcpServers": {"fs": {"args": ["-y"]}}}', "server 'fs': missing command"),
    ('{"mcpServers": {"fs": {"command": "x", "argz": []}}}', "server 'fs': unknown key\\(s\\) argz"),
    ('{"servers": {"web": {"type": "http", "url": "http://127.0.0.1:1/mcp", "env": {}}}}',
     "server 'web': unknown key\\(s\\) env"),
    ('{"servers": {"old": {"type": "sse", "url": "http://127.0.0.1:1/sse"}}}', "server 'old': type \"sse\""),
    ('{"mcpServers": {"fs": {"command": "x", "env": {"K": "${env:CODEPERF_T_UNSET}"}}}}',
     "server 'fs': env.K uses \\$\\{env:CODEPERF_T_UNSET\\} but the environment variable "
     "CODEPERF_T_UNSET is not set"),
    ('{"servers": {"gh": {"command": "x", "env": {"T": "${input:gh-pat}"}}}}',
     "server 'gh': env.T uses \\$\\{input:gh-pat\\}.*never prompts: set the environment variable "
     "CODEPERF_INPUT_GH_PAT"),
    ('{"mcpServers": {"fs": {"command": "x", "args": "-y"}}}', "server 'fs': args must be a list"),
    ('{"mcpServers": {"fs": {"command": "x", "cwd": "/no/such/dir"}}}', "server 'fs': cwd"),
    ('{"mcpServers": {}}', "no servers"),
    ('[]', "expected a JSON object"),
])
def test_bad_configs_name_file_and_server(tmp_path, monkeypatch, text, message):
    monkeypatch.delenv("CODEPERF_T_UNSET", raising=False)
    monkeypatch.delenv("CODEPERF_INPUT_GH_PAT", raising=False)
    path = _write(tmp_path, "bad.json", text)
    with pytest.raises(ConfigError, match=message) as info:
        serverconfig.load(path)
    assert str(path) in str(info.value)


def _script():
    spec = importlib.util.spec_from_file_location("mcp_bench_script_cfg", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.mark.parametrize("text, where", [
    ('{"mcpServers": {"fs": {"command": "x",', "not valid JSON"),
    ('{"mcpServers": {"fs": {"args": []}}}', "server 'fs': missing command"),
    ('{"mcpServers": {"fs": {"command": "x", "enabled": true}}}', "server 'fs': unknown key(s) enabled"),
])
def test_cli_bad_config_exits_2_naming_file_and_server(tmp_path, text, where):
    path = _write(tmp_path, "claude.json", text)
    result = CliRunner().invoke(_script(), ["--config", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert str(path) in result.stderr and where in result.stderr
    assert not (tmp_path / "o" / "mcp.json").exists()


def test_cli_only_without_config_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(_script(), ["--only", "fs", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "--only" in result.output + result.stderr


def test_cli_remote_url_in_config_needs_allow_remote(tmp_path):
    path = _write(tmp_path, "c.json", {"mcpServers": {"far": {"url": "https://mcp.example.com/mcp"}}})
    result = CliRunner().invoke(_script(), ["--config", str(path), "--no-floor", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "far" in result.stderr and "not a loopback address" in result.stderr


def test_scrub_logs_takes_secrets_out_of_server_logs(tmp_path, env):
    from codeperf.mcp.bench.suite import scrub_logs

    (github,) = [s for s in serverconfig.load(_write(tmp_path, "c.json", CLAUDE_DESKTOP)) if s.name == "github"]
    log = tmp_path / "github.stderr.log"
    log.write_text(f"starting with token {SECRET}\n")
    scrub_logs([github.spec], tmp_path)
    assert SECRET not in log.read_text() and "[REDACTED]" in log.read_text()


def bundled_config(tmp_path: Path, files_root: Path) -> Path:
    """A Claude Desktop config naming two bundled servers as third-party ones (by command)."""
    return _write(tmp_path, "claude_desktop_config.json", {"mcpServers": {
        "util": {"command": sys.executable, "args": ["-m", "codeperf.mcp.utility", "--transport", "stdio"],
                 "env": {"UTIL_TOKEN": "${env:CODEPERF_T_KEY}"}, "cwd": str(tmp_path)},
        "fs": {"command": sys.executable,
               "args": ["-m", "codeperf.mcp.files", "--transport", "stdio", "--root", str(files_root)]},
    }})


def test_bundled_servers_started_from_a_config_file(tmp_path, env):
    """The whole run from a config entry: generated arguments, the hint, no secret in any output."""
    from codeperf.mcp.bench import runner
    from codeperf.mcp.bench.suite import run_suite

    root = tmp_path / "root"
    root.mkdir()
    path = bundled_config(tmp_path, root)
    specs = [s.spec for s in serverconfig.load_all([path])]
    config = runner.McpBenchConfig.quick(floor=False, handled_calls=20, include=("noop", "hash", "read_file"),
                                      concurrency=(1,))
    out = tmp_path / "out"
    argv = ["--config", str(path), "--quick"]
    code = run_suite(out, bundled=(), extra_specs=specs, config=config, quick=True,
                     cli_config={"argv": argv}, log=lambda line: None)
    envelope = json.loads((out / "mcp.json").read_text())
    rows = {r["id"]: r for r in envelope["results"] if r["kind"] == "tool"}
    assert rows["util/noop"]["summary"]["ok_count"] == rows["util/noop"]["summary"]["calls_count"] > 0
    assert rows["util/hash"]["arguments_from"] == "schema" and rows["util/hash"]["summary"]["ok_count"] > 0
    # read_file gets a valid string that is no file: the server refuses, and the run says how to fix it
    assert rows["fs/read_file"]["summary"]["ok_count"] == 0
    assert rows["fs/read_file"]["generated_arguments_rejected"]["kind"] == "isError"
    (hint,) = [r for r in envelope["results"] if r["kind"] == "arguments_hint"]
    assert [t["tool"] for t in hint["tools"]] == ["fs/read_file"]
    assert "codeperf" in hint["tools"][0]["first_error"]
    assert hint["commands"] == [
        f".venv/bin/python scripts/mcp_bench.py --config {path} --quick --write-args mcp_args.toml",
        f".venv/bin/python scripts/mcp_bench.py --config {path} --quick --args mcp_args.toml"]
    assert code == 1  # the handled-calls target (20 < 1000) fails, as it must
    for file in out.rglob("*"):
        if file.is_file():
            assert "key-from-env-42" not in file.read_text(errors="replace"), file


def test_make_mcp_passes_each_config_file():
    import subprocess

    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(["make", "--no-print-directory", "-n", "mcp", "MCP_CONFIG=a.json b.json",
                          "MCP_ARGS=--only fs"], cwd=root, capture_output=True, text=True, check=True)
    assert " ".join(dry.stdout.split()).endswith("scripts/mcp_bench.py --config a.json --config b.json --only fs")


def test_the_same_server_name_twice_needs_only(tmp_path, env):
    a = _write(tmp_path, "a.json", {"mcpServers": {"fs": {"command": "x"}}})
    b = _write(tmp_path, "b.json", {"servers": {"fs": {"command": "y"}}})
    with pytest.raises(ConfigError, match="fs appear more than once"):
        serverconfig.load_all([a, b])


def test_a_refused_remote_url_does_not_echo_its_key(tmp_path, env):
    env.setenv("CODEPERF_T_REMOTE_KEY", "remote-key-0123456789")
    path = _write(tmp_path, "c.json", {"mcpServers": {"far": {"url": "https://mcp.example.com/mcp?k=${CODEPERF_T_REMOTE_KEY}"}}})
    result = CliRunner().invoke(_script(), ["--config", str(path), "--no-floor", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "not a loopback address" in result.stderr
    assert "remote-key-0123456789" not in result.output + result.stderr
