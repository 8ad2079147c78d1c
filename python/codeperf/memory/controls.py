"""Leak-detector controls: code whose retention is known, so the detector can be checked.

The positive controls retain a known number of bytes per call and must be
flagged, with a rate close to that number; the negative control allocates as
much per call and keeps nothing, and must not be flagged. They live in their own
module because the detector hides its own frames from the growth-site listing,
and the positive control's site should show there.
"""

from __future__ import annotations

from typing import Any, Callable

from codeperf.memory.heaps import RustHeap


class RetainingControl:
    """The positive control: each call keeps `bytes_per_call` bytes alive (a deliberate leak)."""

    def __init__(self, bytes_per_call: int = 1024) -> None:
        self.bytes_per_call = bytes_per_call
        self.kept: list[bytes] = []

    def __call__(self) -> None:
        # Repetition writes every byte, so the pages become resident and RSS can see
        # them too (bytes(n) comes from calloc and may never touch its pages).
        self.kept.append(b"x" * self.bytes_per_call)

    def release(self) -> None:
        self.kept = []


class RustRetainingControl:
    """The Rust-heap positive control: each call keeps an extension-owned buffer alive."""

    def __init__(self, rust: RustHeap, bytes_per_call: int = 1024) -> None:
        self.rust = rust
        self.bytes_per_call = bytes_per_call
        self.kept: list[Any] = []

    def __call__(self) -> None:
        self.kept.append(self.rust.allocate_for_test(self.bytes_per_call))

    def release(self) -> None:
        self.kept = []


def transient_control(bytes_per_call: int = 1024) -> Callable[[], None]:
    """The negative control: allocates the same amount per call and keeps nothing."""
    def op() -> None:
        buf = b"x" * bytes_per_call
        del buf
    return op
