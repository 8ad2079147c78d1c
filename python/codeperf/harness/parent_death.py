"""Children that die with the script that started them, even when it is SIGKILLed.

A SIGKILLed script runs no handler, so a server it started (the expert
simulator, an HTTP MCP server) would live on under init. Two mechanisms, one per
kind of child:

- a child we wrote watches a pipe only its parent holds (the simulator's
  `--exit-with-stdin`): the kernel closes it when the parent dies, on any OS;
- a child we did not write (any HTTP MCP server command) gets Linux's
  parent-death signal: `preexec_fn=die_with_parent` makes the kernel send it
  SIGTERM when the thread that started it exits. Elsewhere it is a no-op, and
  the end-of-run reaping is the only guard.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
# Loaded in the parent: a fork child should not open libraries before exec.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """For `preexec_fn`: ask the kernel to send `sig` when our parent exits."""
    if _LIBC is None:
        return
    parent = os.getppid()
    _LIBC.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)
