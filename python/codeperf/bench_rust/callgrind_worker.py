"""Run engine operations once each, each between the extension's two marker calls, under callgrind.

    valgrind --tool=callgrind --dump-before='*codeperf_callgrind_start*' \\
        --dump-before='*codeperf_callgrind_stop*' \\
        python -m codeperf.bench_rust.callgrind_worker --ops analyze,aggregate \\
        --inputs python=20x2048,rust=100x2048

`codeperf._rust.callgrind_start()` and `callgrind_stop()` do nothing but enter
a Rust function with a unique name. Callgrind dumps its counters (every
thread's) on entering each: the dump taken on entering the stop marker holds
the operation's instructions only (plus the few hundred of the two calls), not
the interpreter's start-up, imports or corpus generation. `instructions.py`
runs this and reads the dumps.

The Rust engine's parallel loops run inline on this thread
(`_rust.rayon_on_calling_thread`): a pool thread spinning for work would add a
count that depends on the OS scheduler.

Each operation first runs once outside the marker, on a small input, so
one-time work (lazy imports, first-call caches) is not counted as the operation,
and a full garbage collection precedes every counted call, so a collection
inside it does not depend on the process's history.
"""

from __future__ import annotations

import argparse
import gc
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codeperf.bench_rust.callgrind_worker",
                                     description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--inputs", required=True,
                        help="comma list of BACKEND=RESPONSESxBYTES[@FAMILY] (corpus family, "
                        "default the reference one), run in this order (one process for all "
                        "backends: valgrind's start-up costs seconds)")
    parser.add_argument("--ops", required=True, help="comma list, run in this order")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from codeperf import _rust
    from codeperf.bench_rust import cases
    from codeperf.bench_rust.grid import Size

    _rust.rayon_on_calling_thread()  # parallel loops inline: no pool thread's spinning counted
    ops = [o for o in args.ops.split(",") if o]
    warm = cases.make_input(ops[0], Size(2, 256), args.seed)
    for item in [i for i in args.inputs.split(",") if i]:
        backend, spec = item.split("=")
        shape, _, family = spec.partition("@")
        responses, size_bytes = (int(x) for x in shape.split("x"))
        size = Size(responses, size_bytes, family) if family else Size(responses, size_bytes)
        data = cases.make_input(ops[0], size, args.seed)
        for op in ops:
            fn = cases.operation(op, backend)
            fn(warm)
            # Python's cyclic GC runs when its allocation counters pass a threshold: where
            # they stand depends on what the process did before (importing, compiling .pyc
            # files), so a collection landed inside or outside the counted call by history
            # (0.24-0.28 M instructions, docs/bench_rust.md). A full collection first
            # resets the counters: the call starts from the same state in every process.
            gc.collect()
            _rust.callgrind_start()
            fn(data)
            _rust.callgrind_stop()
            print(f"callgrind_worker: ran {op}/{backend}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
