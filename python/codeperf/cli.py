"""The one style of `scripts/`: shared click options, help settings and exit codes.

Every script builds its command with `command()` (-h/--help, defaults shown, the
exit codes in the epilog) and takes the options several scripts share from here,
so `--out DIR`, `--experts FILE` or `--allow-remote` mean the same thing, are
validated by click the same way and read the same in every `--help`.

Help texts are sentences: a capital first letter and a final full stop (or a
closing bracket after a `[default: ...]` note); tests/test_cli_style.py checks it.

Renamed options stay for one release as hidden aliases (`deprecated_alias`) that
print a warning naming the new spelling, so users' scripts keep working.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, NoReturn

import click
from click.core import ParameterSource

from codeperf.harness import exitcodes
from codeperf.harness.run_dir import OUT_DEFAULT_NOTE

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "show_default": True}
DOCUMENTED_EXIT_CODES = (exitcodes.OK, exitcodes.FAILED, exitcodes.USAGE, exitcodes.INTERRUPTED)

F = Callable[..., Any]


class DeprecatedAlias(click.Option):
    """A hidden option kept for one release under its old name; ScriptCommand moves its
    value to the option that replaced it, with a warning."""

    def __init__(self, *args: Any, replaced_by: str, new_flag: str, conflict_hint: str = "",
                 convert: Callable[[Any], Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("hidden", True)
        kwargs.setdefault("default", None)
        super().__init__(*args, **kwargs)
        self.replaced_by = replaced_by  # the parameter name of the new option
        self.new_flag = new_flag  # how users spell it now, for the warning
        self.conflict_hint = conflict_hint  # what to write instead when both are given
        self.convert_value = convert  # old meaning -> new option's value, when they differ


class ScriptCommand(click.Command):
    """A click command that resolves DeprecatedAlias options before the callback runs."""

    def invoke(self, ctx: click.Context) -> Any:
        for param in self.params:
            if isinstance(param, DeprecatedAlias):
                _resolve_alias(ctx, param)
        return super().invoke(ctx)


def _resolve_alias(ctx: click.Context, alias: DeprecatedAlias) -> None:
    value = ctx.params.pop(alias.name, None)  # type: ignore[arg-type]
    if value is None or value == ():
        return
    old = alias.opts[0]
    warn_deprecated(old, alias.new_flag)
    target = alias.replaced_by
    if alias.convert_value is not None:
        value = alias.convert_value(value)
    if alias.multiple:
        ctx.params[target] = (*(ctx.params.get(target) or ()), *value)
        return
    if ctx.get_parameter_source(target) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
        raise click.UsageError(alias.conflict_hint or f"{old} is the old name of {alias.new_flag}; "
                               f"give only {alias.new_flag}", ctx)
    ctx.params[target] = value


def warn_deprecated(old: str, new: str) -> None:
    click.echo(f"warning: {old} is deprecated and will be removed in the next release; "
               f"use {new}", err=True)


def command(epilog: str = exitcodes.EPILOG, **kwargs: Any) -> Callable[[F], click.Command]:
    """click.command with the house settings: -h/--help, defaults shown, exit codes listed."""
    return click.command(cls=ScriptCommand, context_settings=dict(CONTEXT_SETTINGS), epilog=epilog,
                         **kwargs)


def deprecated_alias(flag: str, replaced_by: str, new_flag: str, **kwargs: Any) -> Callable[[F], F]:
    """`flag` (hidden) is the old name of the option whose parameter is `replaced_by`."""
    name = "deprecated_" + flag.lstrip("-").replace("-", "_")
    return click.option(flag, name, cls=DeprecatedAlias, replaced_by=replaced_by, new_flag=new_flag,
                        expose_value=True, **kwargs)


# -- options shared by several scripts ----------------------------------------------

def out_option(help: str = "Output directory. " + OUT_DEFAULT_NOTE, **kwargs: Any) -> Callable[[F], F]:
    """`--out DIR`: where the script writes; a directory, never a file (click checks)."""
    kwargs.setdefault("default", None)
    return click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
                        metavar="DIR", help=help, **kwargs)


def quick_option(help: str = "Short runs for pull requests.") -> Callable[[F], F]:
    return click.option("--quick", is_flag=True, help=help)


def existing_dir_option(flag: str, name: str, help: str, **kwargs: Any) -> Callable[[F], F]:
    """A directory that must exist (a run to read, a baseline to compare with)."""
    kwargs.setdefault("default", None)
    return click.option(flag, name, type=click.Path(exists=True, file_okay=False, path_type=Path),
                        metavar="DIR", help=help, **kwargs)


def baseline_option(help: str = "A previous run directory to compare with.") -> Callable[[F], F]:
    return existing_dir_option("--baseline", "baseline", help)


def experts_option(help: str, **kwargs: Any) -> Callable[[F], F]:
    """`--experts FILE`: an experts TOML (codeperf.experts.config); it must exist."""
    kwargs.setdefault("default", None)
    return click.option("--experts", "experts_file", metavar="FILE",
                        type=click.Path(exists=True, dir_okay=False, path_type=Path), help=help,
                        **kwargs)


def expert_url_option(help: str = ("An OpenAI-compatible endpoint for the circle, instead of "
                                   "--experts (repeatable), e.g. http://127.0.0.1:8000/v1#llama3; "
                                   "without #MODEL the first model of GET URL/models is used "
                                   "(none listed: exit 2).")) -> Callable[[F], F]:
    return click.option("--expert", "expert_urls", multiple=True, metavar="URL[#MODEL]", help=help)


def api_key_env_option() -> Callable[[F], F]:
    return click.option("--api-key-env", default="", metavar="VAR", show_default=False,
                        help="Environment variable holding the API key of the --expert endpoints "
                             "(its value is never written).")


def allow_remote_option(help: str = ("Allow targets outside 127.0.0.0/8 and ::1 (never by "
                                     "accident).")) -> Callable[[F], F]:
    return click.option("--allow-remote", is_flag=True, help=help)


def mcp_config_option(flag: str = "--config") -> Callable[[F], F]:
    return click.option(flag, "config_files", multiple=True, metavar="FILE",
                        type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="MCP client config (JSON) naming the servers to run: Claude Desktop/"
                             "Cursor {\"mcpServers\": ...} or VS Code {\"servers\": ...} "
                             "(repeatable). Replaces the bundled servers.")


# -- exits ----------------------------------------------------------------------------

def exit_with(code: int) -> NoReturn:
    """Leave with one of the documented codes (exitcodes); anything else counts as failed."""
    sys.exit(code if code in DOCUMENTED_EXIT_CODES else exitcodes.FAILED)


def setup_error(message: str) -> NoReturn:
    """A usage or set-up problem found by the script itself: say why, exit 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(exitcodes.USAGE)
