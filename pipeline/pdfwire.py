"""The wire between the PyMuPDF worker pool and its worker processes: one message is a pickle (protocol 5) whose
large buffers (a rendered page's pixels) travel out of band, each written to the socket from where it lies and
read into a buffer of its own, instead of being copied into the pickle and out of it again (a 1024-px page is
2.2 MB; copying it in and out cost more of the worker's time than drawing the text layer).

A message is a header, the pickle with the sizes of its buffers (``struct``: buffer count, then each size), then
each buffer. Both ends are this project's own processes over a private socket (``pipeline.pdfprocess``), so
pickle is the format.
"""

from __future__ import annotations

import pickle
import struct
from multiprocessing.connection import Connection
from typing import Any

_COUNT = struct.Struct("<I")
_SIZE = struct.Struct("<Q")


def send(conn: Connection, obj: Any) -> None:
    buffers: list[pickle.PickleBuffer] = []
    data = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    views = [buffer.raw() for buffer in buffers]
    sizes = b"".join(_SIZE.pack(view.nbytes) for view in views)
    conn.send_bytes(_COUNT.pack(len(views)) + sizes + data)
    for view in views:
        conn.send_bytes(view)


def recv(conn: Connection) -> Any:
    head = conn.recv_bytes()
    (count,) = _COUNT.unpack_from(head)
    sizes = [_SIZE.unpack_from(head, _COUNT.size + k * _SIZE.size)[0] for k in range(count)]
    buffers = []
    for size in sizes:
        buffer = bytearray(size)  # writable: an array read from it can be changed in place, as one unpickled can
        if size:
            conn.recv_bytes_into(buffer)
        else:
            conn.recv_bytes()
        buffers.append(buffer)
    start = _COUNT.size + count * _SIZE.size
    return pickle.loads(memoryview(head)[start:], buffers=buffers)  # noqa: S301 - our own child, a private socket
