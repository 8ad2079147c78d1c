"""One CLI style across scripts/: checks that read the scripts' source."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "scripts").glob("*.py"))


def test_scripts_import_the_installed_package_without_sys_path_edits():
    # `make build` installs codeperf into .venv; a script that patches sys.path could
    # import a stale source tree beside a different compiled extension.
    assert SCRIPTS
    offenders = [p.name for p in SCRIPTS if "sys.path" in p.read_text()]
    assert offenders == []


def test_the_rust_bench_package_is_named_for_its_suite():
    pkg = ROOT / "python" / "codeperf"
    assert (pkg / "bench_rust" / "driver.py").is_file()
    assert not (pkg / "bench").exists()


def test_the_two_suite_configs_have_distinct_names():
    from codeperf.bench_rust.driver import RustBenchConfig
    from codeperf.mcp.bench.runner import McpBenchConfig

    assert RustBenchConfig.__name__ != McpBenchConfig.__name__


# -- every script's click command, inspected ------------------------------------------

import importlib.util  # noqa: E402

import click  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from codeperf import cli  # noqa: E402


def _command(path: Path) -> click.Command:
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def commands() -> dict[str, click.Command]:
    return {p.name: _command(p) for p in SCRIPTS}


def test_every_script_uses_the_shared_command_settings(commands):
    for name, command in commands.items():
        assert isinstance(command, cli.ScriptCommand), name
        assert command.context_settings.get("show_default") is True, name
        assert "-h" in command.context_settings.get("help_option_names", []), name
        assert "Exit codes:" in (command.epilog or ""), name


def test_help_texts_are_sentences(commands):
    bad = []
    for name, command in commands.items():
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                text = (param.help or "").strip()
                if not text or not (text[0].isupper() or text[0] in "`0123456789")  \
                        or not text.endswith((".", "]")):
                    bad.append(f"{name} {param.opts[0]}: {text!r}")
    assert bad == []


def test_out_is_a_directory_validated_by_click(commands):
    for name, command in commands.items():
        outs = [p for p in command.params if "--out" in getattr(p, "opts", ()) and not
                isinstance(p, cli.DeprecatedAlias)]
        assert len(outs) == 1 or name == "aa_noise.py", name  # aa_noise updates one file
        for param in outs:
            assert isinstance(param.type, click.Path) and not param.type.file_okay, name


def test_scripts_exit_one_way():
    # cli.exit_with / cli.setup_error keep every exit on the documented codes.
    for path in SCRIPTS:
        text = path.read_text()
        for forbidden in ("sys.exit(", "raise SystemExit("):
            assert forbidden not in text, f"{path.name}: {forbidden}"


def test_every_script_answers_help_with_exit_0(commands):
    for name, command in commands.items():
        result = CliRunner().invoke(command, ["-h"])
        assert result.exit_code == 0, name
        text = " ".join(result.output.split())
        assert "Exit codes:" in text and "Show this message and exit." in text


# -- the shared pieces ----------------------------------------------------------------

@cli.command()
@click.option("--new", "new", default="default", help="The new name.")
@cli.deprecated_alias("--old", "new", "--new")
@click.option("--item", "items", multiple=True, help="Repeatable.")
@cli.deprecated_alias("--old-item", "items", "--item", multiple=True)
def toy(new: str, items: tuple[str, ...]) -> None:
    """A command with renamed options."""
    click.echo(f"new={new} items={','.join(items)}")


def test_a_deprecated_alias_still_works_and_warns():
    result = CliRunner().invoke(toy, ["--old", "x"])
    assert result.exit_code == 0
    assert "new=x" in result.stdout
    assert "warning: --old is deprecated and will be removed in the next release; use --new" \
        in result.stderr
    quiet = CliRunner().invoke(toy, ["--new", "y"])
    assert quiet.exit_code == 0 and "new=y" in quiet.stdout and "deprecated" not in quiet.stderr


def test_a_deprecated_alias_and_its_replacement_together_are_a_usage_error():
    result = CliRunner().invoke(toy, ["--old", "x", "--new", "y"])
    assert result.exit_code == 2
    assert "--old is the old name of --new" in result.stderr


def test_a_repeatable_deprecated_alias_adds_to_the_new_option():
    result = CliRunner().invoke(toy, ["--item", "a", "--old-item", "b"])
    assert result.exit_code == 0 and "items=a,b" in result.stdout


def test_aliases_are_hidden_from_help():
    assert "--old" not in CliRunner().invoke(toy, ["-h"]).output


def test_exit_with_keeps_to_the_documented_codes():
    from codeperf.harness import exitcodes

    for code, expected in ((0, 0), (1, 1), (2, 2), (130, 130), (3, 1), (-9, 1)):
        with pytest.raises(SystemExit) as caught:
            cli.exit_with(code)
        assert caught.value.code == expected
    with pytest.raises(SystemExit) as caught:
        cli.setup_error("no such thing")
    assert caught.value.code == exitcodes.USAGE
