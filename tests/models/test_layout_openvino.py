"""The layout model's default CPU runtime, OpenVINO (models/layout_openvino.py), against ONNX Runtime on the same
shipped weights: the regions it finds, its raw output in f32, calls from two threads at once, and the rectangular
letterbox's re-shaped graphs (generated pages, and corpus pages when ../shared is there)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

import numpy as np
import pytest
from pydantic import ValidationError

from models import YoloLayoutConfig, build_layout_model, resolve_weights
from models.config import CpuPrecision, LayoutEngine, LayoutRuntime
from models.layout_openvino import OpenVinoSession, native_bf16, resolve_precision
from models.layout_yolo import YoloLayoutModel
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult
from tests.models.layoutpages import layout_pages

pytestmark = pytest.mark.models
MIN_AGREEMENT = 0.98  # regions found by both (same label, IoU >= 0.9), as the GPU engine is held to
MISSES_ALLOWED = 2  # at least: without the corpus the pages hold ~30 regions, where one region is 3 %


@pytest.fixture(scope="module")
def pages() -> list[PageImage]:
    return layout_pages()


def _model(runtime: LayoutRuntime, **settings: object) -> YoloLayoutModel:
    model = build_layout_model(YoloLayoutConfig(runtime=runtime, **settings))
    assert isinstance(model, YoloLayoutModel)
    return model


@pytest.fixture(scope="module")
def onnxruntime_results(pages: list[PageImage]) -> list[LayoutResult]:
    return _model(LayoutRuntime.ONNXRUNTIME).predict(pages)


def _assert_agree(ours: list[LayoutResult], reference: list[LayoutResult]) -> None:
    """Each side's regions found in the other's (same label, IoU >= 0.9): all but 2 %, or but two."""
    found, count = LayoutResult.matched(ours, reference)
    back, theirs = LayoutResult.matched(reference, ours)
    assert theirs >= 20, theirs
    for hits, total in ((found, count), (back, theirs)):
        assert total - hits <= max(MISSES_ALLOWED, (1 - MIN_AGREEMENT) * total), (found, count, back, theirs)


def test_the_default_runtime_finds_the_regions_onnx_runtime_finds(
    pages: list[PageImage], onnxruntime_results: list[LayoutResult]
) -> None:
    """OpenVINO in the precision the machine computes fastest (bf16 where the CPU has it natively)."""
    model = build_layout_model(YoloLayoutConfig())
    assert isinstance(model, YoloLayoutModel) and model.config.runtime is LayoutRuntime.OPENVINO
    _assert_agree(model.predict(pages), onnxruntime_results)


def test_the_model_name_says_the_runtime_and_its_precision() -> None:
    model = _model(LayoutRuntime.OPENVINO, cpu_precision=CpuPrecision.F32)
    assert model.name.endswith(f"+openvino-{version('openvino')}-f32")
    assert _model(LayoutRuntime.ONNXRUNTIME).name.endswith(f"+onnxruntime-{version('onnxruntime')}")


def test_the_precision_said_is_the_one_the_compiled_model_runs() -> None:
    """'auto' asks for bf16 only where OpenVINO lists it among the CPU's capabilities; what the session says it
    runs is read back from the compiled model (a hint OpenVINO cannot honour runs f32), and so are its streams."""
    weights = str(resolve_weights(YoloLayoutConfig().weights))
    assert resolve_precision(CpuPrecision.AUTO) == ("bf16" if native_bf16() else "f32")
    f32 = OpenVinoSession(weights, threads=1, precision=CpuPrecision.F32)
    assert (f32.precision, f32.streams, f32.threads) == ("f32", 2, 2)  # two calls at once, one thread each
    auto = OpenVinoSession(weights, threads=0, precision=CpuPrecision.AUTO)
    assert auto.precision == resolve_precision(CpuPrecision.AUTO) and auto.streams == 1


def test_openvino_is_refused_for_a_device_other_than_the_cpu() -> None:
    with pytest.raises(ValidationError, match="CPU only"):
        YoloLayoutConfig(device="cuda:0", engine=LayoutEngine.ULTRALYTICS)
    onnx_on_cuda = YoloLayoutConfig(device="cuda:0", engine=LayoutEngine.ULTRALYTICS, runtime=LayoutRuntime.ONNXRUNTIME)
    assert not onnx_on_cuda.batched  # ultralytics' ONNX backend, which serves any device
    assert YoloLayoutConfig(device="cuda:0").batched  # the GPU default never reaches the runtime


def test_in_f32_the_raw_output_is_onnx_runtimes(pages: list[PageImage]) -> None:
    """The same network, the same arithmetic: every box coordinate and class score within 0.25 (pixels of the
    1024 input, or score units) of ONNX Runtime's, on a real page."""
    import onnxruntime as ort

    weights = str(resolve_weights(YoloLayoutConfig().weights))
    ours = OpenVinoSession(weights, threads=1, precision=CpuPrecision.F32)
    theirs = ort.InferenceSession(weights, providers=["CPUExecutionProvider"])
    square = np.full((1024, 1024, 3), 114, np.uint8)
    page = pages[0].pixels[:1024, :1024]
    square[: page.shape[0], : page.shape[1]] = page
    batch = (square.transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32)
    (a,) = ours.run(None, {ours.input_name: batch})
    (b,) = theirs.run(None, {theirs.get_inputs()[0].name: batch})
    assert a.shape == b.shape == (1, 15, 21504)
    assert float(np.abs(a - b).max()) < 0.25


def test_calls_from_two_threads_at_once_each_get_their_pages_answer(pages: list[PageImage]) -> None:
    """The deployment runs two batches at once: each call takes an infer request of its own."""
    model = _model(LayoutRuntime.OPENVINO)
    alone = [model.predict([page])[0] for page in pages]
    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda page: model.predict([page])[0], pages * 2))
    assert [r.model_dump() for r in together] == [r.model_dump() for r in alone * 2]
    assert len(model._session._free) == 2  # two calls did run at once: each needed a request of its own


def test_the_rectangular_letterbox_runs_its_reshaped_graphs_in_openvino(pages: list[PageImage]) -> None:
    """``rect``: the re-shaped ONNX of each size (models/onnx_shapes.py) compiled by OpenVINO finds what ONNX
    Runtime finds with the same graphs."""
    ours = _model(LayoutRuntime.OPENVINO, rect=True)
    _assert_agree(ours.predict(pages), _model(LayoutRuntime.ONNXRUNTIME, rect=True).predict(pages))
    assert ours._shaped.sizes  # a re-shaped graph read them, not the square's
