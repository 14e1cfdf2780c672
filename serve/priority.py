"""CPU priority of a replica's work below the other stages' (Linux ``nice``), for CPU-heavy model replicas.

On Linux a nice value belongs to a thread, and a new thread takes its creator's: lowering every thread the process
has when the replica starts (before its model makes its thread pools) covers everything it runs afterwards. A
priority can be lowered by anyone, never raised again without privileges: this only ever lowers it.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("docgraph.serve")


def lower_cpu_priority(nice: int) -> int:
    """Set every thread of this process to at least ``nice``; the number of threads lowered."""
    if nice <= 0:
        return 0
    tasks = f"/proc/{os.getpid()}/task"
    if not os.path.isdir(tasks):  # not Linux: the process's priority
        os.setpriority(os.PRIO_PROCESS, 0, max(nice, os.getpriority(os.PRIO_PROCESS, 0)))
        return 1
    lowered = 0
    for tid in os.listdir(tasks):
        try:
            if os.getpriority(os.PRIO_PROCESS, int(tid)) < nice:
                os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                lowered += 1
        except (ProcessLookupError, PermissionError) as exc:  # a thread that ended meanwhile
            log.debug("thread %s keeps its priority: %s", tid, exc)
    return lowered
