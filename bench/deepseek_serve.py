"""DeepSeek-OCR on vLLM: pages/s through the Serve OCR deployment vs the same engine called directly, and
pages/s with 1 vs 8 pages in flight (continuous batching), in one run.

CPU, tiny checkpoint with dummy weights (models/tiny_deepseek.py), float32, tiny mode, --max-tokens a page
(default 128, so that decoding, which batching shares, is a real part of a page's cost), no retry.
Direct: ``DeepSeekVllmOcr.recognize`` in this process. Serve: the real ``OcrDeployment`` replica reached
through its DeploymentHandle (the ingress's path), page images sent as the ingress sends them.
    python bench/deepseek_serve.py [--pages 16] [--concurrency 8] [--max-tokens 128]
    python bench/deepseek_serve.py --model /models/deepseek-ocr --mode gundam --max-tokens 2048   # GPU, real weights
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import report

from models.config import DeepSeekVllmConfig
from models.tiny_deepseek import build_tiny_checkpoint, tiny_cpu_config
from pipeline.options import DeepSeekMode
from pipeline.page import PageImage
from pipeline.protocols import OcrRequest


def pages(n: int) -> list[PageImage]:
    rng = np.random.default_rng(0)
    return [PageImage(i + 1, rng.integers(0, 255, (1100, 850, 3), dtype=np.uint8), 1.0, 1.0) for i in range(n)]


async def drive(call: Callable[[PageImage], Awaitable[Any]], images: list[PageImage], concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(image: PageImage) -> None:
        async with gate:
            result = await call(image)
            assert result.tokens > 0

    t0 = time.perf_counter()
    await asyncio.gather(*(one(im) for im in images))
    return len(images) / (time.perf_counter() - t0)


def direct(config: DeepSeekVllmConfig, images: list[PageImage], concurrency: int) -> dict[int, float]:
    from models.ocr_deepseek_vllm import DeepSeekVllmOcr

    model = DeepSeekVllmOcr(config)

    async def run() -> dict[int, float]:
        await model.recognize(images[0], OcrRequest())  # warm
        out = {1: await drive(lambda im: model.recognize(im, OcrRequest()), images[: len(images) // 2], 1)}
        out[concurrency] = await drive(lambda im: model.recognize(im, OcrRequest()), images, concurrency)
        return out

    try:
        return asyncio.run(run())
    finally:
        model.shutdown()


def through_serve(config: DeepSeekVllmConfig, images: list[PageImage], concurrency: int, *, gpu: bool) -> float:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray
    from ray import serve

    from serve.deployments import OcrDeployment

    ray.init(address="local", num_cpus=8, include_dashboard=False, log_to_driver=False)
    try:
        options = OcrDeployment.get_deployment_options(config)
        if gpu:
            options["ray_actor_options"] = {**options["ray_actor_options"], "num_gpus": 1}
        app = serve.deployment(**options)(OcrDeployment).bind(config)
        handle = serve.run(app, name="ocr-bench", route_prefix=None)

        async def run() -> float:
            await handle.recognize.remote(images[0], OcrRequest())  # warm
            return await drive(lambda im: handle.recognize.remote(im, OcrRequest()), images, concurrency)

        return asyncio.run(run())
    finally:
        serve.shutdown()
        ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--model", help="real DeepSeek-OCR checkpoint (GPU); default: the tiny one on CPU")
    parser.add_argument("--mode", type=DeepSeekMode, default=DeepSeekMode.TINY)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.model:
            config = DeepSeekVllmConfig(
                model=args.model, mode=args.mode, max_tokens=args.max_tokens, max_num_seqs=args.concurrency,
                retry_truncated=False,
            )  # fmt: skip
        else:
            config = tiny_cpu_config(
                build_tiny_checkpoint(Path(tmp)), mode=args.mode, max_tokens=args.max_tokens,
                max_num_seqs=args.concurrency, retry_truncated=False,
            )  # fmt: skip
        images = pages(args.pages)
        # first: its replica is its own process
        served = through_serve(config, images, args.concurrency, gpu=bool(args.model))
        rates = direct(config, images, args.concurrency)
    c = args.concurrency
    report(
        "deepseek_serve",
        {
            "pages, concurrency, tokens/page": f"{args.pages}, {c}, {args.max_tokens}",
            "direct engine, 1 in flight, pages/s": round(rates[1], 3),
            f"direct engine, {c} in flight, pages/s": round(rates[c], 3),
            f"batching gain ({c} vs 1 in flight)": round(rates[c] / rates[1], 2),
            f"through Serve, {c} in flight, pages/s": round(served, 3),
            "Serve / direct ratio (target >= 0.9)": round(served / rates[c], 3),
        },
    )


if __name__ == "__main__":
    main()
