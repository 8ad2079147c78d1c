"""Benchmark names and input sizes: what `--bench` and `--sizes` accept.

The default grid is a cross through the reference size, not a full product:
responses vary at 2 KB each (10, 100, 300) and response size varies at 100
responses (0.5, 2, 8 KB). A full 3x3 product with 1000 responses would spend
minutes in the Python twin alone (consensus is quadratic in the number of
responses: about 3.5 s per call at 1000 x 2 KB), breaking the 5-minute budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
    """An input: `responses` expert answers of about `size_bytes` bytes each."""

    responses: int
    size_bytes: int

    @property
    def label(self) -> str:
        kib = self.size_bytes / 1024
        if self.size_bytes % 512 == 0:
            return f"{self.responses}x{kib:g}KB"
        return f"{self.responses}x{self.size_bytes}B"

    def __str__(self) -> str:
        return self.label


REFERENCE = Size(100, 2048)  # where the targets are evaluated
FULL_GRID = (Size(10, 2048), Size(100, 512), REFERENCE, Size(100, 8192), Size(300, 2048))
QUICK_GRID = (Size(10, 2048), REFERENCE)

_SIZE_RE = re.compile(r"^\s*(\d+)\s*x\s*(\d+(?:\.\d+)?)\s*(B|KB|KiB|K)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> Size:
    """'100x2KB', '100x0.5KB', '10x512B' or '10x512' (bytes); 1 KB = 1024 bytes."""
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"size {text!r} is not RESPONSESxBYTES, e.g. 100x2KB or 10x512B")
    responses = int(match.group(1))
    amount = float(match.group(2))
    unit = (match.group(3) or "B").upper()
    size_bytes = amount * 1024 if unit in ("KB", "KIB", "K") else amount
    if responses < 1 or size_bytes < 1 or size_bytes != int(size_bytes):
        raise ValueError(f"size {text!r}: need at least 1 response of a whole number of bytes")
    return Size(responses, int(size_bytes))


def parse_sizes(items: list[str] | tuple[str, ...]) -> tuple[Size, ...]:
    sizes: list[Size] = []
    for item in items:
        for part in item.split(","):
            if part.strip():
                size = parse_size(part)
                if size not in sizes:
                    sizes.append(size)
    return tuple(sorted(sizes))


def parse_benches(items: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Expand names and aliases (repeatable, comma lists) into ops, in canonical order."""
    chosen: set[str] = set()
    for item in items:
        for part in item.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name in ALIASES:
                chosen.update(ALIASES[name])
            elif name in ALL_OPS:
                chosen.add(name)
            else:
                known = ", ".join(ALL_OPS + tuple(ALIASES))
                raise ValueError(f"unknown benchmark {part.strip()!r}; choose from {known}")
    return tuple(op for op in ALL_OPS if op in chosen) if chosen else ALL_OPS
