"""The layout model's ONNX weights run by OpenVINO on the CPU, behind ONNX Runtime's ``run`` (ADR 0013).

OpenVINO reads the shipped ONNX as it is (its ONNX frontend: no conversion step, no files written) and, where the
CPU computes bf16 (OpenVINO lists BF16 among its capabilities: AVX512_BF16, AMX, AVX2-VNNI-2), runs it in bf16: on
this project's 2-core AMD EPYC the model reads a page 1.7-1.9x as fast as in ONNX Runtime's f32, with 99.5-99.9 % of
its regions the same (same label, IoU >= 0.9) on corpus pages (``bench/layout_runtime.py``, ADR 0013;
tests/models/test_layout_openvino.py holds it to >= 98 %). The precision a model runs in is read back from the
compiled model (OpenVINO runs f32 where a bf16 hint cannot be honoured), and the model's name says it.

Concurrency: the layout deployment runs two calls at once (two Serve batches). OpenVINO's CPU plugin runs one
inference per *stream*; the model is compiled with ``streams`` streams of ``threads`` threads each, and every call
takes an infer request of its own from a free list (an infer request is not thread-safe; the compiled model is).
``infer`` releases the GIL. Threads are not pinned to cores: the cores are shared with the PyMuPDF workers.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import version
from typing import Any

import numpy as np

from models.config import LAYOUT_CONCURRENT_BATCHES as CONCURRENT_CALLS
from models.config import CpuPrecision


@functools.cache
def native_bf16() -> bool:
    """Whether this machine's CPU computes bf16 itself (OpenVINO lists it among the CPU's capabilities). Asked once
    a process: every session (``rect`` compiles one per input size) would otherwise make an OpenVINO core of its
    own just to ask."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def resolve_precision(precision: CpuPrecision) -> str:
    """OpenVINO's ``INFERENCE_PRECISION_HINT`` asked for ``precision``: 'auto' is bf16 where the CPU has it."""
    if precision is CpuPrecision.AUTO:
        return "bf16" if native_bf16() else "f32"
    return precision.value


class OpenVinoSession:
    """An ONNX model compiled by OpenVINO for the CPU; ``run`` as ONNX Runtime's ``InferenceSession.run``, and
    safe to call from several threads at once (each takes an infer request of its own)."""

    def __init__(self, model: str | bytes, *, threads: int, precision: CpuPrecision) -> None:
        """``model``: an .onnx path or its bytes. ``threads`` per call; 0: one call at a time on every core."""
        import openvino as ov

        core = ov.Core()
        streams = 1 if threads == 0 else CONCURRENT_CALLS
        config: dict[str, Any] = {
            "NUM_STREAMS": streams,
            "INFERENCE_NUM_THREADS": threads * streams,  # 0: OpenVINO's default, every core
            "INFERENCE_PRECISION_HINT": resolve_precision(precision),
            "ENABLE_CPU_PINNING": False,  # the cores are shared with the PyMuPDF workers and the ingress
        }
        self._compiled = core.compile_model(core.read_model(model), "CPU", config)
        self._input = self._compiled.inputs[0].get_any_name()
        self._free: list[Any] = []
        self._lock = threading.Lock()
        # what it honoured, as OpenVINO names the element type ("bf16", "f32")
        self.precision: str = self._compiled.get_property("INFERENCE_PRECISION_HINT").get_type_name()
        self.streams = int(self._compiled.get_property("NUM_STREAMS"))
        self.threads = int(self._compiled.get_property("INFERENCE_NUM_THREADS"))
        self.runtime = f"openvino-{version('openvino')}-{self.precision}"

    @property
    def input_name(self) -> str:
        return str(self._input)

    def run(self, output_names: list[str] | None, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The model's first output for ``feed`` (its one input), as ``[array]``; ``output_names`` is ignored
        (the YOLO export has one output)."""
        with self._lock:
            request = self._free.pop() if self._free else self._compiled.create_infer_request()
        try:
            # the input is the caller's fresh array (read in place); the output is copied out of the request's
            # buffer, which its next call writes again
            result = request.infer({self._input: feed[self._input]}, share_inputs=True, share_outputs=False)
            output: np.ndarray = result[0]
        finally:
            with self._lock:
                self._free.append(request)
        return [output]
