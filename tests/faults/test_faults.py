"""Faults on the real service: replicas killed through Ray while jobs run. Nothing may end stuck or unexplained.

The session service runs with 4 s job leases (tests/conftest.py), so a dead ingress's jobs are resumed quickly.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import ray

from docgraph.embedded import EmbeddedService, wait_ready
from docgraph.samples import make_text_pdf
from tests.jobclient import submit, wait_final

pytestmark = [pytest.mark.faults, pytest.mark.serve]


def kill_replica(deployment: str, app: str = "docgraph") -> str:
    """Kill one running replica of ``deployment`` (as a crash would: no restart of that actor, no goodbye)."""
    for entry in ray.util.list_named_actors(all_namespaces=True):
        name = entry["name"]
        if name.startswith(f"SERVE_REPLICA::{app}#") and f"#{deployment}#" in name:
            ray.kill(ray.get_actor(name, namespace=entry["namespace"]), no_restart=True)
            return str(name)
    raise AssertionError(f"no running replica of {deployment}")


def test_killing_the_layout_replica_while_20_jobs_run(service: EmbeddedService, client: httpx.Client) -> None:
    # 200 pages (~7 s of layout on 2 cores): the kill lands ~0.6 s in, with calls in flight on a faster CPU too
    ids = [submit(client, make_text_pdf(10, paragraphs=2), f"doc{n}.pdf").json()["id"] for n in range(20)]
    deadline = time.monotonic() + 60
    while sum(client.get(f"/v1/jobs/{i}").json()["pages_done"] for i in ids[:4]) < 2:
        assert time.monotonic() < deadline, "no job made progress"
        time.sleep(0.1)
    kill_replica("LayoutDeployment")
    with ThreadPoolExecutor(8) as pool:
        finals = list(pool.map(lambda i: wait_final(client, i, timeout_s=300), ids))
    for status in finals:
        assert status["state"] in ("succeeded", "partially_succeeded"), status
        for page in status["pages"]:
            assert page["state"] in ("ok", "partial"), page
            if page["state"] != "ok":
                assert page["error"] and page["error"]["message"], page  # every affected page says why
    retried = [p for s in finals for p in s["pages"] if p["attempts"].get("layout", 1) > 1]
    explained = [p for s in finals for p in s["pages"] if p["state"] == "partial"]
    assert retried or explained, "the kill hit no call in flight: the test proved nothing"
    wait_ready(service.url, 120)


def test_killing_the_ingress_mid_job(service: EmbeddedService, client: httpx.Client) -> None:
    pages = 100  # ~4 s of layout: the kill lands while it runs, on a faster CPU too
    job_id = submit(client, make_text_pdf(pages, paragraphs=2)).json()["id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/jobs/{job_id}").json()["state"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kill_replica("DocumentIngress")
    status = wait_final(client, job_id, timeout_s=300, tolerate_errors=True)  # read from the new replica
    assert status["state"] == "succeeded", (status["state"], status["error"], status["attempts"])
    assert status["attempts"] == 2, "the new replica's watchdog resumed it"
    assert status["pages_done"] == pages
    wait_ready(service.url, 120)
    assert client.get(f"/v1/jobs/{job_id}/result").status_code == 200


def test_a_docling_task_survives_the_ingress_being_killed(service: EmbeddedService, client: httpx.Client) -> None:
    """docling-serve loses async task state on a restart; here a task is a job in the store: the new replica's
    watchdog resumes it and any replica answers the docling task routes for it."""
    from docling.datamodel.service.responses import ConvertDocumentResponse

    files = {"files": ("long.pdf", make_text_pdf(60), "application/pdf")}
    task_id = client.post("/v1/convert/file/async", files=files).json()["task_id"]
    deadline = time.monotonic() + 60
    while client.get(f"/v1/status/poll/{task_id}").json()["task_status"] != "started":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    kill_replica("DocumentIngress")
    deadline, status = time.monotonic() + 300, None
    while time.monotonic() < deadline:
        try:
            status = client.get(f"/v1/status/poll/{task_id}", params={"wait": 5}).json()
            if status["task_status"] in ("success", "failure"):
                break
        except (httpx.HTTPError, ValueError):
            pass  # the proxy has no ingress for a moment
        time.sleep(0.5)
    assert status is not None and status["task_status"] == "success", status
    wait_ready(service.url, 120)
    result = ConvertDocumentResponse.model_validate(client.get(f"/v1/result/{task_id}").json())
    assert result.status.value == "success" and "Section 60" in (result.document.md_content or "")
    assert client.get(f"/v1/jobs/{task_id}").json()["attempts"] == 2, "resumed by the new replica"
