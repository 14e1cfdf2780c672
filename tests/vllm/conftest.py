"""DeepSeek-OCR's real vLLM code path on CPU: a tiny checkpoint built here (models/tiny_deepseek.py) loaded
with ``load_format="dummy"`` (random weights). Engine, image processor, prompts, sampling settings, Serve
deployment and HTTP are the real ones; the generated tokens are noise, so generation always runs to
``max_tokens``: which is how the loop defence's forced cut-off is tested.

Skipped with a reason when vLLM is not installed (``bash scripts/install.sh test``; .ci/run does it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from models.config import DeepSeekVllmConfig
from models.tiny_deepseek import build_tiny_checkpoint, tiny_cpu_config

if importlib.util.find_spec("vllm") is None:
    pytest.skip("vLLM is not installed (bash scripts/install.sh test)", allow_module_level=True)

MAX_TOKENS = 12


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-deepseek-ocr"))


def tiny_engine_config(checkpoint: Path) -> DeepSeekVllmConfig:
    return tiny_cpu_config(checkpoint, max_tokens=MAX_TOKENS, max_num_seqs=8)
