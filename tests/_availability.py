"""Skip or fail: what a test does when a part it needs (Rust build, optional import) is missing.

Locally a missing part skips the test with the reason. With CI=true (set by
GitHub Actions and most CI systems) it fails the test instead: a broken build
or import must not turn CI green by skipping the tests that would catch it.
"""

from __future__ import annotations

import os

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> None:
    """Skip the running test, or fail it under CI=true."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing part fails the test instead of skipping it)",
                    pytrace=False)
    pytest.skip(reason)
