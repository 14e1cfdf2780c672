"""DeepSeek-OCR behind an OpenAI-compatible vLLM server (``vllm serve``) that the user already runs.

One chat completion per page: the page as an ``image_url`` data URL, then the prompt text; vLLM inserts the
image placeholder itself. vLLM-specific fields ride in the body as the ``openai`` client's ``extra_body``
would put them: ``skip_special_tokens=False``, ``vllm_xargs`` (the n-gram guard's per-request settings) and
``mm_processor_kwargs`` (the mode). Gundam, vLLM's own default, sends no kwargs and works with any server;
the other modes need a server started with ``--trust-request-mm-kwargs`` and docgraph installed beside it (its
plugin makes vLLM count the mode's image tokens right: models/vllm_modes.py).
Plain httpx: no extra client library to go missing at run time.
"""

from __future__ import annotations

import base64
import io
import os
from typing import Any

import httpx

from models.config import DeepSeekRemoteConfig
from models.ocr_deepseek import PROMPT_TEXT, DeepSeekOcrBase, Generation, mode_kwargs
from pipeline.errors import ModelUnavailableError
from pipeline.options import DeepSeekMode, OcrPrompt
from pipeline.page import PageImage


class DeepSeekRemoteOcr(DeepSeekOcrBase):
    def __init__(self, config: DeepSeekRemoteConfig) -> None:
        super().__init__(config)
        self.config: DeepSeekRemoteConfig = config
        headers = {}
        if config.api_key_env:
            key = os.environ.get(config.api_key_env)
            if not key:
                raise ModelUnavailableError(
                    f"environment variable {config.api_key_env} (the server's API key) is not set"
                )
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.AsyncClient(
            base_url=config.base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(config.timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=config.max_connections),
        )
        self.name = f"{config.model}@{config.base_url}"

    def request_body(self, image: PageImage, mode: DeepSeekMode, prompt: OcrPrompt) -> dict[str, Any]:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(image.pixels).save(buf, format="PNG")
        data_url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": data_url}},
                        {"type": "text", "text": PROMPT_TEXT[prompt]},
                    ],
                }
            ],
            "temperature": 0.0,
            "max_tokens": self.config.max_tokens,
            "logprobs": True,
            "skip_special_tokens": False,
            "vllm_xargs": self.sampling_extra_args(),
        }
        if mode is not DeepSeekMode.GUNDAM:
            body["mm_processor_kwargs"] = mode_kwargs(mode)
        return body

    async def _generate(self, image: PageImage, mode: DeepSeekMode, prompt: OcrPrompt) -> Generation:
        try:
            response = await self._client.post("/chat/completions", json=self.request_body(image, mode, prompt))
        except httpx.TransportError as exc:
            raise ModelUnavailableError(f"OCR server {self.config.base_url} unreachable: {exc}") from exc
        if response.status_code != 200:
            raise ModelUnavailableError(
                f"OCR server answered {response.status_code}: {response.text[:300]}", status=response.status_code
            )
        body = response.json()
        choice = body["choices"][0]
        content = choice.get("logprobs", {}) or {}
        logprobs = [t["logprob"] for t in content.get("content") or [] if t.get("logprob") is not None]
        tokens = int((body.get("usage") or {}).get("completion_tokens") or len(logprobs))
        mean = sum(logprobs) / len(logprobs) if logprobs else None
        return Generation(
            text=choice["message"].get("content") or "",
            tokens=tokens,
            finish_reason=choice.get("finish_reason"),
            mean_logprob=mean,
        )

    async def check_health(self) -> None:
        response = await self._client.get("/models")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self._client.aclose()
