"""Shared fixtures: the corpus, the real Serve application (one per session), the in-process converter."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from docgraph.embedded import EmbeddedService, wait_ready
from docgraph.samples import make_sample_pdf
from pipeline.options import Limits
from serve.args import AppArgs, DoclingApiConfig, JobsConfig, SqliteStoreConfig
from serve.httpproxy import HEAD_TIMEOUT_ENV

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("DOCGRAPH_CORPUS", ROOT.parent / "shared" / "corpus" / "public"))
# The test service gets a small upload limit so that "too large" can be tested without sending 100 MiB.
TEST_HEAD_TIMEOUT_S = 3.0
TEST_LIMITS = Limits(max_bytes=8 * 1024 * 1024, document_timeout_s=600, upload_idle_timeout_s=3, upload_grace_s=2)


def jobs_config_for_tests(store_dir: Path) -> JobsConfig:
    """Short leases so that a dead replica's jobs are resumed within seconds in the fault tests."""
    return JobsConfig(store=SqliteStoreConfig(path=str(store_dir / "jobs.sqlite3")), lease_s=4, heartbeat_s=0.5)


def corpus_manifest() -> list[dict[str, Any]]:
    manifest = CORPUS / "MANIFEST.json"
    if not manifest.is_file():
        return []
    files: list[dict[str, Any]] = json.loads(manifest.read_text())["files"]
    return files


@pytest.fixture(scope="session")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.json").is_file():
        pytest.skip(f"corpus not found at {CORPUS} (set DOCGRAPH_CORPUS, or clone beside ../shared)")
    return CORPUS


@pytest.fixture(scope="session")
def sample_pdf() -> bytes:
    return make_sample_pdf()


_RUNNING: list[EmbeddedService] = []


def stop_session_services() -> None:
    """Stop the session's Ray + app early (the autoscaling test, which runs last, needs the machine)."""
    while _RUNNING:
        _RUNNING.pop().stop()


# what makes a test slow: the real Serve app, the corpus, a real model, vLLM, faults, hostile fuzzing, a browser, a
# simulated cluster, image builds. The fast tier (the inner loop, README) is every other test: -m "not slow".
SLOW_MARKERS = ("serve", "corpus", "models", "vllm", "faults", "fuzz", "browser", "autoscaling", "image")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``autoscaling`` run last: they stop the session's Ray to start a cluster of their own. A test
    with any of ``SLOW_MARKERS`` is also marked ``slow``."""
    items.sort(key=lambda item: item.get_closest_marker("autoscaling") is not None)
    for item in items:
        if any(item.get_closest_marker(name) for name in SLOW_MARKERS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedService]:
    """The real application on a local Ray instance, HTTP on 127.0.0.1."""
    jobs = jobs_config_for_tests(tmp_path_factory.mktemp("jobstore"))
    os.environ[HEAD_TIMEOUT_ENV] = str(TEST_HEAD_TIMEOUT_S)  # read by Serve's HTTP proxy (serve/httpproxy.py)
    # /readyz gives each model 1 s (5 by default): a health call queued behind OCR work then outlasts it, which
    # tests/serve/test_jobs.py's readiness-under-load test needs (settings are read in the replicas, which inherit it)
    os.environ["DOCGRAPH_READY_TIMEOUT_S"] = "1"
    svc = EmbeddedService(AppArgs(limits=TEST_LIMITS, jobs=jobs), num_cpus=8)
    svc.start(ready_timeout_s=300)
    _RUNNING.append(svc)
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(scope="session")
def client(service: EmbeddedService) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=httpx.Timeout(600.0, connect=10.0)) as c:
        yield c


@pytest.fixture(scope="session")
def local_converter() -> Iterator[Any]:
    from docgraph.local import LocalConverter

    converter = LocalConverter(limits=TEST_LIMITS)
    yield converter
    converter.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed (apt-get install redis-server; .ci/run installs it)")
    port, workdir = _free_port(), tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(  # loopback only, no persistence: a throwaway server for this session
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def ingress_only_app(
    service: EmbeddedService,
    name: str,
    jobs: JobsConfig,
    *,
    env: dict[str, str] | None = None,
    docling: DoclingApiConfig | None = None,
) -> Iterator[httpx.Client]:
    """Another application on the session's Serve instance: the ingress alone (text-layer path, no model
    replicas), with its own jobs config and, optionally, environment variables in its replica."""
    from ray import serve

    from serve.app import INGRESS_OPTIONS
    from serve.ingress import DocumentIngress

    actor = dict(INGRESS_OPTIONS["ray_actor_options"])
    if env:
        actor["runtime_env"] = {"env_vars": env}
    options = {**INGRESS_OPTIONS, "ray_actor_options": actor}
    app = serve.deployment(**options)(DocumentIngress).bind(
        None, None, AppArgs(layout=None, ocr=None, jobs=jobs, docling=docling or DoclingApiConfig())
    )
    serve.run(app, name=name, route_prefix=f"/{name}", blocking=False)
    try:
        wait_ready(f"{service.url}/{name}", 120)
        with httpx.Client(base_url=f"{service.url}/{name}", timeout=120) as client:
            yield client
    finally:
        serve.delete(name)
