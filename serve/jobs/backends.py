"""The configured job store: SQLite (serve/jobs/sqlite_store.py) or Redis (serve/jobs/redis_store.py)."""

from __future__ import annotations

import os

from serve.args import RedisStoreConfig, SqliteStoreConfig
from serve.jobs.sqlite_store import SqliteJobStore
from serve.jobs.store import JobStore


def build_store(config: SqliteStoreConfig | RedisStoreConfig, app_name: str, *, keep_uploads: bool = True) -> JobStore:
    """The configured store for one application (its jobs never mix with another application's); with
    ``keep_uploads`` a finished job's PDF is kept as long as the job (``jobs.keep_uploads``)."""
    if isinstance(config, RedisStoreConfig):
        from serve.jobs.redis_store import RedisJobStore  # redis is imported only when configured

        url = os.environ.get(config.url_env, "") if config.url_env else ""
        return RedisJobStore(url or config.url, prefix=f"{config.prefix}:{app_name}", keep_uploads=keep_uploads)
    return SqliteJobStore(config.resolved_path(app_name), keep_uploads=keep_uploads)
