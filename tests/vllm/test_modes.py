"""Per-request DeepSeek-OCR modes: the placeholder count that models/vllm_modes.py gives vLLM must equal the
number of image tokens vLLM's own DeepSeek-OCR processor emits, for every mode and page shape (a mismatch
fails the request and kills the engine: "Attempted to assign 73 multimodal tokens to 903 placeholders")."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from models.ocr_deepseek import MODE_SETTINGS, full_prompt
from models.vllm_modes import num_image_tokens
from pipeline.options import DeepSeekMode, OcrPrompt

pytestmark = pytest.mark.vllm


@pytest.mark.parametrize("size", [(850, 1100), (600, 400), (1700, 2200), (2400, 700)])
def test_placeholder_count_matches_the_processor_in_every_mode(tiny_checkpoint: Path, size: tuple[int, int]) -> None:
    from transformers import AutoTokenizer
    from vllm.transformers_utils.processors.deepseek_ocr import DeepseekOCRProcessor

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    image = Image.new("RGB", size, "white")
    counts = {}
    for mode, (base_size, image_size, crop) in MODE_SETTINGS.items():
        # vLLM annotates a LlamaTokenizer; it takes any tokenizer (this checkpoint's is a PreTrainedTokenizerFast)
        processor = DeepseekOCRProcessor(tokenizer=tokenizer, image_size=image_size, base_size=base_size)  # type: ignore[arg-type]
        out = processor.process_one(prompt=full_prompt(OcrPrompt.GROUNDED), images=[image], crop_mode=crop)
        emitted = int((out["input_ids"] == processor.image_token_id).sum())
        assert num_image_tokens(*size, image_size=image_size, base_size=base_size, crop=crop) == emitted, mode
        counts[mode] = emitted
    assert (
        counts[DeepSeekMode.TINY] < counts[DeepSeekMode.SMALL] < counts[DeepSeekMode.BASE] < counts[DeepSeekMode.LARGE]
    )
