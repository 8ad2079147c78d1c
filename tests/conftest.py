"""Shared fixtures. Every behavioural engine test runs on both backends: a missing
Rust build is a failure here (make test builds it), never a skip."""

from __future__ import annotations

import pytest

from codeperf.engine import BACKENDS, backend as get_backend


@pytest.fixture(params=BACKENDS)
def backend(request):
    return get_backend(request.param)


@pytest.fixture
def python_backend():
    return get_backend("python")


@pytest.fixture
def rust_backend():
    return get_backend("rust")
