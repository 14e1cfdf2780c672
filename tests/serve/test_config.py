"""serve_config.yaml is a valid Serve config whose args are valid AppArgs (typos fail here, not at deploy)."""

from __future__ import annotations

import yaml
from ray.serve.schema import ServeDeploySchema

from serve.args import AppArgs
from serve.deployments import LayoutDeployment, OcrDeployment
from tests.conftest import ROOT


def test_serve_config_validates() -> None:
    config = yaml.safe_load((ROOT / "serve_config.yaml").read_text())
    schema = ServeDeploySchema.model_validate(config)
    app = schema.applications[0]
    assert app.import_path == "serve.app:build_app"
    args = AppArgs.model_validate(app.args)
    assert args.layout is not None and args.ocr is not None
    names = {d.name for d in app.deployments}
    assert names == {
        "DocumentIngress",
        LayoutDeployment.get_deployment_options()["name"],
        OcrDeployment.get_deployment_options()["name"],
    }
    assert config["http_options"]["host"] == "127.0.0.1"


def test_unknown_args_are_rejected() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        AppArgs.model_validate({"layuot": {}})


def test_build_app_is_a_typed_builder() -> None:
    """Serve turns `args:` into AppArgs only when the annotation is the class itself, not a string."""
    import inspect

    from serve.app import build_app

    assert inspect.signature(build_app).parameters["args"].annotation is AppArgs


def test_gpu_profile_validates_and_sizes_the_ocr_replica_to_the_engine() -> None:
    """The GPU profile: DeepSeek-OCR on vLLM, its replica's concurrency equal to the engine's max_num_seqs,
    both models on the GPU (the layout model on a fraction of it)."""
    from models.config import DeepSeekVllmConfig

    config = yaml.safe_load((ROOT / "serve_config.gpu.yaml").read_text())
    app = ServeDeploySchema.model_validate(config).applications[0]
    args = AppArgs.model_validate(app.args)
    assert isinstance(args.ocr, DeepSeekVllmConfig) and args.layout is not None
    assert args.layout.device.startswith("cuda")
    deployments = {d.name: d for d in app.deployments}
    ocr = deployments["OcrDeployment"]
    assert ocr.max_ongoing_requests == args.ocr.max_num_seqs
    assert OcrDeployment.get_deployment_options(args.ocr)["max_ongoing_requests"] == args.ocr.max_num_seqs
    raw = {d["name"]: d.get("ray_actor_options", {}) for d in config["applications"][0]["deployments"]}
    gpus = {name: options["num_gpus"] for name, options in raw.items() if "num_gpus" in options}
    assert gpus["OcrDeployment"] + gpus["LayoutDeployment"] <= 1.0 and 0 < gpus["LayoutDeployment"] < 1
    assert args.ocr.gpu_memory_utilization <= gpus["OcrDeployment"]  # vLLM's share fits the replica's share
    assert args.ocr.max_tokens == 8192 and args.ocr.ngram_size == 30 and args.ocr.window_size == 90
