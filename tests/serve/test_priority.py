"""The OCR replica's work runs at a lower CPU priority than the other stages (serve/priority.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psutil
import pytest

from docgraph.embedded import EmbeddedService
from models.config import RapidOcrConfig

CHILD = textwrap.dedent(
    """
    import os, threading
    from serve.priority import lower_cpu_priority
    stop = threading.Event()
    before = threading.Thread(target=stop.wait); before.start()  # a thread that exists when it is lowered
    lowered = lower_cpu_priority(7)
    after = threading.Thread(target=stop.wait); after.start()  # a thread made afterwards
    nices = [os.getpriority(os.PRIO_PROCESS, int(t)) for t in os.listdir(f"/proc/{os.getpid()}/task")]
    assert lower_cpu_priority(3) == 0  # never raised again
    stop.set(); before.join(); after.join()
    print(lowered, *nices)
    """
)


def _nices(pid: int) -> list[int]:
    """The nice value of every thread of a process (field 19 of /proc/PID/task/TID/stat)."""
    return [psutil.Process(t.id).nice() for t in psutil.Process(pid).threads()]


def test_every_thread_is_lowered_and_new_threads_take_it() -> None:
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout.split()
    lowered, nices = int(out[0]), [int(n) for n in out[1:]]
    assert lowered >= 2 and len(nices) >= 3 and set(nices) == {7}, out


@pytest.mark.serve
def test_the_ocr_replica_runs_below_the_other_stages(service: EmbeddedService) -> None:
    nice = RapidOcrConfig().nice
    found: dict[str, list[int]] = {}
    for proc in psutil.Process().children(recursive=True):
        line = " ".join(proc.cmdline())
        for role in ("OcrDeployment", "LayoutDeployment", "DocumentIngress"):
            if f"ServeReplica:docgraph:{role}" in line:
                found[role] = _nices(proc.pid)
    assert set(found) == {"OcrDeployment", "LayoutDeployment", "DocumentIngress"}, found
    assert nice > 0 and min(found["OcrDeployment"]) >= nice, found
    # the other replicas run at the default (Ray lowers a thread of its own in every worker: 15)
    assert min(found["LayoutDeployment"]) == min(found["DocumentIngress"]) == 0, found
