"""The result envelope: schema, atomic writes, partial results on interruption; targets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from codeperf.harness import envelope, targets
from codeperf.harness.envelope import EnvelopeError, Recorder, Target


def test_committed_schema_matches_the_model():
    assert json.loads(envelope.SCHEMA_PATH.read_text()) == envelope.json_schema()


def test_recorder_writes_a_valid_complete_envelope(tmp_path):
    with Recorder("load", tmp_path, config={"quick": True}, environment={"cpu_model": "x"}) as rec:
        rec.add_result({"id": "a/b/c", "kind": "scenario", "summary": {"p50_ms": 1.0}})
        rec.add_target(Target("t", "m", "<", 1.0, "ms", 0.5, True))
        rec.add_validity("gate", True)
        rec.mark_complete()
    data = envelope.load(tmp_path / "load.json")
    assert data["complete"] is True and data["finished_at"] and data["results"][0]["id"] == "a/b/c"
    assert not list(tmp_path.glob(".*.tmp"))


def test_exception_keeps_partial_results(tmp_path):
    with pytest.raises(RuntimeError):
        with Recorder("memory", tmp_path, config={}, environment={}) as rec:
            rec.add_result({"id": "x", "kind": "k", "summary": {}})
            raise RuntimeError("boom")
    data = envelope.load(tmp_path / "memory.json")
    assert data["complete"] is False and data["results"] == [{"id": "x", "kind": "k", "summary": {}}]
    assert data["errors"][0]["kind"] == "crash" and "boom" in data["errors"][0]["message"]


def test_not_marked_complete_is_incomplete(tmp_path):
    with Recorder("mcp", tmp_path, config={}, environment={}):
        pass
    assert envelope.load(tmp_path / "mcp.json")["complete"] is False


def test_sigterm_writes_partial_results(tmp_path):
    script = textwrap.dedent(f"""
        import time
        from codeperf.harness.envelope import Recorder
        with Recorder("bench_rust", {str(tmp_path)!r}, config={{}}, environment={{}}) as rec:
            rec.add_result({{"id": "first", "kind": "k", "summary": {{}}}})
            rec.save()
            print("ready", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    data = envelope.load(tmp_path / "bench_rust.json")
    assert data["complete"] is False and data["errors"][0]["kind"] == "interrupted"
    assert data["results"][0]["id"] == "first"


@pytest.mark.parametrize("content, message", [
    ("{", "not valid JSON"),
    ("[]", "not a JSON object"),
    ('{"schema_version": 99}', "schema_version 99 is not known"),
    ('{"schema_version": 1, "suite": "load"}', "invalid envelope"),
])
def test_bad_files_are_named(tmp_path, content, message):
    path = tmp_path / "load.json"
    path.write_text(content)
    with pytest.raises(EnvelopeError) as info:
        envelope.load(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_unknown_suite_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown suite"):
        Recorder("speed", tmp_path, config={}, environment={})


def test_nan_is_never_written(tmp_path):
    with pytest.raises(ValueError):
        envelope.write_json_atomic(tmp_path / "x.json", {"v": float("nan")})
    assert not (tmp_path / "x.json").exists()


def test_run_id_is_shared_through_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEPERF_RUN_ID", "run-42")
    with Recorder("load", tmp_path, config={}, environment={}) as rec:
        rec.mark_complete()
    assert envelope.load(tmp_path / "load.json")["run_id"] == "run-42"


def test_environment_names_the_backend_and_build():
    from codeperf.harness.environment import capture
    env = capture()
    from codeperf import engine

    assert env["backend"] == engine.active_backend()  # the one that runs, not either
    assert env["rust_extension"]["available"] is True and env["build_profile"] == "release"
    assert env["cpu_cores_logical"] >= 1 and env["python"].startswith("3.")


class TestTargets:
    def write(self, tmp_path, body):
        path = tmp_path / "targets.toml"
        path.write_text(body)
        return path

    def test_every_target_of_a_suite_is_evaluated(self, tmp_path):
        path = self.write(tmp_path, """
            [[target]]
            suite = "load"
            name = "p95"
            metric = "sustained.p95_ms"
            op = "<"
            threshold = 2000
            unit = "ms"
            [[target]]
            suite = "load"
            name = "rps"
            metric = "sustained.rps"
            op = ">="
            threshold = 50
            unit = "1/s"
            [[target]]
            suite = "mcp"
            name = "other"
            metric = "x"
            op = "<"
            threshold = 1
            unit = "ms"
        """)
        got = targets.evaluate("load", {"sustained.p95_ms": 2500.0}, path)
        assert [(t.name, t.measured, t.passed) for t in got] == [("p95", 2500.0, False), ("rps", None, False)]
        assert got[1].note == "not measured in this run"
        assert targets.evaluate("load", {"sustained.p95_ms": 10, "sustained.rps": 50}, path)[1].passed

    @pytest.mark.parametrize("body, message", [
        ('[[target]]\nsuite = "load"', "missing"),
        ('[[target]]\nsuite="x"\nname="n"\nmetric="m"\nop="<"\nthreshold=1\nunit="u"', "suite 'x'"),
        ('[[target]]\nsuite="load"\nname="n"\nmetric="m"\nop="!="\nthreshold=1\nunit="u"', "op '!='"),
        ("[[target", "not valid TOML"),
    ])
    def test_bad_targets_file(self, tmp_path, body, message):
        with pytest.raises(ValueError, match=message):
            targets.load_specs(self.write(tmp_path, body))

    def test_repository_targets_file_is_valid_and_covers_the_seed(self):
        specs = targets.load_specs()
        assert {s.suite for s in specs} == set(envelope.SUITES)
        assert all(s.seed or s.goal for s in specs)  # each says where it comes from
