"""A missing part skips a test locally and fails it under CI=true."""

from __future__ import annotations

from pathlib import Path

import pytest

import _availability
from codeperf.engine import backends

pytest_plugins = ["pytester"]


def test_unavailable_skips_locally_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(_availability, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match="no build"):
        _availability.unavailable("no build")
    monkeypatch.setattr(_availability, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="no build.*CI=true"):
        _availability.unavailable("no build")


@pytest.mark.parametrize("ci, outcome", [("", "skipped"), ("true", "errors")])
def test_needs_rust_without_a_build(pytester, monkeypatch, ci, outcome):
    # The real conftest, in a pytest run whose Rust extension reports itself unusable.
    monkeypatch.setenv("CI", ci)
    here = Path(__file__).parent
    monkeypatch.setenv("PYTHONPATH", str(here))  # the subprocess imports _availability
    pytester.makeconftest(
        "import importlib.util\n"
        "from codeperf.engine import backends\n"
        f"spec = importlib.util.spec_from_file_location('real_conftest', {str(here / 'conftest.py')!r})\n"
        "real = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(real)\n"
        "pytest_runtest_setup = real.pytest_runtest_setup\n"
        "backends.rust_status = lambda: backends.RustStatus(False, 'not built (test)')\n")
    pytester.makepyfile(test_x="import pytest\n\n@pytest.mark.needs_rust\ndef test_x():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-o",
                                           "markers=needs_rust: x")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "errors":  # failed in set-up: reported as an error, never a pass or skip
        result.stdout.fnmatch_lines(["*not built (test)*CI=true*"])


def test_rust_status_is_usable_here():
    # make test builds the extension: the skips above must not be what happens here.
    assert backends.rust_status().usable, backends.rust_status().reason
