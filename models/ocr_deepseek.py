"""DeepSeek-OCR: what both backends share — prompts, modes, the loop defence, and output → ``OcrResult``.

A backend (``ocr_deepseek_vllm``: engine in the replica; ``ocr_deepseek_remote``: an OpenAI-compatible
server) only implements ``_generate``: one page image, one mode, one prompt → a ``Generation``.

Loop defence: DeepSeek-OCR sometimes repeats itself until ``max_tokens`` (users report 4-9 % of pages). The
n-gram guard (sent with every request) makes that rarer; a page whose generation still ends at the token
cap, or ends in a repeating run, is generated once more in another mode; if that one loops too, the better
of the two (more parsed blocks) is kept and the result says ``truncated``. Never dropped silently: the page
then carries a warning, and a ``partial`` status where the OCR text is the page's text (pipeline/convert.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from models.config import DeepSeekRemoteConfig, DeepSeekVllmConfig
from models.grounding import clean_block_text, grid_box_to_pixels, looks_repetitive, parse_grounded
from pipeline.geometry import BBox, union_all
from pipeline.labels import normalise_label
from pipeline.options import DeepSeekMode, OcrPrompt
from pipeline.page import PageImage
from pipeline.protocols import OcrBlock, OcrRequest, OcrResult

log = logging.getLogger("docgraph.models")

IMAGE_TOKEN = "<image>"  # noqa: S105 - the prompt's image placeholder, not a secret
# the text after the image placeholder (upstream prompts)
PROMPT_TEXT = {
    OcrPrompt.GROUNDED: "<|grounding|>Convert the document to markdown.",
    OcrPrompt.FREE: "Free OCR.",
}
# base_size, image_size, crop_mode: the upstream table (vLLM's processor takes them as mm_processor_kwargs,
# made to work per request by models/vllm_modes.py)
MODE_SETTINGS: dict[DeepSeekMode, tuple[int, int, bool]] = {
    DeepSeekMode.TINY: (512, 512, False),
    DeepSeekMode.SMALL: (640, 640, False),
    DeepSeekMode.BASE: (1024, 1024, False),
    DeepSeekMode.LARGE: (1280, 1280, False),
    DeepSeekMode.GUNDAM: (1024, 640, True),
}
# the retry of a looping page runs at another resolution: the image tokens differ, and so does the decoding
RETRY_MODE: dict[DeepSeekMode, DeepSeekMode] = {
    DeepSeekMode.TINY: DeepSeekMode.SMALL,
    DeepSeekMode.SMALL: DeepSeekMode.BASE,
    DeepSeekMode.BASE: DeepSeekMode.LARGE,
    DeepSeekMode.LARGE: DeepSeekMode.BASE,
    DeepSeekMode.GUNDAM: DeepSeekMode.BASE,
}
DEFAULT_CONFIDENCE = 0.5  # when the backend reports no log-probabilities


def full_prompt(prompt: OcrPrompt) -> str:
    """The completion prompt: exactly one image placeholder, first (vLLM treats a bare ``<image>`` without an
    attached image as text, so every call attaches exactly one image to exactly one placeholder)."""
    return f"{IMAGE_TOKEN}\n{PROMPT_TEXT[prompt]}"


def mode_kwargs(mode: DeepSeekMode) -> dict[str, object]:
    base_size, image_size, crop = MODE_SETTINGS[mode]
    return {"base_size": base_size, "image_size": image_size, "crop_mode": crop}


@dataclass(frozen=True, slots=True)
class Generation:
    text: str
    tokens: int
    finish_reason: str | None  # "stop", "length", ...
    mean_logprob: float | None = None

    @property
    def looped(self) -> bool:
        return self.finish_reason == "length" or looks_repetitive(self.text)


class DeepSeekOcrBase:
    """Implements ``OcrModel`` for DeepSeek-OCR on top of a backend's ``_generate``."""

    name: str

    def __init__(self, config: DeepSeekVllmConfig | DeepSeekRemoteConfig) -> None:
        self.config = config

    def sampling_extra_args(self) -> dict[str, object]:
        """The n-gram guard's per-request settings: without ``ngram_size`` the logits processor does nothing."""
        return {
            "ngram_size": self.config.ngram_size,
            "window_size": self.config.window_size,
            "whitelist_token_ids": list(self.config.whitelist_token_ids),
        }

    async def _generate(self, image: PageImage, mode: DeepSeekMode, prompt: OcrPrompt) -> Generation:
        raise NotImplementedError

    async def recognize(self, image: PageImage, request: OcrRequest) -> OcrResult:
        mode = request.mode or self.config.mode
        prompt = request.prompt or self.config.prompt
        first = await self._generate(image, mode, prompt)
        chosen, chosen_mode, attempts, tokens = first, mode, 1, first.tokens
        truncated = first.looped
        if first.looped and self.config.retry_truncated:
            retry_mode = RETRY_MODE[mode]
            log.warning(
                "page %d: OCR output looped/truncated in %s mode; retrying in %s", image.page_no, mode, retry_mode
            )
            second = await self._generate(image, retry_mode, prompt)
            attempts, tokens = 2, tokens + second.tokens
            truncated = second.looped
            if not second.looped or _block_count(second) >= _block_count(first):
                chosen, chosen_mode = second, retry_mode
        return to_ocr_result(
            chosen, image, model=self.name, mode=chosen_mode, truncated=truncated, attempts=attempts, tokens=tokens
        )


def _block_count(gen: Generation) -> int:
    return len(parse_grounded(gen.text).blocks)


def to_ocr_result(
    gen: Generation,
    image: PageImage,
    *,
    model: str,
    mode: DeepSeekMode,
    truncated: bool,
    attempts: int,
    tokens: int,
) -> OcrResult:
    """Grounded (or free) output → blocks in pixels of ``image``, in emission order."""
    parsed = parse_grounded(gen.text)
    confidence = DEFAULT_CONFIDENCE if gen.mean_logprob is None else min(1.0, math.exp(gen.mean_logprob))
    page_box = BBox(l=0.0, t=0.0, r=float(image.width), b=float(image.height))
    blocks: list[OcrBlock] = []
    if parsed.preamble:
        # free OCR (or text before the first ref): the page is the only box there is
        blocks.append(OcrBlock(bbox=page_box, text=parsed.preamble, confidence=confidence))
    for gb in parsed.blocks:
        block_type = normalise_label(gb.label) if gb.label else None
        text = clean_block_text(block_type.value if block_type else "", gb.text)
        if not gb.boxes:
            if text:  # located nowhere: keep the text on the whole page rather than lose it
                blocks.append(
                    OcrBlock(bbox=page_box, text=text, type=block_type, label=gb.label or None, confidence=confidence)
                )
            continue
        boxes = [
            BBox.clipped(grid_box_to_pixels(b, image.width, image.height), image.width, image.height) for b in gb.boxes
        ]
        blocks.append(
            OcrBlock(bbox=union_all(boxes), text=text, type=block_type, label=gb.label or None, confidence=confidence)
        )
    return OcrResult(
        model=model,
        blocks=blocks,
        ordered=True,
        truncated=truncated,
        attempts=attempts,
        mode=mode.value,
        tokens=tokens,
        issues=parsed.issues,
    )
