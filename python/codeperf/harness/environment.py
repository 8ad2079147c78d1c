"""What machine and build produced a result: captured once per suite run.

Every field is read from the machine or the build at run time; a value that
cannot be found is None, never a guess.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

REPO_ROOT = Path(__file__).resolve().parents[3]


def _run(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> dict[str, Any]:
    commit = _run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT)
    status = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT)
    return {"commit": commit, "dirty": bool(status) if commit else None}


def rust_build() -> dict[str, Any]:
    """The compiled extension's own report of itself, or why it is unavailable."""
    try:
        from codeperf import _rust  # noqa: PLC0415
    except ImportError as exc:
        return {"available": False, "reason": str(exc)}
    return {"available": True, "version": getattr(_rust, "__version__", None),
            "build_profile": getattr(_rust, "BUILD_PROFILE", None),
            "rayon_threads": getattr(_rust, "rayon_threads", lambda: None)()}


@lru_cache(maxsize=1)
def _static() -> dict[str, Any]:
    mem = psutil.virtual_memory()
    return {
        "cpu_model": cpu_model(),
        "cpu_cores_logical": psutil.cpu_count(logical=True),
        "cpu_cores_physical": psutil.cpu_count(logical=False),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_total_bytes": mem.total,
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "rustc": _run(["rustc", "--version"]),
        "maturin": _package_version("maturin"),
        "codeperf": _package_version("codeperf"),
        "git": git_commit(),
    }


def capture() -> dict[str, Any]:
    """The environment of this run, including the engine backend that is active now."""
    from codeperf import engine  # noqa: PLC0415

    env = dict(_static())
    env["rust_extension"] = rust_build()
    env["build_profile"] = env["rust_extension"].get("build_profile")
    try:
        env["backend"] = engine.active_backend()
    except Exception as exc:  # a broken build is reported, not hidden
        env["backend"] = None
        env["backend_error"] = str(exc)
    env["load_average"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return env
