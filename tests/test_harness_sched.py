"""codeperf.harness.sched: run-queue figures and lowering the priority of processes we started."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codeperf.harness import sched

LINUX_SCHEDSTAT = Path("/proc/thread-self/schedstat").exists()


@pytest.mark.skipif(not LINUX_SCHEDSTAT, reason="Linux schedstat only")
def test_schedstat_counts_this_threads_cpu():
    before = sched.thread_schedstat()
    sum(i * i for i in range(300_000))  # some CPU on this thread
    after = sched.thread_schedstat()
    assert after.cpu_s > before.cpu_s and after.wait_s >= before.wait_s
    assert after.slices >= before.slices >= 1
    whole = sched.process_schedstat(os.getpid())
    assert whole.cpu_s >= after.cpu_s  # the process sums its threads


def test_schedstat_of_a_process_that_is_gone_is_none():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert sched.process_schedstat(child.pid) is None


def _spawn_with_thread():
    # A child with a second thread, so that every thread (Linux: niceness per thread) is set.
    code = ("import threading, time, sys; threading.Thread(target=time.sleep, args=(60,), "
            "daemon=True).start(); print('ready', flush=True); sys.stdin.read()")
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "ready"
    return child


def _thread_nices(pid):
    tids = os.listdir(f"/proc/{pid}/task") if Path(f"/proc/{pid}/task").exists() else [pid]
    return [os.getpriority(os.PRIO_PROCESS, int(t)) for t in tids]


def test_lower_priority_sets_every_thread_and_never_raises_priority():
    child = _spawn_with_thread()
    try:
        assert sched.lower_priority([child.pid], 7) == {child.pid: 7}
        assert set(_thread_nices(child.pid)) == {7}
        # Asked for a higher priority (lower niceness) than it has: left as it is.
        assert sched.lower_priority([child.pid], 3) == {child.pid: 7}
        assert set(_thread_nices(child.pid)) == {7}
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    assert sched.lower_priority([child.pid], 9) == {child.pid: None}  # gone: said so


@pytest.mark.parametrize("nice", [-1, 20])
def test_lower_priority_refuses_out_of_range(nice):
    with pytest.raises(ValueError):
        sched.lower_priority([os.getpid()], nice)


def test_the_calling_process_is_untouched_by_its_childs_niceness():
    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    child = _spawn_with_thread()
    try:
        sched.lower_priority([child.pid], 12)
    finally:
        child.stdin.close()
        child.wait(timeout=10)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


@pytest.mark.skipif(not Path("/proc/stat").exists(), reason="Linux /proc/stat only")
def test_machine_cpu_states_only_grow():
    before = sched.machine_cpu_s()
    sum(i * i for i in range(300_000))
    after = sched.machine_cpu_s()
    assert set(before) == {"busy", "idle", "iowait", "steal"}
    assert all(after[k] >= before[k] >= 0 for k in before)
