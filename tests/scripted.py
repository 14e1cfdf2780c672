"""The one fake in the DeepSeek-OCR tests: the model's token output, scripted (its weights cannot run on
these machines). Everything around it — loop defence, parsing, grid → points, merge, graph — is the real
code; the real engine path runs in tests/vllm/ on the tiny checkpoint."""

from __future__ import annotations

from models.config import DeepSeekVllmConfig
from models.ocr_deepseek import DeepSeekOcrBase, Generation
from pipeline.options import DeepSeekMode, OcrPrompt
from pipeline.page import PageImage


class ScriptedDeepSeek(DeepSeekOcrBase):
    """Returns ``outputs`` in turn (the last one again when they run out); records the modes asked for."""

    def __init__(self, outputs: list[Generation]) -> None:
        super().__init__(DeepSeekVllmConfig(model="/nonexistent"))
        self.name = "deepseek-ocr@scripted"
        self.outputs = outputs
        self.modes: list[DeepSeekMode] = []

    async def _generate(self, image: PageImage, mode: DeepSeekMode, prompt: OcrPrompt) -> Generation:
        self.modes.append(mode)
        return self.outputs[min(len(self.modes), len(self.outputs)) - 1]
