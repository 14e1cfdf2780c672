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
    ws_max_message_bytes: int = Field(
        default=4096,
        gt=0,
        description="Largest message a client may send on a websocket (the docling status socket: docling-client "
        "sends 'next'); a larger one closes the socket with 1009 (message too big). Read by Serve's HTTP proxy, "
        "which refuses such a frame from its header (serve/wsbounds.py), and by the socket's handler.",
    )
    ws_inbound_bytes_per_s: float = Field(
        default=4096.0,
        gt=0,
        description="What a client may send on a websocket, sustained (each message counts 64 bytes beyond its "
        "size); past ws_inbound_burst_bytes ahead of that rate the socket is closed with 1008 (policy violation).",
    )
    ws_inbound_burst_bytes: int = Field(
        default=65536, gt=0, description="How far ahead of ws_inbound_bytes_per_s a websocket client may send."
    )
    ws_idle_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="A docling status websocket with nothing from the client and no task progress to send for "
        "this long is closed (1000, reason 'idle').",
    )
