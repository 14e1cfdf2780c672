"""Ray Serve wiring: the only package that imports ray.serve and fastapi."""

from serve.app import build_app
from serve.args import AppArgs

__all__ = ["AppArgs", "build_app"]
