"""--write-args templates (round trip through --args), the generated-arguments hint, --args/--scenario."""

from __future__ import annotations

import importlib.util
import json
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from _mcp_schema_corpus import CORPUS
from codeperf.mcp.bench import argsfile, argshint, table
from codeperf.mcp.bench.argsfile import ToolInfo
from codeperf.mcp.bench.argsgen import args_for, load_scenario_file

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "mcp_bench.py"
TOOLS = [ToolInfo(server, tool, desc, schema) for server, tool, desc, schema in CORPUS]


def test_template_round_trip_loads_back_as_args(tmp_path):
    text = argsfile.render(TOOLS, "mcp_bench.py --args args.toml")
    path = tmp_path / "args.toml"
    path.write_text(text)
    loaded = load_scenario_file(path)
    for tool in TOOLS:
        sets, source = args_for(tool.label, {"name": tool.name, "inputSchema": tool.input_schema}, loaded)
        assert source == "scenario" and len(sets) == 1, tool.name
        jsonschema.validate(sets[0], tool.input_schema)


def test_template_documents_each_parameter():
    text = argsfile.render(TOOLS, "RUN THIS")
    assert "#   RUN THIS" in text
    assert "# fetch: fetch - Fetches a URL" in text
    assert "#   url (string; format uri, minLength 1, required): URL to fetch" in text
    assert "#   max_length (integer, optional): Maximum number of characters to return." in text
    assert '# max_length = 5000' in text  # an optional parameter: commented out, with a value
    assert '[[get_current_time]]\ntimezone = "America/New_York"' in text
    assert "#   sortBy (one of \"name\", \"size\", optional)" in text


def test_template_qualifies_tools_that_differ_between_servers():
    a = ToolInfo("one", "search", "", {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
    b = ToolInfo("two", "search", "", {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    same = ToolInfo("one.http", "search", "", a.input_schema)
    text = argsfile.render([a, b], "x")
    assert '[["one.search"]]' in text and '[["two.search"]]' in text
    assert argsfile.render([a, same], "x").count("[[search]]") == 1  # one server on two transports


@pytest.mark.parametrize("value", ["plain", 'quo"te', "back\\slash", "new\nline", "ünï ✓", "", 0, -3, 2.5,
                                   True, ["a", 1], {"k": "v", "with space": [1, {"x": False}]}])
def test_toml_values_round_trip(value):
    assert tomllib.loads(f"v = {argsfile.toml_value(value)}")["v"] == value


def test_rejected_generated_arguments():
    assert argshint.rejected("schema", {"is_error": 3, "jsonrpc": 0}, {"is_error": "no such file"}) \
        == {"kind": "isError", "first_error": "no such file"}
    assert argshint.rejected("schema", {"is_error": 0, "jsonrpc": 2}, {"jsonrpc": "-32602: bad path"}) \
        == {"kind": "invalid params", "first_error": "-32602: bad path"}
    # Not the arguments' fault (method not found, internal error), or the user's own arguments:
    assert argshint.rejected("schema", {"is_error": 0, "jsonrpc": 2}, {"jsonrpc": "-32603: boom"}) is None
    assert argshint.rejected("scenario", {"is_error": 3}, {"is_error": "no such file"}) is None
    assert argshint.rejected("schema", {"is_error": 0, "jsonrpc": 0}, {}) is None


def test_hint_commands_keep_the_run_and_swap_the_args_options():
    argv = ["--config", "c.json", "--args", "old.toml", "--quick", "--scenario=x.toml", "--write-args", "t.toml"]
    write, run = argshint.commands(argv)
    assert write == ".venv/bin/python scripts/mcp_bench.py --config c.json --quick --write-args mcp_args.toml"
    assert run == (".venv/bin/python scripts/mcp_bench.py --config c.json --args old.toml --quick "
                   "--scenario=x.toml --args mcp_args.toml")


def test_hint_in_the_table():
    rows = [{"id": "fs/read_file", "kind": "tool", "server": "fs",
             "generated_arguments_rejected": {"kind": "isError", "first_error": "'codeperf' is not a file"}},
            {"id": "fs/list", "kind": "tool", "server": "fs"}]
    entry = argshint.hint_entry(rows, ["--config", "c.json"])
    assert argshint.hint_entry(rows[1:], []) is None
    text = table.render({"results": [entry], "targets": [], "validity": [], "errors": []})
    assert "arguments generated from the schema were rejected by 1 tool(s)" in text
    assert "fs/read_file: isError: 'codeperf' is not a file" in text
    assert "scripts/mcp_bench.py --config c.json --write-args mcp_args.toml" in text
    assert "scripts/mcp_bench.py --config c.json --args mcp_args.toml" in text


def _script():
    spec = importlib.util.spec_from_file_location("mcp_bench_script_args", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_scenario_is_a_deprecated_alias_of_args(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("read_file = 3\n")
    out = str(tmp_path / "o")
    old = CliRunner().invoke(_script(), ["--scenario", str(bad), "--out", out])
    assert old.exit_code == 2
    assert "--scenario is deprecated" in old.stderr and str(bad) in old.stderr
    new = CliRunner().invoke(_script(), ["--args", str(bad), "--out", out])
    assert new.exit_code == 2
    assert "--scenario is deprecated" not in new.stderr and "must map to a non-empty list" in new.stderr


def test_write_args_from_a_config_file(tmp_path, monkeypatch):
    """--write-args against a server started from a config entry: lists tools, calls none."""
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps({"servers": {"util": {
        "type": "stdio", "command": sys.executable,
        "args": ["-m", "codeperf.mcp.utility", "--transport", "stdio"]}}}))
    template = tmp_path / "args.toml"
    argv = ["--config", str(config), "--write-args", str(template), "--out", str(tmp_path / "o")]
    monkeypatch.setattr(sys, "argv", ["mcp_bench.py", *argv])
    result = CliRunner().invoke(_script(), argv)
    assert result.exit_code == 0, result.stderr
    text = template.read_text()
    assert "# util: hash - " in text and '[[hash]]\npayload = "codeperf"' in text
    assert f"--config {config} --out {tmp_path / 'o'} --args {template}" in text
    assert set(load_scenario_file(template)) == {"noop", "echo", "hash", "sleep", "fail"}
    assert not (tmp_path / "o" / "mcp.json").exists()  # nothing was benchmarked


def test_quick_mode_takes_the_bundled_servers_over_stdio_only(tmp_path: Path) -> None:
    """--quick lists (and so benchmarks) each bundled server once, over stdio; --transport
    both brings the HTTP servers back."""
    labels = {}
    for name, extra in (("quick", ["--quick"]), ("quick-both", ["--quick", "--transport", "both"])):
        result = CliRunner().invoke(_script(), [*extra, "--bundled", "utility", "--write-args",
                                                str(tmp_path / f"{name}.toml"), "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        labels[name] = {t for t in ("utility.stdio", "utility.http") if t in result.output}
    assert labels == {"quick": {"utility.stdio"}, "quick-both": {"utility.stdio", "utility.http"}}
