"""The wire between the PyMuPDF worker pool and its worker processes: one message is a pickle (protocol 5) whose
large buffers (a rendered page's pixels) travel out of band, each read into a buffer of its own, instead of being
copied into the pickle and out of it again (a 1024-px page is 2.2 MB; copying it in and out cost more of the
worker's time than drawing the text layer).

Out-of-band buffers go through the link's **slab** where there is one: a shared memory region (a memfd, ``Slab``)
that both ends map, written by the sender and copied out by the receiver before it answers. Through the socket a
2.2 MB page cost 0.55 ms of the worker's CPU and 0.78 ms of the pool's (the socket's buffer is ~200 kB: a dozen
writes, reads and wake-ups); through the slab 0.07 and 0.06 ms. The two ends take turns (the pool sends a
request, the worker answers it; a worker whose call overran is killed, never read again), so one region serves
both directions. A buffer that does not fit what is left of the slab goes through the socket, as it did before.

A message is a header, the pickle with the places of its buffers (``struct``: buffer count, then each one's size
and its offset in the slab, or ``ON_SOCKET``), then each buffer sent on the socket. Both ends are this project's
own processes over a private socket (``pipeline.pdfprocess``), so pickle is the format.
"""

from __future__ import annotations

import mmap
import os
import pickle
import struct
from multiprocessing.connection import Connection
from typing import Any

_COUNT = struct.Struct("<I")
_PLACE = struct.Struct("<QQ")  # size, offset in the slab
ON_SOCKET = 2**64 - 1  # the offset of a buffer sent on the socket after the header
SLAB_BYTES = 8 * 1024 * 1024  # a 144-dpi A4 render (6 MB) fits; pages only the sender touched are resident


class Slab:
    """A shared memory region for one pool–worker link: a memfd mapped by both processes (the pool creates it and
    passes its descriptor to the worker, which maps it by ``Slab.attach``). Nothing names it in the file system;
    it is freed when both ends have closed it."""

    def __init__(self, region: mmap.mmap) -> None:
        self.region = region

    @property
    def size(self) -> int:
        return len(self.region)

    @classmethod
    def create(cls, name: str, size: int = SLAB_BYTES) -> tuple[Slab, int] | None:
        """A new slab, and the descriptor to pass to the other process (the caller closes it once passed); None
        where the platform has no memfd (not Linux): the link then sends every buffer through its socket."""
        if not hasattr(os, "memfd_create"):
            return None
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            os.ftruncate(fd, size)
            return cls(mmap.mmap(fd, size)), fd
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def attach(cls, fd: int, size: int) -> Slab:
        """The slab whose descriptor this process was given (the descriptor is closed: the mapping holds it)."""
        try:
            return cls(mmap.mmap(fd, size))
        finally:
            os.close(fd)

    def close(self) -> None:
        self.region.close()


def send(conn: Connection, obj: Any, slab: Slab | None = None) -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    places: list[tuple[int, int]] = []
    used = 0
    for view in views:
        if slab is not None and view.nbytes and used + view.nbytes <= slab.size:
            with memoryview(slab.region) as region:
                region[used : used + view.nbytes] = view
            places.append((view.nbytes, used))
            used += view.nbytes
        else:
            places.append((view.nbytes, ON_SOCKET))
    head = _COUNT.pack(len(views)) + b"".join(_PLACE.pack(size, offset) for size, offset in places)
    conn.send_bytes(head + data)
    for view, (_, offset) in zip(views, places, strict=True):
        if offset == ON_SOCKET:
            conn.send_bytes(view)


def recv(conn: Connection, slab: Slab | None = None) -> Any:
    head = conn.recv_bytes()
    (count,) = _COUNT.unpack_from(head)
    places = [_PLACE.unpack_from(head, _COUNT.size + k * _PLACE.size) for k in range(count)]
    buffers = []
    for size, offset in places:
        # writable: an array read from it can be changed in place, as one unpickled can
        if offset != ON_SOCKET:
            if slab is None or offset + size > slab.size:
                raise ValueError(f"a buffer of {size} bytes at {offset} is outside this link's slab")
            with memoryview(slab.region) as region, region[offset : offset + size] as part:
                buffer = bytearray(part)  # copied out: the slab is written again by the next message
        else:
            buffer = bytearray(size)
            if size:
                conn.recv_bytes_into(buffer)
            else:
                conn.recv_bytes()
        buffers.append(buffer)
    start = _COUNT.size + count * _PLACE.size
    return pickle.loads(memoryview(head)[start:], buffers=buffers)  # noqa: S301 - our own child, a private socket
