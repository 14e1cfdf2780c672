"""A backend whose module cannot be imported (the seeds' missing `openai`): loud at start, visible per job.

A second application on the session's Serve instance, configured with an OCR plugin whose module does not
exist: /readyz names the module and the reason; a job that needs OCR ends with each affected page explained
(within the model deadline), never stuck in queued or running.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from ray import serve

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_sample_pdf
from models.config import PluginOcrConfig
from pipeline.options import Limits
from serve.app import build_app
from serve.args import AppArgs, JobsConfig, SqliteStoreConfig
from tests.jobclient import submit, wait_final

pytestmark = [pytest.mark.faults, pytest.mark.serve]
MISSING = "docgraph_no_such_ocr_backend"


@pytest.fixture(scope="module")
def broken(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    store = SqliteStoreConfig(path=str(tmp_path_factory.mktemp("broken") / "jobs.sqlite3"))
    args = AppArgs(
        ocr=PluginOcrConfig(target=f"{MISSING}:Backend"),
        limits=Limits(model_timeout_s=5),
        jobs=JobsConfig(store=store, lease_s=4, heartbeat_s=0.5),
    )
    try:
        serve.run(build_app(args), name="broken", route_prefix="/broken", blocking=False)
    except RuntimeError as exc:  # Serve reports the failed deployment; its ingress still runs and must say why
        assert "OcrDeployment" in str(exc)
    try:
        with httpx.Client(base_url=f"{service.url}/broken", timeout=60) as client:
            yield client
    finally:
        serve.delete("broken")


def test_readyz_names_the_missing_module(broken: httpx.Client) -> None:
    deadline, body = time.monotonic() + 180, {}
    while time.monotonic() < deadline:
        r = broken.get("/readyz")
        if r.status_code == 503:
            body = r.json()
            ocr = next(c for c in body["components"] if c["name"] == "ocr")
            if MISSING in ocr["detail"]:
                assert not body["ready"] and "No module named" in ocr["detail"]
                return
        time.sleep(1)
    raise AssertionError(f"/readyz never named {MISSING}: {body}")


def test_a_job_needing_the_broken_backend_fails_visibly(broken: httpx.Client) -> None:
    r = submit(broken, make_sample_pdf(), "sample.pdf")  # page 3 of the sample is a scan: it needs OCR
    assert r.status_code == 202, r.text
    status = wait_final(broken, r.json()["id"], timeout_s=120)
    assert status["state"] in ("partially_succeeded", "failed"), status
    scanned = [p for p in status["pages"] if "ocr" in p["steps"]]
    assert scanned, status["pages"]
    for page in scanned:
        assert page["state"] in ("partial", "failed") and page["error"]["step"] == "ocr", page
        assert page["steps"]["ocr"] == "failed"
