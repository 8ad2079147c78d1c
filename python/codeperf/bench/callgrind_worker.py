"""Run engine operations once each, every one inside a call to libc's `qsort`, under callgrind.

    valgrind --tool=callgrind --dump-before=qsort --dump-after=qsort \\
        python -m codeperf.bench.callgrind_worker --backend rust --ops analyze,aggregate \\
        --responses 100 --size-bytes 2048

Python code cannot issue valgrind client requests, and no function of the
interpreter is unique to one operation, so the operation runs inside a marker
C function that nothing else in this process calls: `qsort` on two elements,
whose comparison is a ctypes callback that runs the operation. Callgrind
dumps its counters (all threads) when the marker is entered and when it is
left; the dump triggered by leaving it holds the operation's instructions
only (plus the few hundred of the callback's crossing), not the interpreter's
start-up, imports or corpus generation. `instructions.py` reads those dumps.

Each operation runs once outside the marker first, on a small input, so
one-time work (lazy imports, first-call caches) is not counted as the operation.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import sys
from typing import Any, Callable

_CMP = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def run_in_marker(fn: Callable[[], Any]) -> None:
    """Call `fn` exactly once from inside libc's qsort (the callgrind marker)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    state = {"ran": False, "error": None}

    def compare(_a: int, _b: int) -> int:
        if not state["ran"]:  # qsort may compare more than once; the op runs once
            state["ran"] = True
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - raised again outside C
                state["error"] = exc
        return 0

    callback = _CMP(compare)
    pair = (ctypes.c_int * 2)(0, 1)
    libc.qsort(pair, 2, ctypes.sizeof(ctypes.c_int), callback)
    if state["error"] is not None:
        raise state["error"]
    if not state["ran"]:
        raise RuntimeError("qsort never called the comparison: the marker did not run")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codeperf.bench.callgrind_worker",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--backend", required=True, choices=("python", "rust"))
    parser.add_argument("--ops", required=True, help="comma list, run in this order")
    parser.add_argument("--responses", type=int, required=True)
    parser.add_argument("--size-bytes", type=int, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from codeperf.bench import cases
    from codeperf.bench.grid import Size

    ops = [o for o in args.ops.split(",") if o]
    data = cases.make_input(ops[0], Size(args.responses, args.size_bytes), args.seed)
    warm = cases.make_input(ops[0], Size(2, 256), args.seed)
    for op in ops:
        fn = cases.operation(op, args.backend)
        fn(warm)
        run_in_marker(lambda: fn(data))
        print(f"callgrind_worker: ran {op}/{args.backend}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
