"""The modules a model replica, Serve's HTTP proxy and a batch actor import stay light: importing them must not pull
in the ingress's docling models (torch, transformers). Before ``serve/__init__.py`` imported lazily, every one of those
processes imported ``serve.app`` through the package: the proxy held 908 MB instead of 210, the RapidOCR replica
1,119 MB instead of 482, and a batch actor started ~3.5 s later."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "docling", "serve.app", "serve.ingress")


@pytest.mark.parametrize(
    "module",
    ["serve.deployments", "serve.handles", "serve.httpproxy", "docgraph.batch.worker", "docgraph.batch.servemodels"],
)
def test_a_process_that_is_not_the_ingress_does_not_import_it(module: str) -> None:
    heavy = f"sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r})"
    code = f"import sys, json, {module}; print(json.dumps({heavy}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_package_still_exports_the_app_builder() -> None:
    import serve
    from serve.app import build_app
    from serve.args import AppArgs

    assert serve.build_app is build_app and serve.AppArgs is AppArgs
    with pytest.raises(AttributeError):
        getattr(serve, "not_" + "a_name")  # an unknown name, looked up at run time
