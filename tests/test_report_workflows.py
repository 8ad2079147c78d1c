"""The GitHub workflows validate against GitHub's schema and keep their safety rules."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def check_jsonschema() -> str:
    beside = Path(sys.executable).parent / "check-jsonschema"
    found = str(beside) if beside.exists() else shutil.which("check-jsonschema")
    assert found, "check-jsonschema is in requirements.txt"
    return found


def validate(*paths: Path) -> subprocess.CompletedProcess:
    # The schema ships inside check-jsonschema: no network needed.
    return subprocess.run([check_jsonschema(), "--builtin-schema", "vendor.github-workflows",
                           *map(str, paths)], capture_output=True, text=True, timeout=120)


def test_workflows_match_the_github_schema():
    result = validate(WORKFLOWS / "ci.yml", WORKFLOWS / "perf.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text((WORKFLOWS / "perf.yml").read_text().replace("runs-on:", "runs_on:"))
    assert validate(broken).returncode != 0


@pytest.mark.parametrize("name", ["ci.yml", "perf.yml"])
def test_workflow_hygiene(name):
    text = (WORKFLOWS / name).read_text()
    assert re.search(r"^permissions: \{\}$", text, re.M), "no default permissions"
    assert "timeout-minutes:" in text
    assert "persist-credentials: false" in text
    uses = re.findall(r"uses: (\S+)", text)
    assert uses
    for action in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"{action} is not pinned"
    assert 'python-version: "3.11"' in text
    assert "Swatinem/rust-cache@" in text


def test_perf_workflow_runs_the_right_target_and_publishes_the_report():
    text = (WORKFLOWS / "perf.yml").read_text()
    assert "'perf-quick' || 'perf'" in text
    assert "actions/upload-artifact@" in text and "# v4." in text
    assert '"$RUN_DIR/report.md" >> "$GITHUB_STEP_SUMMARY"' in text
    assert "gh run download" in text and "BASELINE:" in text
    assert "actions: read" in text


def test_pull_requests_compare_with_a_quick_run_of_main():
    """Like with like: PRs run quick, so their baseline is main's quick run, and the gate is on."""
    text = (WORKFLOWS / "perf.yml").read_text()
    assert "BASELINE_ARTIFACT: perf-report-quick" in text
    assert '--name "$BASELINE_ARTIFACT"' in text
    assert "make perf-quick PERF_ARGS=\"--out reports-quick/latest\"" in text
    assert "name: ${{ env.BASELINE_ARTIFACT }}" in text
    assert "'--fail-on-regression'" in text


def step_run(workflow: Path, name: str) -> str:
    from ruamel.yaml import YAML  # check-jsonschema's YAML reader

    data = YAML(typ="safe").load(workflow.read_text())
    for job in data["jobs"].values():
        for step in job["steps"]:
            if step.get("name") == name:
                return step["run"]
    raise AssertionError(f"no step {name!r} in {workflow}")


SUMMARY_LIMIT = 1_000_000  # bytes, as in perf.yml (GitHub takes at most 1 MiB)
TRUNCATED = "\n\n_(truncated: the full report is in the artifact)_\n"


# "é" is two UTF-8 bytes; `head -c` would cut the last case inside one.
@pytest.mark.parametrize("report, expected", [
    ("é" * 5, "é" * 5),
    ("x" * (SUMMARY_LIMIT - 2) + "é", "x" * (SUMMARY_LIMIT - 2) + "é"),  # exactly the limit
    ("x" * (SUMMARY_LIMIT - 1) + "éé", "x" * (SUMMARY_LIMIT - 1) + TRUNCATED),
], ids=["short", "at-limit", "split-character"])
def test_job_summary_is_cut_at_a_character_boundary(tmp_path, report, expected):
    (tmp_path / "report.md").write_text(report, encoding="utf-8")
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    env = {"RUN_DIR": str(tmp_path), "GITHUB_STEP_SUMMARY": str(summary),
           "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
    script = step_run(WORKFLOWS / "perf.yml", "Report to the job summary")
    result = subprocess.run(["bash", "-e", "-c", script], env=env, capture_output=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    written = summary.read_bytes()
    assert written.decode("utf-8") == "earlier step\n" + expected  # strict: no split character
    assert len(written) < 1024 * 1024


def test_ci_workflow_runs_make_test():
    assert "run: make test" in (WORKFLOWS / "ci.yml").read_text()
