"""Exit codes shared by every script (documented in each --help and the README)."""

OK = 0
FAILED = 1  # a target, a correctness gate or a validity check failed; results were written
USAGE = 2  # bad arguments or a set-up error (e.g. Rust extension not built); nothing measured
INTERRUPTED = 130  # Ctrl-C or SIGTERM; partial results were written with complete: false

EPILOG = ("Exit codes: 0 ok; 1 a target, correctness gate or validity check failed "
          "(results written); 2 usage or set-up error; 130 interrupted (partial results "
          "written with complete: false).")
