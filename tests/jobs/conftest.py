"""Each store test runs on both backends: SQLite (embedded) and a real redis-server (tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from serve.args import RedisStoreConfig, SqliteStoreConfig
from serve.jobs.backends import build_store
from serve.jobs.store import JobStore


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], JobStore]:
    """A factory of connections to one store (each call: another replica's connection to the same jobs)."""
    if request.param == "redis":
        config: SqliteStoreConfig | RedisStoreConfig = RedisStoreConfig(url=request.getfixturevalue("redis_url"))
        app = f"test-{uuid.uuid4().hex[:8]}"
    else:
        config, app = SqliteStoreConfig(path=str(tmp_path / "jobs.sqlite3")), "test"
    return lambda: build_store(config, app)
