"""Overload: more jobs at once than the service admits. The surplus gets 503 + Retry-After; nothing crashes;
every job that was accepted finishes.

Its own application (the ingress alone, text-layer path) with room for 6 active jobs, one run at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from docgraph.embedded import EmbeddedService
from docgraph.samples import make_text_pdf
from serve.args import JobsConfig, SqliteStoreConfig
from tests.conftest import ingress_only_app
from tests.jobclient import submit, wait_final

pytestmark = [pytest.mark.faults, pytest.mark.serve]
APP, MAX_ACTIVE, CLIENTS = "overload", 6, 24


@pytest.fixture(scope="module")
def small(service: EmbeddedService, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    store = SqliteStoreConfig(path=str(tmp_path_factory.mktemp(APP) / "jobs.sqlite3"))
    with ingress_only_app(service, APP, JobsConfig(store=store, max_active=MAX_ACTIVE, max_running=1)) as client:
        yield client


def test_more_jobs_than_capacity(small: httpx.Client) -> None:
    pdf = make_text_pdf(200, paragraphs=2)  # ~1 s a job on the text path, one at a time: the 24 arrive far faster
    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(lambda n: submit(small, pdf, f"d{n}.pdf"), range(CLIENTS)))
    accepted = [r for r in answers if r.status_code == 202]
    refused = [r for r in answers if r.status_code == 503]
    assert len(accepted) + len(refused) == CLIENTS, [r.status_code for r in answers]
    assert MAX_ACTIVE <= len(accepted) < CLIENTS and refused, [r.status_code for r in answers]
    for r in refused:
        assert r.headers["retry-after"] and r.json()["code"] == "queue_full"
    assert small.get("/readyz").status_code == 200
    for r in accepted:  # none lost, none stuck
        assert wait_final(small, r.json()["id"], timeout_s=300)["state"] == "succeeded"
    assert submit(small, make_text_pdf(1)).status_code == 202, "admits again once the backlog drained"
