"""`make bench-rust`: pyperf micro-benchmarks of the Rust engine against its Python twin.

grid (sizes and benchmark names) -> cases (what one timed call does) ->
correctness (the gate) -> memory_pass and timing (pyperf subprocesses) ->
analysis (speedups, scaling) -> driver (the run and its envelope).
"""
