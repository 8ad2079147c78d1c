"""report.md: the executive summary, environment, one section per suite, the
baseline comparison and how to reproduce. GitHub-flavoured Markdown; the HTML
report is rendered from this same text.

The output depends only on the run's files (no clock, no absolute paths), so the
golden tests can compare it byte for byte.
"""

from __future__ import annotations

import json
from statistics import stdev
from typing import Any

from codeperf.harness.contract import target_state
from codeperf.report import column_groups, fields
from codeperf.report import fmt
from codeperf.report.charts import Chart
from codeperf.report.compare import IMPROVED, NOT_COMPARABLE, REGRESSED, UNCHANGED, Comparison
from codeperf.report.instructions import THRESHOLD_PCT as INSTRUCTION_GATE_PCT
from codeperf.report.noise import MIN_RUNS_TO_GATE
from codeperf.report.systems import systems_under_test
from codeperf.report.loading import SUITE_SCRIPTS, SUITE_TITLES, Run, SuiteData
from codeperf.report.verdict import FAIL, PASS, TargetRow, Verdict

# Every symbol carries its word: without an emoji font (headless browsers, some terminals)
# the symbol renders as an empty box, and the word must still say the result.
VERDICT_BADGE = {"pass": "✅ PASS", "fail": "❌ FAIL", "incomplete": "⚠️ INCOMPLETE"}
TARGET_ICON = {PASS: "✅ PASS", FAIL: "❌ FAIL", "not run": "⏭️ not run"}
CHECK_ICON = {True: "✅ PASS", False: "❌ FAIL"}
STATUS_ICON = {REGRESSED: "🔴 regressed", IMPROVED: "🟢 improved", UNCHANGED: "⚪ unchanged",
               NOT_COMPARABLE: "❔ not comparable"}
# Informational metrics (bench_rust's absolute times) say which way they moved, not a verdict.
INFO_STATUS = {REGRESSED: "ℹ️ slower", IMPROVED: "ℹ️ faster", UNCHANGED: "ℹ️ same",
               NOT_COMPARABLE: "❔ not comparable"}
# Wider kind tables are transposed (metrics as rows) when they have few entries.
MAX_COLUMNS = 10
MAX_TRANSPOSED_ENTRIES = 8
TOP_GROWTH_ROWS = 10
# Keeps report.md well under GitHub's 1 MiB job-summary limit on large runs.
MAX_UNCHANGED_ROWS = 300


def _threshold(row: TargetRow) -> str:
    return f"{row.op} {fmt.number(row.threshold)} {row.unit}"


def _measured(value: float | None, unit: str) -> str:
    return fmt.MISSING if value is None else f"{fmt.number(value)} {unit}"


def _header(run: Run, verdict: Verdict, rows: list[TargetRow]) -> list[str]:
    ids = run.run_ids
    lines = ["# codeperf performance report", ""]
    started = sorted(d.envelope["started_at"] for d in run.present if d.envelope.get("started_at"))
    finished = sorted(d.envelope["finished_at"] for d in run.present if d.envelope.get("finished_at"))
    facts = [f"Run `{ids[0]}`" if len(ids) == 1 else
             ("Runs " + ", ".join(f"`{i}`" for i in ids) + " (suites from different runs)" if ids
              else "No suite results")]
    if started:
        facts.append(f"{started[0]} → {finished[-1] if finished else '(unfinished)'}")
    quick = _quick(run)
    if quick is not None:
        facts.append("quick mode (`--quick`)" if quick else "full mode")
    lines += [" · ".join(facts), ""]
    lines += _systems(run)
    lines += [f"## Verdict: {VERDICT_BADGE[verdict.status]}", ""]
    counts = {state: sum(1 for r in rows if r.state == state) for state in (PASS, FAIL, "not run")}
    lines.append(f"**Targets: {counts[PASS]} passed, {counts[FAIL]} failed, "
                 f"{counts['not run']} not run (of {len(rows)}).**")
    lines.append("")
    for reason in verdict.reasons:
        lines.append(f"- {fmt.cell(reason, limit=400)}")
    if verdict.reasons:
        lines.append("")
    return lines


def _systems(run: Run) -> list[str]:
    found = systems_under_test(run)
    if not found:
        return []
    rows = [[fmt.cell(s.kind), fmt.cell(s.name), fmt.cell(s.detail), fmt.cell(", ".join(s.suites))]
            for s in found]
    return ["**Systems under test** (names and endpoints as the suites recorded them; never keys):",
            "", fmt.table(["System", "Name", "Model / transport and endpoint", "Suites"], rows), ""]


def _quick(run: Run) -> bool | None:
    if run.record and isinstance(run.record.get("quick"), bool):
        return run.record["quick"]
    flags = {d.envelope.get("config", {}).get("quick") for d in run.present
             if isinstance(d.envelope.get("config", {}).get("quick"), bool)}
    return flags.pop() if len(flags) == 1 else None


def _targets(rows: list[TargetRow], with_baseline: bool) -> list[str]:
    headers = ["Result", "Target", "Suite", "Measured", "Threshold"]
    align = ["l", "l", "l", "r", "l"]
    if with_baseline:
        headers.append("Baseline")
        align.append("r")
    headers += ["Seed target", "Note"]
    align += ["l", "l"]
    body = []
    for row in rows:
        cells = [TARGET_ICON[row.state], fmt.cell(row.name), row.suite,
                 _measured(row.measured, row.unit) + _statistic(row), _threshold(row)]
        if with_baseline:
            cells.append(_measured(row.baseline, row.unit))
        cells += [fmt.cell(row.seed), fmt.cell("; ".join(_row_notes(row)))]
        body.append(cells)
    return ["## Targets", "", "Each target as the suite judged it in this run (its op, "
            "threshold and the statistic it compared).", "",
            fmt.table(headers, body, align), ""]


def _statistic(row: TargetRow) -> str:
    return "" if row.statistic == "value" or row.measured is None else f" ({row.statistic})"


def _row_notes(row: TargetRow) -> list[str]:
    notes = []
    rate = row.error_rate
    if rate:  # a latency target is judged with its scenario's error rate: show both
        value = rate.get("measured")
        notes.append(f"error rate {fmt.MISSING if value is None else fmt.number(value)} % "
                     f"({rate.get('op')} {fmt.number(rate.get('threshold'))} % "
                     f"{'met' if rate.get('passed') else 'NOT met'})")
    if row.changed_since:
        notes.append(f"⚠️ {row.changed_since} (changed since the run)")
    if row.note and not (rate and row.note.startswith("error rate")):
        notes.append(row.note)
    elif row.note:
        notes.append(row.note.split("; ", 1)[1] if "; " in row.note else "")
    return [n for n in notes if n]


def _suites(run: Run) -> list[str]:
    body = []
    for data in run.suites.values():
        env = data.envelope or {}
        targets = env.get("targets", [])
        validity = env.get("validity", [])
        duration = data.process.duration_s if data.process else None
        body.append([
            f"[{data.suite}](#{_anchor(data)})" if data.envelope else data.suite,
            f"**{data.state}**" if data.state != "ok" else "ok",
            fmt.number(len(data.results)) if data.envelope else fmt.MISSING,
            _targets_passed(targets) if data.envelope else fmt.MISSING,
            _ratio_of(validity, "ok") if data.envelope else fmt.MISSING,
            fmt.duration_s(duration) if duration else fmt.MISSING,
            fmt.cell(data.load_error) if data.load_error else (data.file or fmt.MISSING),
        ])
    return ["## Suites", "",
            fmt.table(["Suite", "State", "Results", "Targets passed", "Validity checks",
                       "Duration", "File"], body, ["l", "l", "r", "r", "r", "r", "l"]), ""]


def _targets_passed(targets: list[dict[str, Any]]) -> str:
    """passed / judged, and how many were not run (neither passed nor failed)."""
    states = [target_state(t) for t in targets]
    not_run = states.count("not run")
    text = f"{states.count(PASS)}/{len(states) - not_run}"
    return text + (f" ({not_run} not run)" if not_run else "")


def _ratio_of(items: list[dict[str, Any]], flag: str) -> str:
    return f"{sum(1 for i in items if i.get(flag))}/{len(items)}"


def _anchor(data: SuiteData) -> str:
    # GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped.
    title = f"{SUITE_TITLES[data.suite]} ({data.suite})".lower()
    return "".join(c for c in title.replace(" ", "-") if c.isalnum() or c in "-_")


def _env_values(run: Run, read) -> str:
    values: dict[str, list[str]] = {}
    for data in run.present:
        value = read(data.environment)
        values.setdefault(fmt.MISSING if value in (None, "") else str(value), []).append(data.suite)
    if not values:
        return fmt.MISSING
    if len(values) == 1:
        return fmt.cell(next(iter(values)))
    return "; ".join(f"{', '.join(s)}: {fmt.cell(v)}" for v, s in values.items())


def _git(env: dict[str, Any]) -> str | None:
    git = env.get("git") or {}
    if not git.get("commit"):
        return None
    return git["commit"][:12] + (" (uncommitted changes)" if git.get("dirty") else "")


def _cores(env: dict[str, Any]) -> str | None:
    if env.get("cpu_cores_logical") is None:
        return None
    text = f"{env['cpu_cores_logical']} logical, {env.get('cpu_cores_physical')} physical"
    if env.get("cpu_affinity") is not None:
        text += f", {env['cpu_affinity']} usable"
    return text


def _load_average(env: dict[str, Any]) -> str | None:
    values = env.get("load_average")
    return " ".join(f"{v:.2f}" for v in values) if isinstance(values, list) and values else None


def _environment(run: Run) -> list[str]:
    rows = [
        ("CPU", lambda e: e.get("cpu_model")),
        ("Cores", _cores),
        ("Memory", lambda e: fmt.byte_size(e["memory_total_bytes"])
         if e.get("memory_total_bytes") else None),
        ("OS", lambda e: e.get("os")),
        ("Python", lambda e: " ".join(x for x in (e.get("python_implementation"), e.get("python"))
                                      if x) or None),
        ("rustc", lambda e: e.get("rustc")),
        ("maturin", lambda e: e.get("maturin")),
        ("Build profile", lambda e: e.get("build_profile")),
        ("Git commit", _git),
        ("Engine backend", lambda e: e.get("backend") or e.get("backend_error")),
        ("Load average at start", _load_average),
    ]
    body = [[label, _env_values(run, read)] for label, read in rows]
    invalid = [f"{d.suite}: {v.get('check')}" for d in run.present for v in d.failed_validity]
    incomplete = [d.suite for d in run.present if not d.envelope.get("complete")]
    if not run.present:
        valid = fmt.MISSING
    elif invalid or incomplete:
        problems = [f"failed checks: {', '.join(invalid)}"] if invalid else []
        problems += [f"incomplete: {', '.join(incomplete)}"] if incomplete else []
        valid = "**no** — " + fmt.cell("; ".join(problems), limit=300)
    else:
        checks = sum(len(d.envelope.get("validity", [])) for d in run.present)
        valid = f"yes ({checks} self-checks passed)"
    body.append(["Run valid", valid])
    return ["## Environment", "", fmt.table(["Field", "Value"], body), ""]


def _speedups(data: SuiteData) -> list[str]:
    entries = [e for e in data.results
               if fields.speedup(e) is not None or fields.memory_reduction(e) is not None]
    if not entries:
        return []
    body = []
    for entry in entries:
        s = fields.speedup(entry)
        if s is None:
            value, ci, significant = fmt.MISSING, fmt.MISSING, fmt.MISSING
        else:
            value = f"{fmt.number(s[0])}×"
            if s[1] is not None and s[2] is not None:
                ci = f"{fmt.number(s[1])}–{fmt.number(s[2])}×"
                significant = "yes" if s[1] > 1 or s[2] < 1 else "not significant"
            else:
                ci, significant = fmt.MISSING, fmt.MISSING
        reduction = fields.memory_reduction(entry)
        body.append([fmt.cell(entry.get("id")), value, ci, significant,
                     fmt.MISSING if reduction is None else f"{fmt.number(reduction)} %",
                     fmt.number(fields.correct(entry))])
    return ["### Speedups and memory reduction", "",
            fmt.table(["Operation", "Speedup", "Confidence interval", "Significant",
                       "Memory reduction", "Correct"], body, ["l", "r", "r", "l", "r", "l"]), ""]


def _kind_table(kind: str, entries: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    extra: list[str] = []
    if any(e.get("backend") for e in entries):
        extra.append("backend")
    if any(fields.correct(e) is not None for e in entries):
        extra.append("correct")
    sampled = [e for e in entries if fields.samples(e)]
    if sampled:
        # Derived from the samples only where the suite's summary does not say it already.
        extra.append("samples")
        if any(not {"median_s", "median_ms"} & set(fields.summary(e)) for e in sampled):
            extra.append("median")
        if any(not {"stdev_s", "stdev_ms"} & set(fields.summary(e)) for e in sampled):
            extra.append("± stdev")
    for entry in entries:
        for key in fields.summary(entry):
            if key not in columns:
                columns.append(key)

    def value(entry: dict[str, Any], column: str) -> str:
        values = fields.samples(entry)
        if column == "backend":
            return fmt.cell(entry.get("backend"))
        if column == "correct":
            return fmt.number(fields.correct(entry))
        if column == "samples":
            return fmt.number(len(values)) if values else fmt.MISSING
        if column == "median":
            return fmt.duration_s(fields.median_ms(entry) / 1000) if values else fmt.MISSING
        if column == "± stdev":
            return fmt.duration_s(stdev(values)) if values and len(values) > 1 else fmt.MISSING
        return fmt.metric(column, fields.summary(entry).get(column))

    all_columns = extra + columns
    lines = [f"### Results: {fmt.cell(kind)} ({len(entries)})", ""]
    if len(all_columns) + 1 > MAX_COLUMNS and len(entries) <= MAX_TRANSPOSED_ENTRIES:
        headers = ["metric"] + [fmt.cell(e.get("id")) for e in entries]
        body = [[fmt.cell(column)] + [value(e, column) for e in entries] for column in all_columns]
        lines.append(fmt.table(headers, body, ["l"] + ["r"] * len(entries)))
        return lines + [""]
    if len(all_columns) + 1 <= MAX_COLUMNS:
        headers = ["id"] + [fmt.cell(c) for c in all_columns]
        body = [[fmt.cell(e.get("id"))] + [value(e, c) for c in all_columns] for e in entries]
        lines.append(fmt.table(headers, body, ["l"] + ["l"] * len(extra) + ["r"] * len(columns)))
        return lines + [""]
    return lines + _split_kind_table(entries, extra, columns, value)


def _split_kind_table(entries: list[dict[str, Any]], extra: list[str], columns: list[str],
                      value) -> list[str]:
    """Too wide and too many entries to transpose: narrow tables (report/column_groups.py)."""
    def filled(entry: dict[str, Any], column: str) -> bool:
        return fields.summary(entry).get(column) is not None

    groups, own = column_groups.split(
        columns, lambda c: sum(1 for e in entries if filled(e, c)), MAX_COLUMNS - 1 - len(extra))
    lines: list[str] = []
    for index, group in enumerate(groups):
        shown = [e for e in entries if any(filled(e, c) for c in group.columns)]
        lead = extra if index == 0 else []  # backend, correct...: once, in the first table
        unit = " (ms)" if all(c.endswith("_ms") for c in group.columns) else ""
        headers = ["id"] + [fmt.cell(c) for c in lead + list(group.columns)]
        body = [[fmt.cell(e.get("id"))] + [value(e, c) for c in lead + list(group.columns)]
                for e in shown]
        lines += [f"**{fmt.cell(group.title)}{unit}**", "",
                  fmt.table(headers, body, ["l"] + ["l"] * len(lead) + ["r"] * len(group.columns)),
                  ""]
    if own:
        lines += ["**Figures only one entry has**", ""]
        for entry in entries:
            mine = [c for c in own if filled(entry, c)]
            if mine:
                lines.append(f"- `{fmt.cell(entry.get('id'))}`: "
                             + " · ".join(f"{fmt.cell(c)} {value(entry, c)}" for c in mine))
        lines.append("")
    return lines


def _sweeps(data: SuiteData) -> list[str]:
    """Each rate sweep as a per-rate table with its knee, theory and best goodput."""
    lines = []
    for entry in data.results:
        sweep = fields.sweep(entry)
        if sweep is None:
            continue
        knee, theory = sweep.get("knee_rps"), sweep.get("theoretical_knee_rps")
        facts = [f"knee **{fmt.number(knee)} queries/s**",
                 f"theoretical {fmt.number(theory)}" if theory is not None
                 else "theoretical: unknown (not all experts are simulator models)",
                 f"best goodput at {fmt.number(sweep.get('max_goodput_rate_rps'))} queries/s",
                 f"SLO {fmt.cell(sweep.get('slo') or 'none')}"]
        body = []
        for row in sweep["rows"]:
            marks = []
            if knee is not None and row["offered_rps"] == knee:
                marks.append("knee")
            if row.get("oversaturated"):
                marks.append("stopped: over-saturated")
            if row.get("valid") is False:
                marks.append("generator invalid")
            body.append([fmt.metric(k, row.get(k)) for k in fields.SWEEP_ROW_KEYS]
                        + [", ".join(marks) or fmt.MISSING])
        lines += [f"### Rate sweep: {fmt.cell(entry.get('id'))}", "", " · ".join(facts), "",
                  fmt.table(list(fields.SWEEP_ROW_KEYS) + ["note"], body,
                            ["r"] * len(fields.SWEEP_ROW_KEYS) + ["l"]), ""]
    return lines


def _top_growth(data: SuiteData) -> list[str]:
    lines = []
    for entry in data.results:
        rows = fields.top_growth(entry)[:TOP_GROWTH_ROWS]
        if not rows:
            continue
        body = [[fmt.cell(r.get("site")), fmt.byte_size(r.get("size_diff_bytes")),
                 fmt.number(r.get("count_diff"))] for r in rows]
        lines += [f"### Top growth sites: {fmt.cell(entry.get('id'))}", "",
                  fmt.table(["Site", "Size growth", "Count growth"], body, ["l", "r", "r"]), ""]
    return lines


def _no_envelope(data: SuiteData) -> str:
    """Why a suite has no results, in words."""
    if data.load_error:
        return data.load_error
    process = data.process
    if process is None:
        return f"no {data.suite}.json in this run directory"
    log = f"; its output is in {process.log}" if process.log else ""
    if process.status == "missing script":
        return f"scripts/{SUITE_SCRIPTS[data.suite]} does not exist, so the suite did not run"
    code = f" (exit code {process.exit_code})" if process.exit_code is not None else ""
    return f"the suite process ended {process.status}{code} without writing {data.suite}.json{log}"


def _validity_detail(detail: Any) -> Any:
    """A detail that is itself a list of checks reads as "❌ FAIL name: detail; ✅ PASS ...", failures first."""
    if isinstance(detail, list) and detail and all(isinstance(d, dict) and "check" in d
                                                   for d in detail):
        ordered = sorted(detail, key=lambda d: bool(d.get("ok")))
        return "; ".join(f"{CHECK_ICON[bool(d.get('ok'))]} {d['check']}: {d.get('detail', '')}"
                         for d in ordered)
    return detail


def _suite_section(data: SuiteData, charts: list[Chart]) -> list[str]:
    title = f"## {SUITE_TITLES[data.suite]} ({data.suite})"
    if data.envelope is None:
        return [title, "", f"**{data.state}** — {fmt.cell(_no_envelope(data), limit=400)}", ""]
    env = data.envelope
    lines = [title, ""]
    facts = [f"State: **{data.state}**", f"{len(data.results)} results",
             "complete" if env.get("complete") else "**partial data** (interrupted or crashed)",
             f"backend: {data.environment.get('backend') or fmt.MISSING}"]
    lines += [" · ".join(facts), ""]
    lines += _speedups(data)
    lines += _sweeps(data)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entry in data.results:
        by_kind.setdefault(str(entry.get("kind") or "result"), []).append(entry)
    for kind, entries in by_kind.items():
        lines += _kind_table(kind, entries)
    lines += _top_growth(data)
    if charts:
        lines += ["### Charts", ""]
        lines += [f"![{c.title}]({c.file})" for c in charts]
        lines.append("")
    if env.get("validity"):
        body = [[CHECK_ICON[bool(v.get("ok"))], fmt.cell(v.get("check")),
                 fmt.cell(_validity_detail(v.get("detail")), limit=400)] for v in env["validity"]]
        lines += ["### Validity checks", "", fmt.table(["Result", "Check", "Detail"], body), ""]
    if env.get("errors"):
        body = [[fmt.cell(e.get("kind")), fmt.cell(e.get("message"), limit=400)] for e in env["errors"]]
        lines += ["### Errors", "", fmt.table(["Kind", "Message"], body), ""]
    config = json.dumps(env.get("config", {}), indent=2, sort_keys=True)
    lines += ['<details markdown="1"><summary>Configuration</summary>', "",
              "```json", config, "```", "", "</details>", ""]
    return lines


def _ratio(value: float | None) -> str:
    return fmt.MISSING if value is None else f"{value:.3f}× ({(value - 1) * 100:+.1f} %)"


def _comparison(comparison: Comparison) -> list[str]:
    base, cur = comparison.commits
    ids = ", ".join(f"`{i}`" for i in comparison.baseline_ids) or "(no suite results)"
    lines = ["## Comparison with baseline", "",
             f"Baseline run {ids}" + (f" (commit {base[:12]})" if base else "")
             + " → this run" + (f" (commit {cur[:12]})" if cur else "")
             + f". Noise floors: the A/A spread measured for the metric where stored "
             f"(aa_noise.json), else {fmt.number(comparison.noise_pct)} %; α = 0.01 for pyperf "
             f"samples; a wall-clock metric gates only with a floor from ≥ {MIN_RUNS_TO_GATE} A/A "
             f"runs. The engine's gate: instruction counts, ±{fmt.number(INSTRUCTION_GATE_PCT)} %.",
             ""]
    verdicts, informational = comparison.verdicts, comparison.informational
    counts = {s: sum(1 for m in verdicts if m.status == s)
              for s in (REGRESSED, IMPROVED, UNCHANGED, NOT_COMPARABLE)}
    lines += [f"**{counts[REGRESSED]} regressed, {counts[IMPROVED]} improved, "
              f"{counts[UNCHANGED]} unchanged, {counts[NOT_COMPARABLE]} not comparable** "
              f"({comparison.unclassified} metrics without a better direction not classified).", ""]
    if comparison.drift:
        lines += ["> ⚠️ **Drift: the runs differ in more than the code**, "
                  "so a change may not be the code's:"]
        lines += [f"> - {d.field}: {fmt.cell(d.baseline)} → {fmt.cell(d.current)} "
                  f"({', '.join(d.suites)})" for d in comparison.drift]
        lines.append("")
    headers = ["Result", "Suite", "Id", "Metric", "Baseline", "Current", "Ratio", "Method", "Detail"]
    align = ["l", "l", "l", "l", "r", "r", "r", "l", "l"]

    def row(m) -> list[str]:
        return [(INFO_STATUS if m.informational else STATUS_ICON)[m.status], m.suite,
                fmt.cell(m.id), m.metric,
                fmt.metric(m.metric, m.baseline), fmt.metric(m.metric, m.current), _ratio(m.ratio),
                m.method, fmt.cell(m.detail)]

    order = {REGRESSED: 0, IMPROVED: 1, NOT_COMPARABLE: 2}
    changed = sorted((m for m in verdicts if m.status != UNCHANGED),
                     key=lambda m: order[m.status])
    if changed:
        lines += [fmt.table(headers, [row(m) for m in changed], align), ""]
    unchanged = [m for m in verdicts if m.status == UNCHANGED]
    if unchanged:
        shown = unchanged[:MAX_UNCHANGED_ROWS]
        lines += [f'<details markdown="1"><summary>Unchanged ({len(unchanged)})</summary>', "",
                  fmt.table(headers, [row(m) for m in shown], align), ""]
        if len(unchanged) > len(shown):
            lines += [f"… and {len(unchanged) - len(shown)} more unchanged metrics "
                      "(all of them are in summary.json).", ""]
        lines += ["</details>", ""]
    if informational:
        moved = sum(1 for m in informational if m.status in (REGRESSED, IMPROVED))
        shown = sorted(informational, key=lambda m: m.status == UNCHANGED)[:MAX_UNCHANGED_ROWS]
        lines += [f'<details markdown="1"><summary>Wall-clock figures, informational only '
                  f'({moved} of {len(informational)} moved)</summary>', "",
                  "The engine is gated on its instruction counts (deterministic under callgrind): "
                  "its times and speedups between runs follow the shared machine's load (other "
                  "jobs, CPU frequency) as much as the code. Other wall-clock figures gate only "
                  "once their noise floor is measured from enough A/A runs "
                  "(`scripts/aa_noise.py`). Until then they are shown here, never counted as "
                  "regressions.", "",
                  fmt.table(headers, [row(m) for m in shown], align), ""]
        if len(informational) > len(shown):
            lines += [f"… and {len(informational) - len(shown)} more (all of them are in "
                      "summary.json).", ""]
        lines += ["</details>", ""]
    if comparison.notes:
        lines += ["Notes:", ""] + [f"- {fmt.cell(n, limit=300)}" for n in comparison.notes] + [""]
    return lines


def _reproduce(run: Run) -> list[str]:
    commits = {(d.environment.get("git") or {}).get("commit") for d in run.present} - {None}
    quick = _quick(run)
    run_dir = f"reports/{run.run_ids[0]}" if len(run.run_ids) == 1 else "reports/<run-id>"
    lines = ["## How to reproduce", "", "```sh"]
    if len(commits) == 1:
        lines.append(f"git checkout {next(iter(commits))}")
    lines.append("make perf-quick" if quick else "make perf")
    lines.append("# or one suite at a time, then the report:")
    for data in run.suites.values():
        flag = " --quick" if quick else ""
        lines.append(f".venv/bin/python scripts/{SUITE_SCRIPTS[data.suite]} --out {run_dir}{flag}")
    lines.append(f".venv/bin/python scripts/aggregate_report.py --run {run_dir}")
    lines += ["```", ""]
    return lines


def render(run: Run, rows: list[TargetRow], verdict: Verdict, charts: dict[str, list[Chart]],
           chart_errors: list[str], comparison: Comparison | None = None) -> str:
    lines = _header(run, verdict, rows)
    lines += _targets(rows, comparison is not None)
    lines += _suites(run)
    lines += _environment(run)
    if comparison is not None:
        lines += _comparison(comparison)
    for data in run.suites.values():
        lines += _suite_section(data, charts.get(data.suite, []))
    if chart_errors:
        lines += ["## Chart errors", ""] + [f"- {fmt.cell(e, limit=300)}" for e in chart_errors] + [""]
    lines += _reproduce(run)
    return "\n".join(lines).rstrip() + "\n"
