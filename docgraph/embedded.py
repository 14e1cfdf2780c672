"""The embedded default: a local Ray instance (loopback only) running the docgraph Serve application."""

from __future__ import annotations

import os
import socket
import time
from types import TracebackType
from typing import Any

import httpx

from serve.args import AppArgs
from serve.httpproxy import CALLBACK, CALLBACK_ENV

APP_NAME = "docgraph"
# Serve's controller wakes every 0.1 s by default: 3 % of a core with the service idle, ~4 ms of every page's CPU on
# a 2-core node at full load. Every 0.5 s it takes 1 %; autoscaling (30 s windows) and health checks (10 s) do not
# notice. The image, the KubeRay manifest and the VM config set the same (deploy/).
CONTROL_LOOP_ENV, CONTROL_LOOP_INTERVAL_S = "RAY_SERVE_CONTROL_LOOP_INTERVAL_S", "0.5"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout_s: float) -> None:
    """Poll ``url``/readyz until it answers 200; raise ``TimeoutError`` with its last answer otherwise."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{url}/readyz", timeout=30)
            if r.status_code == 200:
                return
            last = r.text
        except httpx.HTTPError as exc:
            last = str(exc)
        time.sleep(0.5)
    raise TimeoutError(f"docgraph at {url} did not become ready in {timeout_s:g} s: {last}")


def deploy_config(config: dict[str, Any]) -> None:
    """Deploy a whole Serve config (as ``serve run config.yaml`` does) on the Ray this process is connected
    to, without waiting: per-deployment options from the config apply, unlike ``serve.run(build_app(...))``.
    Uses Serve's private start/deploy calls, the ones its CLI uses; kept in this one place."""
    from ray.serve._private import api as serve_api
    from ray.serve.schema import ServeDeploySchema

    schema = ServeDeploySchema.model_validate(config)
    client = serve_api.serve_start(http_options=schema.http_options.model_dump(), proxy_location=schema.proxy_location)
    client.deploy_apps(schema, _blocking=False)


class EmbeddedService:
    """Start local Ray + the app on 127.0.0.1, wait until /readyz says ready, stop on exit."""

    def __init__(self, args: AppArgs | None = None, *, port: int | None = None, num_cpus: int = 8) -> None:
        self.args = args or AppArgs()
        self.port = port or free_port()
        self.num_cpus = num_cpus

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, ready_timeout_s: float = 300.0) -> EmbeddedService:
        # Keep every Ray port on loopback (../shared/ENVIRONMENT.md): must be set before Ray starts.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        # Serve's HTTP proxy inherits this from the Ray started here: request-head deadline, JSON 400s.
        os.environ.setdefault(CALLBACK_ENV, CALLBACK)
        os.environ.setdefault(CONTROL_LOOP_ENV, CONTROL_LOOP_INTERVAL_S)
        import ray
        from ray import serve

        from serve.app import build_app

        # num_cpus is logical: model replicas mostly wait on one another, more slots than cores is fine.
        ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False)
        serve.start(http_options={"host": "127.0.0.1", "port": self.port})
        serve.run(build_app(self.args), name=APP_NAME, route_prefix="/", blocking=False)
        self.wait_ready(ready_timeout_s)
        return self

    def wait_ready(self, timeout_s: float) -> None:
        wait_ready(self.url, timeout_s)

    def stop(self) -> None:
        import ray
        from ray import serve

        if ray.is_initialized():
            serve.shutdown()
            ray.shutdown()

    def __enter__(self) -> EmbeddedService:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
