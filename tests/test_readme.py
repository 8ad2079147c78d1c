"""`make docs-check`: every command in README.md runs (the README is the user guide).

Commands are the lines of its ```sh blocks and its ```python example. Cheap
ones run as written (CHEAP). The measuring ones must stay fast here, so they
run with `--help` appended: click parses every option of the line first, so an
option or target that no longer exists fails the test, and nothing is measured.
A make target is first expanded with `make -n` (which checks the target and its
variables), then each suite script it would launch gets the same `--help` run.
`make test`/`make docs-check` are only expanded: they are this test's callers. The
Python example runs on 5 answers of 256 bytes instead of 100 x 2 KB.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PY = ".venv/bin/python"
# Run as written: quick, and they print what the README says they print.
CHEAP = {("make", "help"), (PY, "scripts/load_scenarios.py", "--list")}
COMMENT = re.compile(r"\s+#\s.*$")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README.read_text(encoding="utf-8"), re.S | re.M)


def readme_commands() -> list[list[str]]:
    commands = []
    for block in _blocks("sh"):
        for line in block.splitlines():
            line = COMMENT.sub("", line).strip()
            if line:
                commands.append(shlex.split(line))
    return commands


def _run(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _help_of(argv: list[str]) -> None:
    """A script command line with --help appended: every option it uses must exist."""
    result = _run([sys.executable if argv[0] == PY else argv[0], *argv[1:], "--help"])
    assert result.returncode == 0, f"{shlex.join(argv)} --help: {result.stderr[-2000:]}"
    assert "Exit codes:" in " ".join(result.stdout.split()), shlex.join(argv)


def _make(argv: list[str]) -> None:
    dry = _run(["make", "--no-print-directory", "-n", *argv[1:]])
    assert dry.returncode == 0, f"{shlex.join(argv)}: {dry.stderr}"
    if argv[1] in ("test", "docs-check"):
        return
    launched = [shlex.split(line) for line in dry.stdout.splitlines() if " scripts/" in line
                and line.startswith(PY)]
    for command in launched:
        _help_of(command)


def test_the_readme_has_commands_to_check():
    commands = readme_commands()
    assert len(commands) >= 20
    assert ["make", "perf", "EXPERTS=my_experts.toml", "MCP_CONFIG=claude_desktop_config.json"] \
        in commands


@pytest.mark.parametrize("argv", readme_commands(), ids=shlex.join)
def test_readme_command(argv):
    if tuple(argv) in CHEAP:
        result = _run([sys.executable if argv[0] == PY else argv[0], *argv[1:]])
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()
    elif argv[0] == "make":
        _make(argv)
    elif argv[0] == PY and argv[1].startswith("scripts/"):
        _help_of(argv)
    else:
        pytest.fail(f"README command not covered by this test: {shlex.join(argv)}")


def test_the_python_example_runs(monkeypatch):
    (example,) = _blocks("python")
    namespace: dict = {}
    exec(compile(example.replace("generate_responses(100, 2048)", "generate_responses(5, 256)"),
                 "README.md", "exec"), namespace)
    assert namespace["engine"].active_backend() in ("rust", "python")
