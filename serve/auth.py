"""The API key: off unless ``DOCGRAPH_API_KEY`` is set; then every /v1 route (docgraph's and the docling-serve
compatible ones) and the status websocket need it, as ``Authorization: Bearer <key>`` or ``X-API-Key`` (docling's
``X-Api-Key``: headers are case-insensitive), compared in constant time. Never read from a URL."""

# No `from __future__ import annotations`: FastAPI reads `require_api_key`'s signature at run time.

import hmac
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException

from serve.api import ErrorBody
from serve.settings import Settings


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()


def key_matches(given: str | None) -> bool:
    expected = settings().api_key
    if expected is None:
        return True
    return hmac.compare_digest((given or "").encode(), expected.get_secret_value().encode())


def given_key(x_api_key: str | None, authorization: str | None) -> str:
    """The key a request carries: X-API-Key, else a Bearer token."""
    return x_api_key or (authorization[7:] if authorization and authorization.startswith("Bearer ") else "")


async def require_api_key(
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> None:
    if not key_matches(given_key(x_api_key, authorization)):
        raise HTTPException(status_code=401, detail="missing or wrong API key")


def v1_router() -> APIRouter:
    """A router for docgraph's /v1 routes: every route declared on one needs the key, so none can be public by
    accident (the health probes are on routers of their own)."""
    return APIRouter(
        prefix="/v1",
        dependencies=[Depends(require_api_key)],
        responses={401: {"model": ErrorBody, "description": "Missing or wrong API key (when one is configured)."}},
    )
