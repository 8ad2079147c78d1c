"""Build the combined report of one run: report.md, report.html, summary.json, charts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from codeperf.harness.envelope import write_json_atomic
from codeperf.report import render_html, render_markdown
from codeperf.report.charts import CHART_DIR, Chart, render_charts
from codeperf.report.compare import DEFAULT_NOISE_PCT, Comparison, check_baseline, compare_runs
from codeperf.report.loading import Run, SuiteData, load_run
from codeperf.report.noise import NoiseFloors
from codeperf.report.systems import systems_under_test
from codeperf.report.verdict import TargetRow, Verdict, target_rows, verdict

SUMMARY_VERSION = 1


@dataclass
class Report:
    run: Run
    rows: list[TargetRow]
    verdict: Verdict
    comparison: Comparison | None
    charts: dict[str, list[Chart]]
    chart_errors: list[str]
    markdown_path: Path
    html_path: Path
    summary_path: Path

    @property
    def problems(self) -> list[str]:
        """Files that could not be read, for the command line to repeat on stderr."""
        problems = [d.load_error for d in self.run.suites.values() if d.load_error]
        return problems + ([self.run.record_error] if self.run.record_error else [])


def _suite_summary(run: Run) -> dict[str, Any]:
    out = {}
    for suite, data in run.suites.items():
        env = data.envelope or {}
        out[suite] = {
            "state": data.state,
            "file": data.file,
            "load_error": data.load_error,
            "process": asdict(data.process) if data.process else None,
            "run_id": env.get("run_id"),
            "complete": env.get("complete"),
            "started_at": env.get("started_at"),
            "finished_at": env.get("finished_at"),
            "environment": env.get("environment"),
            "config": env.get("config"),
            # Raw samples and histograms stay in the suite files; this is the table data.
            "results": [{k: r.get(k) for k in ("id", "kind", "backend", "summary") if k in r}
                        for r in data.results],
            "targets": env.get("targets"),
            "validity": env.get("validity"),
            "errors": env.get("errors"),
            "outcome": env.get("outcome"),
        }
    return out


def _compose(run: Run, baseline: Run | None, out_dir: Path, noise_pct: float, charts: bool,
             floors: NoiseFloors | None = None) -> tuple[list[TargetRow], Verdict, Comparison | None, dict[str, list[Chart]],
                        list[str], str]:
    rows = target_rows(run, baseline)
    result = verdict(run, rows)
    comparison = compare_runs(run, baseline, noise_pct, floors) if baseline is not None else None
    for stale in (out_dir / CHART_DIR).glob("*.png"):
        stale.unlink()  # a re-aggregated run must not show charts of data that is gone
    drawn, chart_errors = render_charts(run, out_dir) if charts else ({}, [])
    text = render_markdown.render(run, rows, result, drawn, chart_errors, comparison)
    # The summary is built here too, so a value it cannot hold fails before any file is written.
    json.dumps(_suite_summary(run), allow_nan=False, default=str)
    return rows, result, comparison, drawn, chart_errors, text


def _without(run: Run, suite: str, exc: Exception) -> Run:
    data = run.suites[suite]
    shown = SuiteData(suite=suite, file=data.file, process=data.process,
                      load_error=f"{data.file or suite}: the report cannot show it "
                                 f"({type(exc).__name__}: {exc})")
    return replace(run, suites={**run.suites, suite: shown})


def _compose_guarded(run: Run, baseline: Run | None, out_dir: Path, noise_pct: float,
                     charts: bool, floors: NoiseFloors | None = None) -> tuple[Run, Run | None, tuple[Any, ...]]:
    """_compose, and if a suite file passed the schema but still breaks the report (a
    `summary` that is not an object, ...), the report without that suite, which is
    named as unreadable: load_run's promise that one bad file never stops the rest."""
    try:
        return run, baseline, _compose(run, baseline, out_dir, noise_pct, charts, floors)
    except Exception as exc:  # noqa: BLE001 - narrowed down below, re-raised if no file explains it
        error = exc
    while True:
        candidates = [("run", s) for s, d in run.suites.items() if d.envelope is not None]
        if baseline is not None:
            candidates += [("baseline", s) for s, d in baseline.suites.items() if d.envelope is not None]
        if not candidates:
            raise error
        trials = []
        for which, suite in candidates:
            trial = ((_without(run, suite, error), baseline) if which == "run"
                     else (run, _without(baseline, suite, error)))  # type: ignore[arg-type]
            trials.append(trial)
            try:
                _compose(*trial, out_dir, noise_pct, False, floors)
            except Exception:  # noqa: BLE001 - not this one alone
                continue
            return trial[0], trial[1], _compose(*trial, out_dir, noise_pct, charts, floors)
        run, baseline = trials[0]  # no single file explains it: set the first aside, go on


def build_report(run_dir: Path, baseline_dir: Path | None = None, out_dir: Path | None = None,
                 noise_pct: float = DEFAULT_NOISE_PCT, charts: bool = True,
                 targets_path: Path | None = None, aa_noise_path: Path | None = None) -> Report:
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    run = load_run(run_dir, targets_path)
    baseline = load_run(Path(baseline_dir), targets_path) if baseline_dir is not None else None
    if baseline is not None:
        check_baseline(baseline)  # BaselineUnusable: the caller decides (exit 2 when gating)
    floors = NoiseFloors.load(aa_noise_path)
    run, baseline, parts = _compose_guarded(run, baseline, out_dir, noise_pct, charts, floors)
    rows, result, comparison, drawn, chart_errors, text = parts

    markdown_path = out_dir / "report.md"
    html_path = out_dir / "report.html"
    summary_path = out_dir / "summary.json"
    _write_text(markdown_path, text)
    _write_text(html_path, render_html.render(text, out_dir))
    write_json_atomic(summary_path, {
        "summary_version": SUMMARY_VERSION,
        "run_ids": run.run_ids,
        "systems_under_test": [asdict(system) for system in systems_under_test(run)],
        "verdict": {"status": result.status, "reasons": result.reasons},
        "targets": [r.to_dict() for r in rows],
        "suites": _suite_summary(run),
        "charts": [asdict(c) for cs in drawn.values() for c in cs],
        "chart_errors": chart_errors,
        "comparison": comparison.to_dict() if comparison else None,
    })
    return Report(run, rows, result, comparison, drawn, chart_errors, markdown_path, html_path,
                  summary_path)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
