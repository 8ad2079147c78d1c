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

from pathlib import Path

import click

from codeperf.harness import exitcodes
from codeperf.harness.run_dir import DEFAULT_OUT_HELP, script_out_dir
from codeperf.memory.components import COMPONENT_NAMES


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               epilog=exitcodes.EPILOG)
@click.option("--component", "components", multiple=True, type=click.Choice(COMPONENT_NAMES),
              help="component to run (repeatable); default: all, in the order listed")
@click.option("--quick", is_flag=True, help="smaller inputs and fewer batches (pull requests)")
@click.option("--out", "out_dir", default=None,
              type=click.Path(file_okay=False, path_type=Path), help=DEFAULT_OUT_HELP)
@click.option("--experts", "experts_file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="experts TOML file; default: a built-in circle on the bundled simulator")
@click.option("--allow-remote", is_flag=True,
              help="allow experts outside 127.0.0.0/8 and ::1 (the expert runs send hundreds of queries)")
@click.option("--interval", "sample_interval_s", type=click.FloatRange(min=0.001), default=0.02,
              show_default=True, help="timeline sampling interval in seconds")
def main(components, quick, out_dir, experts_file, allow_remote, sample_interval_s):
    """Profile memory on the Python heap, the Rust heap and RSS; write OUT/memory.json."""
    from codeperf.harness.contract import run_script

    out_dir = script_out_dir(out_dir, "memory_profile")
    def body() -> int:
        from codeperf.memory.suite import run_suite  # heavy imports: inside the contract

        return run_suite(out_dir, components, quick=quick, experts_file=experts_file,
                         allow_remote=allow_remote, sample_interval_s=sample_interval_s)

    raise SystemExit(run_script("memory", out_dir, body))


if __name__ == "__main__":
    main()
