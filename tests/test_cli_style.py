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
