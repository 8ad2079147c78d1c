"""Splitting a results table too wide to read into narrow tables of related columns.

A kind's table has one column per summary key any of its entries has. The load
suite's `scenario` kind has ten entries and ~80 keys, most of them filled by
one or two scenarios: one table of 80 columns, mostly dashes, that no laptop
screen shows. Few entries are transposed instead (render_markdown); many
entries are split here:

- columns that only one entry has are that entry's own figures, listed under
  the tables ("`sweep/summary`: knee_rps 62.33 · ..."), not a column of dashes;
- the others are grouped by what they measure: counts, rates and shares first,
  then end-to-end latency (`p50_ms`, `max_ms`...), then each other timed
  quantity (`ttft_p50_ms`...), packed into tables of at most `width` columns;
- each table lists only the entries with a value in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

# A time statistic's name: <what>_<stat>_ms (or <stat>_ms for end-to-end latency).
_TIME_STAT = re.compile(r"^(?:(?P<what>.+?)_)?(?:mean|min|max|median|stdev|p\d+)_(?:ms|s)$")


@dataclass(frozen=True)
class ColumnGroup:
    title: str
    columns: tuple[str, ...]


def _family(column: str) -> str | None:
    """The timed quantity a column is a statistic of ("" for end-to-end), or None."""
    match = _TIME_STAT.match(column)
    if match is None:
        return None
    return match.group("what") or ""


def split(columns: Sequence[str], has: Callable[[str], int], width: int
          ) -> tuple[list[ColumnGroup], list[str]]:
    """(narrow column groups, columns only one entry has), in the columns' order.

    `has(column)` is the number of entries with a value in that column.
    """
    own = [c for c in columns if has(c) == 1]
    shared = [c for c in columns if has(c) > 1]
    families: dict[str, list[str]] = {}
    for column in shared:
        family = _family(column)
        key = "counts, rates and shares" if family is None else (
            "latency" if family == "" else family)
        families.setdefault(key, []).append(column)
    # Counts first, then end-to-end latency, then each other timed quantity in first-seen order.
    order = sorted(families, key=lambda k: (k != "counts, rates and shares", k != "latency"))
    groups: list[ColumnGroup] = []
    pending: list[str] = []
    titles: list[str] = []

    def flush() -> None:
        if pending:
            groups.append(ColumnGroup(", ".join(titles), tuple(pending)))
            pending.clear()
            titles.clear()

    for key in order:
        cols = families[key]
        title = key if key in ("counts, rates and shares", "latency") else key.replace("_", " ")
        if len(pending) + len(cols) > width:
            flush()
        part = 0
        while len(cols) > width:  # one family wider than a table: in consecutive parts
            groups.append(ColumnGroup(title + (" (continued)" if part else ""), tuple(cols[:width])))
            cols, part = cols[width:], part + 1
        pending.extend(cols)
        titles.append(title + (" (continued)" if part else ""))
        if key in ("counts, rates and shares", "latency"):
            flush()  # each of these reads best as a table of its own
    flush()
    return groups, own
