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
    assert names == {"DocumentIngress", LayoutDeployment.get_deployment_options()["name"],
                     OcrDeployment.get_deployment_options()["name"]}
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
