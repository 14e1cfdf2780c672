"""A YOLOv8 detection ONNX exported for one square input, re-shaped for a rectangular one.

ultralytics exports YOLOv8 with a static input (1 × 3 × 1024 × 1024 for the shipped DocLayNet weights) and bakes
into the detection head what depends on it: the anchor points and strides of every grid cell (1 × 2 × A and
1 × A, A = 21,504 cells at strides 8, 16, 32) and the distribution-focal-loss reshapes' cell count. Everything
else is convolutions, 2× resizes and reshapes with -1, which read any size that is a multiple of 32. An A4 page
letterboxed to the square is 29 % padding; to its smallest stride multiple (1024 × 736) it is 1 %, and the model
reads it in ~30 % less time (``bench/full_route.py --rect``). ultralytics' own predictor letterboxes like that for
PyTorch and dynamic models (``rect``); only the static export kept it from doing so here. Opt-in
(``YoloLayoutConfig.rect``): the DocLayNet model was trained on square pages and finds fewer page headers on
rectangles (the config's description has the corpus figures).

``reshaped_model`` rebuilds those tensors for a new input size, and checks first that recomputing them for the
exported size gives the exported tensors bit for bit: a graph laid out in any other way is refused
(``UnsupportedGraph``), never guessed at. ``ShapedSessions`` keeps the sessions of the last few sizes asked for.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

STRIDES = (8, 16, 32)


class UnsupportedGraph(ValueError):
    """The ONNX is not laid out as an ultralytics YOLOv8 detection export with a static square input."""


def anchor_points(rows: int, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """ultralytics' ``make_anchors`` for an input of ``rows`` × ``columns``: the centres of every grid cell,
    (1, 2, A) as x, y in grid units, and each cell's stride, (1, A); cells row by row, strides 8, 16, 32."""
    points, strides = [], []
    for stride in STRIDES:
        h, w = rows // stride, columns // stride
        y, x = np.meshgrid(np.arange(h) + 0.5, np.arange(w) + 0.5, indexing="ij")
        points.append(np.stack([x.ravel(), y.ravel()]))
        strides.append(np.full(h * w, stride))
    return np.concatenate(points, 1)[None].astype(np.float32), np.concatenate(strides)[None].astype(np.float32)


def _input_size(model: onnx.ModelProto) -> tuple[int, int]:
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[0] != 1 or dims[2] <= 0 or dims[3] <= 0 or dims[2] % 32 or dims[3] % 32:
        raise UnsupportedGraph(f"input {dims}: not a static 1 × 3 × H × W with H, W multiples of 32")
    return dims[2], dims[3]


def _replacement(
    init: onnx.TensorProto,
    exported: tuple[np.ndarray, np.ndarray],
    new: tuple[np.ndarray, np.ndarray],
    reshape_shapes: set[str],
) -> tuple[str, np.ndarray] | None:
    """What a head tensor becomes for the new size: ("points" | "strides" | "counts", value); None for others.
    A cell count is rewritten only in the shape a Reshape node is given (``reshape_shapes``: the names of those
    inputs), never in any other integer tensor that happens to hold the same number."""
    value = numpy_helper.to_array(init)
    cells, new_cells = exported[1].shape[1], new[1].shape[1]
    for kind, old, replacement in (("points", exported[0], new[0]), ("strides", exported[1], new[1])):
        if value.dtype == np.float32 and value.shape == old.shape:
            if not np.array_equal(value, old):
                raise UnsupportedGraph(f"{init.name}: shaped like the anchor {kind} but not them")
            return kind, replacement
    if init.name in reshape_shapes and value.dtype == np.int64 and value.ndim == 1 and cells in value.tolist():
        return "counts", np.where(value == cells, new_cells, value)
    return None


def reshaped_model(model: onnx.ModelProto, rows: int, columns: int) -> onnx.ModelProto:
    """A copy of ``model`` that reads a 1 × 3 × ``rows`` × ``columns`` input (multiples of 32)."""
    if rows <= 0 or columns <= 0 or rows % 32 or columns % 32:
        raise ValueError(f"{rows} × {columns}: not multiples of 32")
    exported = anchor_points(*_input_size(model))
    cells = exported[1].shape[1]
    new_points, new_strides = anchor_points(rows, columns)
    new_cells = new_strides.shape[1]
    found = {"points": 0, "strides": 0, "counts": 0}
    out = onnx.ModelProto()
    out.CopyFrom(model)
    reshape_shapes = {n.input[1] for n in out.graph.node if n.op_type == "Reshape" and len(n.input) > 1}
    for i, init in enumerate(out.graph.initializer):
        replaced = _replacement(init, exported, (new_points, new_strides), reshape_shapes)
        if replaced is not None:
            kind, value = replaced
            found[kind] += 1
            out.graph.initializer[i].CopyFrom(numpy_helper.from_array(value, init.name))
    if not found["points"] or found["strides"] != 1 or not found["counts"]:
        raise UnsupportedGraph(f"the detection head's shape tensors were not all found: {found}")
    if any(n.op_type == "Constant" for n in out.graph.node):
        raise UnsupportedGraph("Constant nodes (a shape may hide there): not an ultralytics export read here")
    dims = out.graph.input[0].type.tensor_type.shape.dim
    dims[2].dim_value, dims[3].dim_value = rows, columns
    for output in out.graph.output:
        for dim in output.type.tensor_type.shape.dim:
            if dim.dim_value == cells:
                dim.dim_value = new_cells
    del out.graph.value_info[:]  # shapes inferred for the exported size
    return out


class ShapedSessions:
    """Sessions of one YOLOv8 export (ONNX Runtime's or OpenVINO's, as ``make`` builds them), one per input size,
    the ``keep`` most recently used kept (the exported size's own session, ``exported_session``, always: the model
    already holds it, it is never built twice). ``make(model_bytes)`` builds a session (the caller's runtime and
    options), outside the lock: a caller of a size already kept never waits for another size's build (~0.2-0.5 s).
    Thread-safe; two first callers of one size may each build it, the first one built is kept."""

    def __init__(
        self, model: onnx.ModelProto, make: Callable[[bytes], Any], *, exported_session: Any, keep: int = 4
    ) -> None:
        self._model, self._make, self._keep = model, make, keep
        self._exported = _input_size(model)
        self._exported_session = exported_session
        self._sessions: OrderedDict[tuple[int, int], Any] = OrderedDict()
        self._lock = threading.Lock()

    def session(self, rows: int, columns: int) -> Any:
        key = (rows, columns)
        if key == self._exported:
            return self._exported_session
        with self._lock:
            if key in self._sessions:
                self._sessions.move_to_end(key)
                return self._sessions[key]
        built = self._make(reshaped_model(self._model, rows, columns).SerializeToString())
        with self._lock:
            session = self._sessions.setdefault(key, built)
            self._sessions.move_to_end(key)
            while len(self._sessions) > self._keep:
                self._sessions.popitem(last=False)
            return session

    @property
    def sizes(self) -> list[tuple[int, int]]:
        """The sizes whose sessions are kept, least recently used first (the exported size's, the model's own
        session, is not listed: it is never dropped)."""
        with self._lock:
            return list(self._sessions)
