#!/usr/bin/env python3
"""Memory profiling of both heaps: peaks, Rust vs Python, leaks, timelines, line-by-line.

Writes <out>/memory.json (the result envelope); progress and a summary go to stderr.
The logic lives in codeperf.memory (see docs/memory.md).
"""

from __future__ import annotations

# First, before the heavy imports: a SIGTERM while importing still leaves a partial
# envelope and exit 130 (the suite contract, codeperf.harness.contract).
from codeperf.harness.contract import trap_startup_signals  # noqa: E402

if __name__ == "__main__":  # run as a script, not imported by a test
    trap_startup_signals("memory")

import click

from codeperf import cli
from codeperf.harness.run_dir import script_out_dir
from codeperf.memory.components import COMPONENT_NAMES


@cli.command()
@click.option("--component", "components", multiple=True, type=click.Choice(COMPONENT_NAMES),
              help="Component to run (repeatable). [default: all, in the order listed]")
@cli.quick_option("Smaller inputs and fewer batches (pull requests).")
@cli.out_option()
@cli.experts_option("Experts TOML file. [default: a built-in circle on the bundled simulator]")
@cli.allow_remote_option("Allow experts outside 127.0.0.0/8 and ::1 (the expert runs send "
                         "hundreds of queries).")
@click.option("--interval", "sample_interval_s", type=click.FloatRange(min=0.001), default=0.02,
              help="Timeline sampling interval in seconds.")
def main(components, quick, out_dir, experts_file, allow_remote, sample_interval_s):
    """Profile memory on the Python heap, the Rust heap and RSS; write OUT/memory.json."""
    from codeperf.harness.contract import run_script

    out_dir = script_out_dir(out_dir, "memory_profile")
    def body() -> int:
        from codeperf.memory.suite import run_suite  # heavy imports: inside the contract

        return run_suite(out_dir, components, quick=quick, experts_file=experts_file,
                         allow_remote=allow_remote, sample_interval_s=sample_interval_s)

    cli.exit_with(run_script("memory", out_dir, body))


if __name__ == "__main__":
    main()
