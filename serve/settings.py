"""The ingress's own settings from the process environment (``DOCGRAPH_*``), typed, read in this one place.

The environment is read elsewhere only by name from a config, for secrets that stay out of it
(``jobs.store.url_env``: serve/jobs/backends.py; ``ocr.api_key_env``: models/ocr_deepseek_remote.py), by the
CLI (``--api-key`` falls back to ``DOCGRAPH_API_KEY``), and written for libraries before they load (Ray:
docgraph/embedded.py; ultralytics: models/layout_yolo.py; vLLM: models/ocr_deepseek_vllm.py).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCGRAPH_", extra="forbid")

    api_key: SecretStr | None = Field(
        default=None,
        description="When set, every /v1 route needs 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
        "(serve/ingress.py applies it to the /v1 router; /healthz and /readyz stay open).",
    )
    debug: bool = Field(default=False, description="Put exception details in error responses.")
    log_level: str = Field(default="INFO", description="Log level of docgraph's loggers.")
    ready_timeout_s: float = Field(default=5.0, gt=0, description="How long /readyz waits for each deployment.")
