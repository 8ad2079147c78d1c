"""What the OS scheduler did to a thread or process, and lowering a process's priority.

Linux keeps, per thread, the CPU time it ran, the time it waited on a run queue
(ready to run, no CPU free) and how many times it was put on a CPU
(`/proc/<pid>/task/<tid>/schedstat`). A load generator's late send is its own
work only when it was not waiting for a CPU that other processes held; these
figures say which. Elsewhere they are None.

`lower_priority` raises the niceness of processes a suite itself started (a
simulator, MCP servers) so that the load generator, at the normal priority,
has the cores first when they share a machine. Raising niceness needs no
privilege; lowering it back would, so the processes keep it until they exit.
"""

from __future__ import annotations

import os
from typing import Iterable, NamedTuple


class SchedStat(NamedTuple):
    cpu_s: float  # time on a CPU
    wait_s: float  # time ready to run, waiting on a run queue
    slices: int  # times put on a CPU (wake-ups and preemptions)


def _read(path: str) -> SchedStat | None:
    try:
        with open(path, encoding="ascii") as handle:
            run_ns, wait_ns, slices = handle.read().split()[:3]
        return SchedStat(int(run_ns) / 1e9, int(wait_ns) / 1e9, int(slices))
    except (OSError, ValueError):
        return None


def thread_schedstat() -> SchedStat | None:
    """The calling thread's figures, or None where Linux's schedstat is not available."""
    return _read("/proc/thread-self/schedstat")


def process_schedstat(pid: int) -> SchedStat | None:
    """Process `pid`'s figures summed over its threads, or None (gone, or not Linux)."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    stats = [s for s in (_read(f"/proc/{pid}/task/{tid}/schedstat") for tid in tids) if s]
    if not stats:
        return None
    return SchedStat(sum(s.cpu_s for s in stats), sum(s.wait_s for s in stats),
                     sum(s.slices for s in stats))


def machine_cpu_s() -> dict[str, float] | None:
    """Seconds of CPU the whole machine spent per state since boot, summed over its CPUs
    (Linux /proc/stat: `busy` = user, nice, system, irq, softirq; `idle`, `iowait`, and
    `steal`: time a virtual machine's CPUs were ready but the host ran something else),
    or None."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            fields = handle.readline().split()
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(v) / os.sysconf("SC_CLK_TCK") for v in fields[1:9])
    except (OSError, ValueError):
        return None
    return {"busy": user + nice + system + irq + softirq, "idle": idle, "iowait": iowait,
            "steal": steal}


def lower_priority(pids: Iterable[int], nice: int) -> dict[int, int | None]:
    """Set every thread of each process in `pids` to niceness `nice` where it is lower;
    returns each pid's niceness afterwards (None: the process was gone or refused).

    Linux keeps niceness per thread (`setpriority(PRIO_PROCESS, pid)` changes one
    thread), so each thread of /proc/<pid>/task is set; threads created later inherit
    their creator's. Elsewhere the call applies to the whole process.
    """
    if not 0 <= nice <= 19:
        raise ValueError("nice must be between 0 and 19")
    after: dict[int, int | None] = {}
    for pid in pids:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            tids = [pid]
        try:
            for tid in tids:
                if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
            after[pid] = os.getpriority(os.PRIO_PROCESS, pid)
        except OSError:  # gone meanwhile, or not ours
            after[pid] = None
    return after
