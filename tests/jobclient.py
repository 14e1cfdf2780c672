"""A job client for tests: submit, poll until final (the way a user's program would)."""

from __future__ import annotations

import time
from typing import Any

import httpx

FINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}


def submit(client: httpx.Client, data: bytes, name: str = "doc.pdf", **params: str) -> httpx.Response:
    form = {"password": params.pop("password")} if "password" in params else {}
    return client.post("/v1/jobs", params=params, data=form, files={"file": (name, data, "application/pdf")})


def wait_final(
    client: httpx.Client, job_id: str, timeout_s: float = 300, *, tolerate_errors: bool = False
) -> dict[str, Any]:
    """Poll the job until it is final; with ``tolerate_errors``, ride out moments where the service is down."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            r = client.get(f"/v1/jobs/{job_id}")
            if r.status_code == 200:
                last = r.json()
                if last["state"] in FINAL:
                    return dict(last)
            elif not tolerate_errors:
                raise AssertionError(f"GET /v1/jobs/{job_id}: {r.status_code} {r.text[:300]}")
        except httpx.HTTPError:
            if not tolerate_errors:
                raise
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} not final after {timeout_s:g} s: {last}")
