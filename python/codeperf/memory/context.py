"""What every memory component receives, and what it hands back for the targets."""

from __future__ import annotations

from codeperf.harness.contract import log_to

from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from codeperf.memory.heaps import RustHeap
from codeperf.memory.timeline import TimelineSampler


class ComponentSkipped(Exception):
    """A component that cannot run here (a part not built yet); the message says why."""


# The suite contract's one logger (progress to stderr).
stderr_log = log_to("memory")


@dataclass
class MemoryContext:
    quick: bool
    rust: RustHeap
    sampler: TimelineSampler
    out_dir: Path
    log: Callable[[str], None] = stderr_log
    options: dict[str, Any] = field(default_factory=dict)  # e.g. experts_file
    # Long-lived parts shared by components (the experts circle); closed by the suite.
    shared: dict[str, Any] = field(default_factory=dict)
    # Components that could not run here (ComponentSkipped): name -> reason.
    skipped: dict[str, str] = field(default_factory=dict)
    cleanup: ExitStack = field(default_factory=ExitStack)
    # Filled by components, read by the suite to evaluate targets.
    normal_load_rss_peaks: dict[str, int] = field(default_factory=dict)  # label -> bytes
    leak_rates: dict[str, float] = field(default_factory=dict)  # label -> bytes per 100 ops
    rust_reductions: dict[str, float | None] = field(default_factory=dict)  # op -> % at reference size
    validity: list[tuple[str, bool, Any]] = field(default_factory=list)
    # The running component's result entries, in the order measured; the suite moves
    # them into the envelope when the component ends, however it ends.
    results: list[dict[str, Any]] = field(default_factory=list)

    def add_result(self, entry: dict[str, Any]) -> None:
        self.results.append(entry)

    def add_validity(self, check: str, ok: bool, detail: Any = None) -> None:
        self.validity.append((check, bool(ok), detail))

    def sampled_max_rss(self, since: float) -> int | None:
        return self.sampler.max_rss_since(since)
