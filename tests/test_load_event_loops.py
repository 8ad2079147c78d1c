"""codeperf.load.event_loops: the generator's loop is chosen, checked and reported by name."""

from __future__ import annotations

import asyncio

import pytest

from _availability import unavailable
from codeperf.harness.stoppable import run_stoppable
from codeperf.load import event_loops


@pytest.fixture(autouse=True)
def _uvloop():
    # Pinned in requirements.txt: missing, it skips locally and fails under CI=true
    # (a broken optional import must not turn CI green by skipping these tests).
    try:
        import uvloop  # noqa: F401
    except ImportError as exc:
        unavailable(f"uvloop not importable ({exc})")


@pytest.mark.parametrize("name", event_loops.NAMES)
def test_each_loop_runs_and_reports_its_name(name):
    with asyncio.Runner(loop_factory=event_loops.factory(name)) as runner:
        assert runner.run(_name()) == name


@pytest.mark.parametrize("name", event_loops.NAMES)
def test_run_stoppable_runs_on_the_chosen_loop(name):
    assert run_stoppable(_name(), loop_factory=event_loops.factory(name)) == name


def test_run_stoppable_keeps_asyncio_loop_by_default():
    assert run_stoppable(_name()) == event_loops.ASYNCIO


def test_ray_workers_are_told_which_loop_to_run():
    assert event_loops.ray_env_vars("uvloop") == {"RAY_USE_UVLOOP": "1"}
    assert event_loops.ray_env_vars("asyncio") == {"RAY_USE_UVLOOP": "0"}


def test_unknown_or_missing_loops_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="unknown event loop"):
        event_loops.check("trio")
    assert event_loops.default_name() == event_loops.UVLOOP
    monkeypatch.setattr(event_loops, "uvloop_installed", lambda: False)
    assert event_loops.default_name() == event_loops.ASYNCIO
    with pytest.raises(ValueError, match="uvloop is not installed"):
        event_loops.check("uvloop")


async def _name() -> str:
    return event_loops.running_loop_name()
