"""``build_app``: the typed application builder (``import_path: serve.app:build_app``).

The only place where deployment options are set and deployments are bound. Options here are defaults;
serve_config.yaml's ``deployments:`` section overrides them per deployment (replicas, resources, scaling).
"""

# No `from __future__ import annotations`: Serve reads build_app's annotation object to turn the config's
# `args:` dict into AppArgs (a string annotation makes it pass the raw dict).

from typing import Any

from ray import serve
from ray.serve import Application

from serve.args import AppArgs
from serve.deployments import LayoutDeployment, OcrDeployment
from serve.ingress import DocumentIngress
from serve.names import INGRESS_DEPLOYMENT

INGRESS_OPTIONS: dict[str, Any] = {
    "name": INGRESS_DEPLOYMENT,
    "max_ongoing_requests": 64,  # requests mostly wait on model calls: many may be in flight at once
    "ray_actor_options": {"num_cpus": 0.25},
    "health_check_period_s": 10,
}


def build_app(args: AppArgs) -> Application:
    layout = (
        serve.deployment(**LayoutDeployment.get_deployment_options())(LayoutDeployment).bind(
            args.layout, args.layout_batch
        )
        if args.layout is not None
        else None
    )
    ocr = (
        serve.deployment(**OcrDeployment.get_deployment_options(args.ocr))(OcrDeployment).bind(args.ocr)
        if args.ocr is not None
        else None
    )
    return serve.deployment(**INGRESS_OPTIONS)(DocumentIngress).bind(layout, ocr, args)
