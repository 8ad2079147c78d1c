"""Benchmark names and input sizes: what `--bench` and `--sizes` accept.

The default grid is a cross through the reference size, not a full product:
responses vary at 2 KB each (10, 100, 300) and response size varies at 100
responses (0.5, 2, 8 KB). A full 3x3 product with 1000 responses would spend
minutes in the Python twin alone (consensus is quadratic in the number of
responses: about 3.5 s per call at 1000 x 2 KB), breaking the 5-minute budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from codeperf.engine.corpus_families import FAMILIES, REFERENCE_FAMILY

ENGINE_OPS = ("analyze", "consensus_cosine", "consensus_jaccard", "aggregate", "pipeline")
FFI_OP = "ffi_noop"
ALL_OPS = ENGINE_OPS + (FFI_OP,)
# What `--bench` accepts besides the op names themselves.
ALIASES = {
    "all": ALL_OPS,
    "consensus": ("consensus_cosine", "consensus_jaccard"),
    "ffi": (FFI_OP,),
}
BACKENDS = ("python", "rust")  # python first: speedup = python / rust


@dataclass(frozen=True, order=True)
class Size:
    """An input: `responses` expert answers of about `size_bytes` bytes each, from the
    corpus `family` (codeperf.engine.corpus_families; `own` is the project's corpus)."""

    responses: int
    size_bytes: int
    family: str = REFERENCE_FAMILY

    @property
    def label(self) -> str:
        kib = self.size_bytes / 1024
        shape = (f"{self.responses}x{kib:g}KB" if self.size_bytes % 512 == 0
                 else f"{self.responses}x{self.size_bytes}B")
        # The reference family keeps the plain label, so runs before families compare.
        return shape if self.family == REFERENCE_FAMILY else f"{shape}@{self.family}"

    @property
    def at_reference(self) -> bool:
        """The reference shape (100 x 2 KB), in any family: where the targets are judged."""
        return (self.responses, self.size_bytes) == (REFERENCE.responses, REFERENCE.size_bytes)

    def __str__(self) -> str:
        return self.label


REFERENCE = Size(100, 2048)  # where the targets are evaluated
FULL_GRID = (Size(10, 2048), Size(100, 512), REFERENCE, Size(100, 8192), Size(300, 2048))
# Full mode times the cross above on the reference family only; every other family at the
# reference shape, where its targets are judged (issue #15: 101 cases took 17.5 of make
# perf's 15 minutes). Why that is enough for scaling: in the quiet full run of 2026-12-03
# every family's exponents agreed within their intervals (consensus cosine along the
# responses: Python 1.38-1.50, Rust 0.99-1.11 over the four families); a family changes
# the cost per byte, which its reference row measures, not the order of growth, which the
# algorithm sets. `--sizes` times any sizes in every chosen family (docs/bench_rust.md).
OTHER_FAMILIES_GRID = (REFERENCE,)
# Operations timed at the reference shape only in full mode: `pipeline` is analyze, cosine
# consensus and aggregate in sequence, whose scaling is measured one by one; it has no
# target, and off the reference its 4 sizes cost ~75 s (its Python side is the slowest).
REFERENCE_ONLY_OPS = ("pipeline",)
# Quick mode (the pull-request gate) times only the reference size, where the targets
# and the instruction counts are: 10 x 2 KB added 5 of 11 cases (~14 s on 2 cores) for a
# scaling exponent nobody gates on; the full grid keeps it.
QUICK_GRID = (REFERENCE,)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*x\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|K)?\s*(?:@\s*(\w+)\s*)?$",
                      re.IGNORECASE)


def parse_size(text: str) -> Size:
    """'100x2KB', '100x0.5KB', '10x512B' or '10x512' (bytes); 1 KB = 1024 bytes; an
    optional '@family' names the corpus family (default: the reference family)."""
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"size {text!r} is not RESPONSESxBYTES, e.g. 100x2KB or 10x512B")
    family = (match.group(4) or REFERENCE_FAMILY).lower()
    if family not in FAMILIES:
        raise ValueError(f"size {text!r}: unknown corpus family {family!r}; use one of "
                         f"{', '.join(FAMILIES)}")
    responses = int(match.group(1))
    amount = float(match.group(2))
    unit = (match.group(3) or "B").upper()
    size_bytes = amount * 1024 if unit in ("KB", "KIB", "K") else amount
    if responses < 1 or size_bytes < 1 or size_bytes != int(size_bytes):
        raise ValueError(f"size {text!r}: need at least 1 response of a whole number of bytes")
    return Size(responses, int(size_bytes), family)


def parse_sizes(items: list[str] | tuple[str, ...]) -> tuple[Size, ...]:
    sizes: list[Size] = []
    for item in items:
        for part in item.split(","):
            if part.strip():
                size = parse_size(part)
                if size not in sizes:
                    sizes.append(size)
    return tuple(sorted(sizes))


def _comma_items(items: list[str] | tuple[str, ...]):
    """(as given, lowercased) for each non-empty part of repeatable, comma-listed values."""
    for item in items:
        for part in item.split(","):
            if part.strip():
                yield part.strip(), part.strip().lower()


def parse_benches(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand names and aliases (repeatable, comma lists) into ops, in canonical order."""
    chosen: set[str] = set()
    for given, name in _comma_items(items):
        if name in ALIASES:
            chosen.update(ALIASES[name])
        elif name in ALL_OPS:
            chosen.add(name)
        else:
            known = ", ".join(ALL_OPS + tuple(ALIASES))
            raise ValueError(f"unknown benchmark {given!r}; choose from {known}")
    return tuple(op for op in ALL_OPS if op in chosen) if chosen else ALL_OPS


def parse_families(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """`--corpus` values (repeatable, comma lists) in FAMILIES order; empty if none given."""
    chosen: set[str] = set()
    for given, name in _comma_items(items):
        if name not in FAMILIES:
            raise ValueError(f"unknown corpus family {given!r}; choose from "
                             f"{', '.join(FAMILIES)}")
        chosen.add(name)
    return tuple(f for f in FAMILIES if f in chosen)


def in_families(sizes: tuple[Size, ...], families: tuple[str, ...]) -> tuple[Size, ...]:
    """Every size in every family (a size that names its family keeps it)."""
    out: list[Size] = []
    for family in families:
        for size in sizes:
            s = size if size.family != REFERENCE_FAMILY else replace(size, family=family)
            if s not in out:
                out.append(s)
    return tuple(sorted(out, key=lambda s: (FAMILIES_ORDER[s.family], s.responses, s.size_bytes)))


FAMILIES_ORDER = {name: i for i, name in enumerate(FAMILIES)}


def full_sizes(families: tuple[str, ...]) -> tuple[Size, ...]:
    """Full mode's default sizes: the cross on the reference family, the reference shape on
    the others (OTHER_FAMILIES_GRID)."""
    sizes = in_families(FULL_GRID, tuple(f for f in families if f == REFERENCE_FAMILY))
    others = tuple(f for f in families if f != REFERENCE_FAMILY)
    return tuple(sorted(sizes + in_families(OTHER_FAMILIES_GRID, others),
                        key=lambda s: (FAMILIES_ORDER[s.family], s.responses, s.size_bytes)))
