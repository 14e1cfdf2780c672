"""One slot of the PyMuPDF worker pool: its child process (``python -m pipeline.pdfworker``), started on
demand and replaced when killed, the private socket to it, and the documents it has open."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections import OrderedDict
from multiprocessing.connection import Connection
from typing import Any

from pipeline import pdfwire

START_TIMEOUT_S = 60.0  # a new worker imports PyMuPDF and passes its self-test within this


class WorkerProcess:
    """One worker slot: its process (started on demand, replaced when killed) and what it has open."""

    def __init__(self, slot: int) -> None:
        self.slot = slot
        self.proc: subprocess.Popen[bytes] | None = None
        self.conn: Connection | None = None
        self.opened: OrderedDict[str, None] = OrderedDict()
        self.version: str | None = None
        self.slab: pdfwire.Slab | None = None  # shared memory for the page images it sends (pipeline.pdfwire)

    @property
    def alive(self) -> bool:
        """Running and past its self-test."""
        return self.proc is not None and self.version is not None and self.proc.poll() is None

    def start(self) -> None:
        parent, child = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        passed = [child.fileno()]  # the descriptors the worker inherits
        slab_args: list[str] = []  # the slab's descriptor and size, where there is one
        try:
            created = pdfwire.Slab.create(f"docgraph-pdfworker-{self.slot}")
            if created is not None:
                self.slab, slab_fd = created
                passed.append(slab_fd)
                slab_args = [str(slab_fd), str(self.slab.size)]
            try:
                self.proc = subprocess.Popen(  # noqa: S603 - this interpreter, a module of this package
                    [sys.executable, "-m", "pipeline.pdfworker", str(child.fileno()), *slab_args],
                    pass_fds=tuple(passed),
                    stdin=subprocess.DEVNULL,
                    env=env,
                )
            finally:
                for fd in passed[1:]:
                    os.close(fd)
                child.close()
            self.conn = Connection(parent.detach())
            if not self.conn.poll(START_TIMEOUT_S):
                raise RuntimeError(f"PyMuPDF worker {self.slot} did not start within {START_TIMEOUT_S:g} s")
            state, detail = pdfwire.recv(self.conn, self.slab)
            if state != "ready":
                raise RuntimeError(f"PyMuPDF worker {self.slot} failed its self-test: {detail}")
        except BaseException as exc:
            parent.close()
            child.close()
            self.stop()  # the process reaped, the socket and the slab closed
            if isinstance(exc, (EOFError, OSError)):
                raise RuntimeError(f"PyMuPDF worker {self.slot} exited while starting ({exc!r})") from exc
            raise
        self.version = str(detail)

    def stop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.slab is not None:
            # after the process is gone: nothing writes it any more (a pool thread still copying out of it at
            # shutdown keeps the mapping alive until it is done)
            with contextlib.suppress(BufferError):
                self.slab.close()
        self.proc, self.conn, self.version, self.slab = None, None, None, None
        self.opened.clear()

    def rss_bytes(self) -> int:
        """The process's resident memory (0 when it is not running)."""
        if self.proc is None:
            return 0
        try:
            with open(f"/proc/{self.proc.pid}/statm") as statm:
                return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            return 0

    def roundtrip(self, request: tuple[object, ...], deadline: float) -> tuple[bool, Any]:
        """Send one request and wait for its answer until ``deadline``; ``TimeoutError`` past it."""
        conn, slab = self.conn, self.slab  # read once: a shutdown may stop the slot under a long call
        assert conn is not None
        try:
            pdfwire.send(conn, request, slab)
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError
            answer: tuple[bool, Any] = pdfwire.recv(conn, slab)
        except (ValueError, BufferError) as exc:  # the slab closed under the call (shutdown): as a lost link
            raise OSError(f"the link to PyMuPDF worker {self.slot} was closed: {exc}") from exc
        return answer
