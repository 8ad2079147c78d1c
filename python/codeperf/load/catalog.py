"""Every load scenario module, imported by name so its @scenario decorators run.

The order here is the default run order of the scenarios (registration order
within a module). Each import is its own function so that one module that
fails to import (a broken optional dependency, e.g. the `mcp` SDK) is reported
by the driver while the other modules' scenarios still run.
"""

from __future__ import annotations

from typing import Callable


def _experts() -> None:
    from codeperf.load import expert_scenarios  # noqa: F401 - calibration, single-query ... sustained


def _sweep() -> None:
    from codeperf.load import sweep_scenario  # noqa: F401 - sweep


def _mcp() -> None:
    from codeperf.load import mcp_scenarios  # noqa: F401 - mcp-calls, mixed


SCENARIO_MODULES: tuple[tuple[str, Callable[[], None]], ...] = (
    ("codeperf.load.expert_scenarios", _experts),
    ("codeperf.load.sweep_scenario", _sweep),
    ("codeperf.load.mcp_scenarios", _mcp),
)


def import_scenarios() -> list[str]:
    """Import every scenario module; one line per module that failed to import."""
    problems = []
    for name, importer in SCENARIO_MODULES:
        try:
            importer()
        except Exception as exc:  # a broken plug-in must not hide the other scenarios
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return problems
