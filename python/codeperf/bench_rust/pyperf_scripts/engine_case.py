"""pyperf script: time one engine operation on one backend at one input size.

A plain pyperf script: pyperf's Runner owns argv and re-runs this file as its
worker processes. The driver (scripts/bench_rust.py) runs it as a subprocess:

    python engine_case.py --op consensus_cosine --backend rust --size 100x2KB \
        --seed 0 --output out.json [pyperf options: --processes, --values, ...]

One iteration is one call of the operation on the whole input (for `ffi_noop`,
one call of noop(12345)); the input is built before timing, outside the loop.
The input's sha256 goes into the metadata, so the driver can check that the
input it gated is the input that was timed.
"""

import pyperf

from codeperf.bench_rust import cases
from codeperf.bench_rust.grid import ALL_OPS, BACKENDS, FFI_OP, parse_size


def add_worker_args(cmd, args):
    cmd.extend(["--op", args.op, "--backend", args.backend, "--seed", str(args.seed)])
    if args.size:
        cmd.extend(["--size", args.size])


runner = pyperf.Runner(add_cmdline_args=add_worker_args)
runner.argparser.add_argument("--op", required=True, choices=ALL_OPS)
runner.argparser.add_argument("--backend", required=True, choices=BACKENDS)
runner.argparser.add_argument("--size", default=None, help="RESPONSESxBYTES, e.g. 100x2KB")
runner.argparser.add_argument("--seed", type=int, default=0)
args = runner.parse_args()

size = parse_size(args.size) if args.op != FFI_OP else None
case = cases.Case(args.op, args.backend, size, args.seed)
fn = cases.operation(case.op, case.backend)
data = cases.make_input(case.op, case.size, case.seed)

runner.metadata["codeperf_case"] = case.id
runner.metadata["codeperf_backend"] = case.backend
runner.metadata["codeperf_input_sha256"] = cases.input_fingerprint(data)
runner.metadata["description"] = cases.DESCRIPTIONS[case.op]
if case.backend == "rust":
    from codeperf import _rust

    runner.metadata["codeperf_rust_threads"] = _rust.rayon_threads()
if case.op == FFI_OP:
    runner.bench_time_func(case.bench_name, cases.time_calls_unrolled, fn, data,
                           inner_loops=cases.FFI_UNROLL)
else:
    runner.bench_time_func(case.bench_name, cases.time_calls, fn, data)
