"""API-key auth, switched on the way production does it (DOCGRAPH_API_KEY in the ingress's environment).

A third application on the session's Serve instance: the ingress alone (no model deployments: the text-layer
path), its replica started with the key in its runtime_env.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from serve.args import JobsConfig, SqliteStoreConfig
from serve.ingress import app
from tests.conftest import ingress_only_app
from tests.jobclient import submit, wait_final

pytestmark = pytest.mark.serve
KEY = "test-key-0123456789abcdef"
WRONG: tuple[dict[str, str], ...] = (
    {},
    {"X-API-Key": "wrong"},
    {"Authorization": "Bearer wrong"},
    {"Authorization": KEY},
)


def v1_routes() -> list[tuple[str, str]]:
    """(method, path) of every /v1 route in the app's route table (a new route is covered without a word
    here), path parameters filled with a well-formed id."""
    return sorted(
        (method, re.sub(r"\{[^}]+\}", "A" * 32, route.path))
        for route in app.routes
        if isinstance(route, APIRoute) and (route.path.startswith("/v1/") or route.path == "/process")
        for method in route.methods
    )


@pytest.fixture(scope="module")
def secured(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    store = SqliteStoreConfig(path=str(tmp_path_factory.mktemp("secured") / "jobs.sqlite3"))
    with ingress_only_app(service, "secured", JobsConfig(store=store), env={"DOCGRAPH_API_KEY": KEY}) as client:
        yield client


def test_probes_are_open_but_every_v1_route_needs_the_key(secured: httpx.Client) -> None:
    for probe in ("/healthz", "/readyz", "/health", "/livez"):  # docgraph's and docling-serve's probes
        assert secured.get(probe).status_code == 200, probe
    routes = v1_routes()
    assert {("POST", "/v1/convert"), ("GET", "/v1/schema"), ("DELETE", "/v1/jobs/" + "A" * 32)} <= set(routes)
    assert {("POST", "/v1/convert/file"), ("GET", "/v1/result/" + "A" * 32), ("PUT", "/process")} <= set(routes)
    for method, path in routes:
        for headers in WRONG:
            r = secured.request(method, path, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "unauthorized", (method, path, headers, r.text)
    pdf = make_text_pdf(1)
    for headers in WRONG:
        r = secured.post("/v1/convert", headers=headers, files={"file": ("a.pdf", pdf, "application/pdf")})
        assert r.status_code == 401 and r.json()["code"] == "unauthorized", (headers, r.text)
    for headers in ({"X-API-Key": KEY}, {"Authorization": f"Bearer {KEY}"}):
        r = secured.post("/v1/convert", headers=headers, files={"file": ("a.pdf", pdf, "application/pdf")})
        assert r.status_code == 200, r.text
        assert secured.get("/v1/schema", headers=headers).json()["title"] == "DocumentGraph"


def test_jobs_need_the_key_and_ids_are_unguessable(secured: httpx.Client) -> None:
    assert submit(secured, make_text_pdf(1)).status_code == 401
    secured.headers["X-API-Key"] = KEY
    ids = {submit(secured, make_text_pdf(1)).json()["id"] for _ in range(20)}
    assert len(ids) == 20 and all(len(i) == 32 for i in ids)  # 24 random bytes each, URL-safe
    for job_id in ids:
        assert wait_final(secured, job_id)["state"] == "succeeded"


def test_the_docling_status_websocket_needs_the_key_in_a_header(secured: httpx.Client) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    url = str(secured.base_url).replace("http://", "ws://").rstrip("/") + "/v1/status/ws/" + "A" * 32
    for headers in ({}, {"X-Api-Key": "wrong"}):
        with pytest.raises(InvalidStatus) as refused, connect(url, additional_headers=headers, open_timeout=10):
            pass
        assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus), connect(f"{url}?api_key={KEY}", open_timeout=10):
        pass  # never from the URL (access logs keep URLs)
    with connect(url, additional_headers={"X-Api-Key": KEY}, open_timeout=10) as ws:
        assert '"Task not found."' in ws.recv(timeout=10)
