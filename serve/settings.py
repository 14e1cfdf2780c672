"""Process environment (``DOCGRAPH_*``): the only module that reads ``os.environ`` for docgraph."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCGRAPH_", extra="forbid")

    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every /v1 route needs 'Authorization: Bearer <key>' or 'X-API-Key: <key>'.",
    )
    debug: bool = Field(default=False, description="Put exception details in error responses.")
    log_level: str = Field(default="INFO", description="Log level of docgraph's loggers.")
    ready_timeout_s: float = Field(default=5.0, gt=0, description="How long /readyz waits for each deployment.")
    max_busy_s: float = Field(
        default=120.0, gt=0, description="A PyMuPDF call running longer than this fails the ingress health check."
    )
