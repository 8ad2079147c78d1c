"""Wide results tables with many entries are split into narrow ones; every result keeps its
word beside its symbol (an emoji alone renders as an empty box without an emoji font)."""

from __future__ import annotations

from codeperf.report import column_groups
from codeperf.report import render_markdown as rm


def _scenario_entries() -> list[dict]:
    common = {"requests_count": 10, "ok_count": 10, "errors_count": 0, "error_rate_pct": 0.0,
              "duration_s": 2.0, "throughput_rps": 5.0, "mean_ms": 11.0, "p50_ms": 10.0,
              "p95_ms": 20.0, "p99_ms": 30.0, "max_ms": 40.0, "ttft_p50_ms": 7.0,
              "ttft_p99_ms": 9.0, "engine_p50_ms": 0.5, "engine_p99_ms": 1.5}
    entries = [{"id": f"scenario-{i}", "kind": "scenario", "backend": "rust",
                "summary": dict(common)} for i in range(10)]
    entries[3]["summary"]["knee_rps"] = 62.5  # a figure only one entry has
    return entries


def _tables(lines: list[str]) -> list[list[str]]:
    tables, current = [], []
    for line in "\n".join(lines).split("\n") + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_wide_table_with_many_entries_is_split_into_narrow_tables():
    entries = _scenario_entries()
    lines = rm._kind_table("scenario", entries)
    text = "\n".join(lines)
    tables = _tables(lines)
    assert len(tables) >= 3
    for table in tables:
        assert table[0].count("|") - 1 <= rm.MAX_COLUMNS, table[0]
    assert "**counts, rates and shares**" in text and "**latency (ms)**" in text
    # A figure only one entry has is listed under its entry, not a column of dashes.
    assert "- `scenario-3`: knee_rps 62.50" in text
    assert "knee_rps |" not in text
    # Each column appears in exactly one table, the backend only in the first.
    headers = [t[0] for t in tables]
    for column in ("requests_count", "p99_ms", "ttft_p99_ms", "engine_p50_ms"):
        assert sum(f" {column} " in h for h in headers) == 1, column
    assert "backend" in headers[0] and not any("backend" in h for h in headers[1:])
    # Every entry is in the first table, with its values.
    assert all(f"| scenario-{i} |" in "\n".join(tables[0]) for i in range(10))


def test_a_table_lists_only_entries_with_a_value_in_it():
    entries = _scenario_entries()
    for e in entries[5:]:
        for key in ("ttft_p50_ms", "ttft_p99_ms", "engine_p50_ms", "engine_p99_ms"):
            del e["summary"][key]
    tables = _tables(rm._kind_table("scenario", entries))
    timed = [t for t in tables if "ttft_p50_ms" in t[0]]
    assert len(timed) == 1 and len(timed[0]) == 2 + 5  # header, rule, 5 entries


def test_narrow_or_few_entry_tables_are_not_split():
    entries = _scenario_entries()[:3]  # few entries: transposed, as before
    assert len(_tables(rm._kind_table("scenario", entries))) == 1
    narrow = [{"id": f"e{i}", "kind": "k", "summary": {"a_ms": 1.0, "b_count": 2}} for i in range(12)]
    assert len(_tables(rm._kind_table("k", narrow))) == 1


def test_column_families_group_time_statistics():
    groups, own = column_groups.split(
        ["requests_count", "p50_ms", "ttft_p50_ms", "ttft_p99_ms", "max_ms", "only_x"],
        lambda c: 1 if c == "only_x" else 3, width=9)
    assert own == ["only_x"]
    assert [(g.title, g.columns) for g in groups] == [
        ("counts, rates and shares", ("requests_count",)),
        ("latency", ("p50_ms", "max_ms")),
        ("ttft", ("ttft_p50_ms", "ttft_p99_ms"))]


def test_every_result_symbol_carries_its_word():
    assert rm.TARGET_ICON == {"pass": "✅ PASS", "fail": "❌ FAIL", "not run": "⏭️ not run"}
    detail = rm._validity_detail([{"check": "lag", "ok": False, "detail": "12 ms"},
                                  {"check": "cpu", "ok": True, "detail": "10 %"}])
    assert detail == "❌ FAIL lag: 12 ms; ✅ PASS cpu: 10 %"  # (validity tables: the goldens)
