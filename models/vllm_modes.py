"""A vLLM plugin that makes DeepSeek-OCR's resolution modes selectable per request.

DeepSeek-OCR has five modes (tiny 512, small 640, base 1024, large 1280: one global view; gundam: 640 px tiles
plus a 1024 px global view). vLLM 0.32's implementation hard-codes gundam: its image processor accepts
``image_size`` / ``base_size`` / ``crop_mode`` through ``mm_processor_kwargs``, but the number of ``<image>``
placeholder tokens is computed from the module constants, so any other mode fails with "Attempted to assign
73 multimodal tokens to 903 placeholders" — and takes the engine down with it (seen here).

``register()`` re-registers the model's multimodal processor with one that counts placeholders from the
request's own kwargs. It is installed as a ``vllm.general_plugins`` entry point (pyproject.toml), so vLLM
loads it in every engine process — in-replica engines, ``vllm serve`` processes, GPU workers — and the
in-replica backend also calls it directly before building its engine. Modes are in ``MODES`` below.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any


def num_image_tokens(width: int, height: int, *, image_size: int, base_size: int, crop: bool) -> int:
    """``<image>`` placeholders for one image in one mode: what vLLM's DeepSeek-OCR processor emits."""
    from vllm.transformers_utils.processors.deepseek_ocr import count_tiles

    patch, downsample = 16, 4
    tiles_w = tiles_h = 1
    if crop and not (width <= image_size and height <= image_size):
        tiles_w, tiles_h = count_tiles(width, height, image_size=image_size)  # type: ignore[no-untyped-call]  # vLLM's is unannotated
    h = w = math.ceil((base_size // patch) / downsample)
    h2 = w2 = math.ceil((image_size // patch) / downsample)
    tokens = h * (w + 1)
    if tiles_w > 1 or tiles_h > 1:
        tokens += (tiles_h * h2) * (tiles_w * w2 + 1)
    return tokens + 1


@functools.cache  # idempotent: vLLM calls plugins in every process, the replica may call it again
def register() -> None:
    """Install the mode-aware processor for ``DeepseekOCRForCausalLM``."""
    from vllm.model_executor.models import deepseek_ocr as ds
    from vllm.multimodal import MULTIMODAL_REGISTRY
    from vllm.multimodal.parse import ImageEmbeddingItems, ImageProcessorItems
    from vllm.multimodal.processing import PromptReplacement
    from vllm.transformers_utils.processors.deepseek_ocr import BASE_SIZE, CROP_MODE, IMAGE_SIZE

    class ModeAwareInfo(ds.DeepseekOCRProcessingInfo):
        def get_num_image_tokens(self, *, image_width: int, image_height: int, cropping: bool = True) -> int:
            return num_image_tokens(
                image_width, image_height, image_size=IMAGE_SIZE, base_size=BASE_SIZE, crop=cropping
            )

    class ModeAwareProcessor(ds.DeepseekOCRMultiModalProcessor):
        def _get_prompt_updates(
            self, mm_items: Any, hf_processor_mm_kwargs: Mapping[str, object], out_mm_kwargs: Any
        ) -> Sequence[Any]:
            kwargs: dict[str, Any] = dict(hf_processor_mm_kwargs)  # ints from mode_kwargs (models/ocr_deepseek.py)
            image_size = int(kwargs.get("image_size", IMAGE_SIZE))
            base_size = int(kwargs.get("base_size", BASE_SIZE))
            crop = bool(kwargs.get("crop_mode", CROP_MODE))
            hf_processor = self.info.get_hf_processor(**kwargs)
            image_token_id = hf_processor.image_token_id

            def replacement(item_idx: int) -> list[int]:
                images = mm_items.get_items("image", (ImageEmbeddingItems, ImageProcessorItems))
                if isinstance(images, ImageEmbeddingItems):
                    count = images.get_feature_size(item_idx)
                else:
                    size = images.get_image_size(item_idx)
                    count = num_image_tokens(
                        size.width, size.height, image_size=image_size, base_size=base_size, crop=crop
                    )
                return [image_token_id] * count

            return [PromptReplacement(modality="image", target=[image_token_id], replacement=replacement)]

    MULTIMODAL_REGISTRY.register_processor(
        ModeAwareProcessor, info=ModeAwareInfo, dummy_inputs=ds.DeepseekOCRDummyInputsBuilder
    )(ds.DeepseekOCRForCausalLM)
