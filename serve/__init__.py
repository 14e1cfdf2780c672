"""Ray Serve wiring: the only package that imports ray.serve and fastapi.

Nothing is imported here eagerly: every replica process and every batch actor imports this package on its way to
``serve.deployments`` or ``serve.handles``, and ``serve.app`` pulls in the ingress and the docling models (torch,
transformers: ~3 s and ~300 MB) that only the ingress needs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serve.app import build_app
    from serve.args import AppArgs

__all__ = ["AppArgs", "build_app"]


def __getattr__(name: str) -> Any:
    if name == "build_app":
        from serve.app import build_app

        return build_app
    if name == "AppArgs":
        from serve.args import AppArgs

        return AppArgs
    raise AttributeError(name)
