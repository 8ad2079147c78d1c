"""Shared fixtures. Every behavioural engine test runs on both backends: a missing
Rust build is a failure here (make test builds it), never a skip.

`@pytest.mark.needs_rust` marks a test that needs the built extension beyond the
engine fixtures (e.g. a whole bench run): it is skipped without one, except
under CI=true, where it fails (tests/_availability.py)."""

from __future__ import annotations

import pytest

from _availability import unavailable
from codeperf.engine import BACKENDS, backend as get_backend, backends


def pytest_runtest_setup(item):
    if item.get_closest_marker("needs_rust") is not None:
        status = backends.rust_status()
        if not status.usable:
            unavailable(f"the Rust extension is not usable ({status.reason}); run make build")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return get_backend(request.param)


@pytest.fixture
def python_backend():
    return get_backend("python")


@pytest.fixture
def rust_backend():
    return get_backend("rust")
