"""The jobs API with the Redis store (a real redis-server): state lives in Redis and outlives the ingress.

Its own application on the session's Serve instance: the ingress alone (text-layer path, no model replicas).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from docgraph.embedded import EmbeddedService, wait_ready
from docgraph.samples import make_text_pdf
from serve.args import JobsConfig, RedisStoreConfig
from tests.conftest import ingress_only_app
from tests.faults.test_faults import kill_replica
from tests.jobclient import submit, wait_final

pytestmark = pytest.mark.serve
APP = "redisjobs"


@pytest.fixture(scope="module")
def on_redis(service: EmbeddedService, redis_url: str) -> Iterator[httpx.Client]:
    with ingress_only_app(service, APP, JobsConfig(store=RedisStoreConfig(url=redis_url), lease_s=4)) as client:
        yield client


def test_job_state_lives_in_redis_and_survives_the_ingress(on_redis: httpx.Client, redis_url: str) -> None:
    job_id = submit(on_redis, make_text_pdf(3)).json()["id"]
    status = wait_final(on_redis, job_id)
    assert status["state"] == "succeeded" and status["pages_done"] == 3
    r = redis.Redis.from_url(redis_url)
    assert r.hget(f"docgraph:{APP}:job:{job_id}", "state") == b"succeeded"
    assert 0 < r.pttl(f"docgraph:{APP}:result:{job_id}") <= JobsConfig().result_ttl_s * 1000  # it expires
    kill_replica("DocumentIngress", app=APP)
    wait_ready(on_redis.base_url.__str__().rstrip("/"), 120)
    again = on_redis.get(f"/v1/jobs/{job_id}")  # answered by the new replica, from Redis
    assert again.status_code == 200 and again.json()["state"] == "succeeded"
    assert on_redis.get(f"/v1/jobs/{job_id}/result").status_code == 200
