"""The bundled MCP servers over both transports, through the real SDK client.

Each server is started as a subprocess (stdio: by the SDK's transport; HTTP: by
the benchmark's launcher), its tools are listed and each one is called with the
bundled argument sets; errors come back as the MCP error kinds we document.
Every test checks that the server processes it started are gone afterwards.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeperf.mcp.bench import launch
from codeperf.mcp.bench.argsgen import load_scenario_file
from codeperf.mcp.bench.calls import call_once
from codeperf.mcp.bench.fixture import BUNDLED_SCENARIOS_PATH, make_files_root
from codeperf.mcp.sandbox import OutsideRoot, Sandbox

pytestmark = pytest.mark.timeout(90)

EXPECTED_TOOLS = {
    "files": {"read_file", "list_directory", "search_glob"},
    "experts": {"analyze_responses", "compute_consensus", "aggregate_responses", "engine_backend", "consult"},
    "system": {"cpu", "memory", "disk", "processes"},
    "utility": {"noop", "echo", "hash", "sleep", "fail"},
}
SCENARIOS = load_scenario_file(BUNDLED_SCENARIOS_PATH)


def _engine_ready() -> bool:
    try:
        import codeperf.engine as engine
        from codeperf.engine.corpus import generate_responses

        engine.analyze_responses(generate_responses(2, 256))
        return True
    except NotImplementedError:
        return False


async def _with_session(name: str, transport: str, root: Path, body: Any, tmp_path: Path) -> Any:
    spec = launch.bundled_spec(name, transport, files_root=root)
    async with launch.ServerHandle(spec, tmp_path / "logs", call_timeout_s=20) as handle:
        async with handle.session() as session:
            result = await body(session.client)
            pids = [p for p in (session.pid, handle.http_pid) if p]
    return result, pids


def _assert_gone(pids: list[int]) -> None:
    assert pids, "the server pid was not found"
    for pid in pids:
        assert not launch.alive(pid), f"server process {pid} outlived its session"


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    return make_files_root(tmp_path / "root")


@pytest.mark.parametrize("transport", ["stdio", "http"])
@pytest.mark.parametrize("name", sorted(EXPECTED_TOOLS))
def test_server_lists_and_calls_every_tool(name: str, transport: str, files_root: Path,
                                           tmp_path: Path) -> None:
    engine_ready = _engine_ready()

    async def body(client: Any) -> dict[str, Any]:
        listing = await client.list_tools()
        names = {t.name for t in listing.tools}
        outcomes = {}
        for tool in sorted(names):
            for args in SCENARIOS.get(tool, [{}]):
                outcomes[(tool, str(args))] = await call_once(client, tool, args, timeout_s=20)
        return {"names": names, "outcomes": outcomes}

    result, pids = asyncio.run(_with_session(name, transport, files_root, body, tmp_path))
    assert result["names"] == EXPECTED_TOOLS[name]
    for (tool, args), outcome in result["outcomes"].items():
        if tool == "fail":
            expected = "jsonrpc" if "protocol_error" in args else "is_error"
            assert outcome.kind == expected, (tool, args, outcome)
        elif tool == "consult":
            assert outcome.kind == "is_error"  # no experts file given to the server
        elif name == "experts" and tool != "engine_backend" and not engine_ready:
            assert outcome.kind == "is_error" and "not implemented" in outcome.message
        else:
            assert outcome.kind == "ok", (tool, args, outcome)
    _assert_gone(pids)


def test_utility_results_are_what_the_tools_promise(tmp_path: Path) -> None:
    async def body(client: Any) -> list[Any]:
        echo = await client.call_tool("echo", {"payload": "abc" * 1000})
        sized = await client.call_tool("echo", {"size_bytes": 4096})
        digest = await client.call_tool("hash", {"payload": "codeperf", "rounds": 1})
        unknown = await call_once(client, "no_such_tool", {}, timeout_s=10)
        bad_args = await call_once(client, "sleep", {"ms": -5}, timeout_s=10)
        return [echo, sized, digest, unknown, bad_args]

    (echo, sized, digest, unknown, bad_args), pids = asyncio.run(
        _with_session("utility", "stdio", tmp_path, body, tmp_path))
    import hashlib

    assert echo.content[0].text == "abc" * 1000
    assert sized.content[0].text == "x" * 4096
    assert digest.content[0].text == hashlib.sha256(b"codeperf").hexdigest()
    assert unknown.kind in ("jsonrpc", "is_error")  # the SDK reports unknown tools as a tool error
    assert bad_args.kind == "is_error" and "ms must be within" in bad_args.message
    _assert_gone(pids)


# -- the files sandbox ---------------------------------------------------------

@pytest.fixture
def sandbox_tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "escape").symlink_to(tmp_path / "secret.txt")
    (root / "escape_dir").symlink_to(tmp_path)
    (root / "inner_link").symlink_to(root / "sub" / "ok.txt")
    return root


def test_sandbox_resolves_inside_and_refuses_outside(sandbox_tree: Path) -> None:
    box = Sandbox(sandbox_tree)
    assert box.resolve("sub/ok.txt").read_text() == "inside"
    assert box.resolve("inner_link").read_text() == "inside"  # a link that stays inside is fine
    assert box.resolve("sub/../sub/ok.txt") == box.resolve("sub/ok.txt")
    for bad in ("../secret.txt", "sub/../../secret.txt", "escape", "escape_dir/secret.txt",
                str(sandbox_tree.parent / "secret.txt"), "/etc/passwd", "a\x00b"):
        with pytest.raises(OutsideRoot):
            box.resolve(bad)


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_files_server_refuses_paths_leaving_the_root(sandbox_tree: Path, tmp_path: Path,
                                                     transport: str) -> None:
    async def body(client: Any) -> dict[str, Any]:
        out = {}
        for path in ("../secret.txt", "escape", "escape_dir/secret.txt", "/etc/passwd"):
            out[("read_file", path)] = await call_once(client, "read_file", {"path": path}, 10)
        out[("list_directory", "..")] = await call_once(client, "list_directory", {"path": ".."}, 10)
        out[("list_directory", "escape_dir")] = await call_once(
            client, "list_directory", {"path": "escape_dir"}, 10)
        out[("search_glob", "../*")] = await call_once(client, "search_glob", {"pattern": "../*"}, 10)
        ok = await client.call_tool("read_file", {"path": "sub/ok.txt"})
        globbed = await client.call_tool("search_glob", {"pattern": "**/*.txt"})
        return {"refused": out, "ok": ok, "globbed": globbed}

    result, pids = asyncio.run(_with_session("files", transport, sandbox_tree, body, tmp_path))
    for what, outcome in result["refused"].items():
        assert outcome.kind == "jsonrpc" and "refused" in outcome.message, (what, outcome)
    assert result["ok"].content[0].text == "inside"
    matches = result["globbed"].structured_content["result"]
    assert "sub/ok.txt" in matches
    assert "escape" not in matches and not any("secret" in m for m in matches)
    _assert_gone(pids)


def test_files_server_refuses_a_hard_link_to_a_file_outside(sandbox_tree: Path, tmp_path: Path) -> None:
    os.link(tmp_path / "secret.txt", sandbox_tree / "hard.txt")  # same inode, name inside the root

    async def body(client: Any) -> Any:
        return (await call_once(client, "read_file", {"path": "hard.txt"}, 10),
                await client.call_tool("read_file", {"path": "sub/ok.txt"}))

    (refused, ok), pids = asyncio.run(_with_session("files", "stdio", sandbox_tree, body, tmp_path))
    assert refused.kind == "jsonrpc" and "2 hard links" in refused.message, refused
    assert "outside" not in refused.message  # the content is not echoed
    assert ok.content[0].text == "inside"
    _assert_gone(pids)


def test_search_glob_stops_at_its_limit_and_does_not_loop_through_links(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for i in range(30):
        (root / f"f{i:02d}.txt").write_text("x")
    (root / "loop").symlink_to(root)  # `*/*/*/...` through this used to take 41 s at depth 14
    deep = "/".join(["*"] * 14)

    async def body(client: Any) -> Any:
        return (await client.call_tool("search_glob", {"pattern": deep}),
                await client.call_tool("search_glob", {"pattern": "**/*.txt", "limit": 5}),
                await client.call_tool("search_glob", {"pattern": "*/*.txt"}))

    (deep_result, limited, through_link), pids = asyncio.run(
        _with_session("files", "stdio", root, body, tmp_path))
    assert deep_result.structured_content["result"] == []
    assert limited.structured_content["result"] == [f"f{i:02d}.txt" for i in range(5)]
    assert through_link.structured_content["result"] == []  # a directory link is not entered
    _assert_gone(pids)


def test_globwalk_matches_path_glob_and_bounds_depth_and_time(tmp_path: Path) -> None:
    from codeperf.mcp.globwalk import GlobTooCostly, iter_matches

    for rel in ("a.txt", "b.md", "sub/c.txt", "sub/deep/d.txt", "sub/deep/e.py", ".hid/f.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    for pattern in ("*.txt", "**/*.txt", "*/*", "sub/**", "**/deep/*", "[ab].*", "s?b/[!c]*",
                    "sub/deep/e.py"):
        mine = sorted(p.relative_to(tmp_path) for p in iter_matches(tmp_path, pattern))
        assert mine == sorted(p.relative_to(tmp_path) for p in tmp_path.glob(pattern)
                              if p != tmp_path), pattern
    shallow = {p.relative_to(tmp_path).as_posix() for p in iter_matches(tmp_path, "**/*", max_depth=2)}
    assert "sub/deep" in shallow and "sub/deep/d.txt" not in shallow
    with pytest.raises(GlobTooCostly, match="narrow the pattern"):
        list(iter_matches(tmp_path, "**/*", time_budget_s=-1.0))


def test_bundled_servers_start_with_help() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[1] / "python"), os.environ.get("PYTHONPATH", "")])}
    for module in ("codeperf.mcp.files", "codeperf.mcp.utility", "codeperf.mcp.rawfloor"):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True,
                              timeout=60, env=env)
        assert done.returncode == 0 and "--transport" in done.stdout


@pytest.mark.parametrize("stdio_transport", ["asyncio", "sdk"])
def test_utility_server_on_each_stdio_transport(tmp_path: Path, stdio_transport: str) -> None:
    """Both stdio transports (our pipes, the default; the SDK's stdio_server) serve the same
    protocol and exit when stdin closes."""
    spec = launch.bundled_spec("utility", "stdio")
    assert spec.command is not None
    spec.command += ["--stdio-transport", stdio_transport]

    async def run() -> tuple[Any, Any, list[int]]:
        async with launch.ServerHandle(spec, tmp_path / "logs", call_timeout_s=20) as handle:
            async with handle.session() as session:
                echo = await session.client.call_tool("echo", {"payload": "z" * 100_000})
                failed = await call_once(session.client, "fail", {"kind": "protocol_error"}, 10)
                pid = session.pid
        return echo, failed, [pid] if pid else []

    echo, failed, pids = asyncio.run(run())
    assert echo.content[0].text == "z" * 100_000
    assert failed.kind == "jsonrpc"
    _assert_gone(pids)


def test_asyncio_pipes_keep_stray_output_off_the_wire() -> None:
    """A print() in a tool goes to stderr, as with the SDK's stdio_server; only the transport
    writes the wire, and fd 0 no longer reads it."""
    code = ("import os, sys; from codeperf.mcp.pipes import _claim_stdio; wire_in, wire_out = "
            "_claim_stdio(); print('stray', flush=True); os.write(1, b'raw fd 1\\n'); "
            "wire_out.write(b'wire\\n'); print(repr(sys.stdin.read()), file=sys.stderr); "
            "print(repr(wire_in.read()), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], input=b"request\n", capture_output=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"wire\n"
    assert done.stderr.splitlines() == [b"stray", b"raw fd 1", b"''", b"b'request\\n'"]
