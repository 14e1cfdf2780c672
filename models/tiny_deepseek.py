"""Build a tiny DeepSeek-OCR checkpoint directory (config + tokenizer, no weights) for ``load_format="dummy"``.

The real weights (6.7 GB) are not available on CPU-only machines; the vLLM code path still has to run. This
writes a checkpoint that vLLM loads as ``DeepseekOCRForCausalLM`` with a small DeepSeek-V2 language model
(the SAM-B + CLIP-L vision encoders are fixed size in vLLM's implementation) and random ("dummy") weights:
the engine, the image processor, the grounding prompt and every request setting are real; the generated
tokens are noise. Reproducible and offline: the tokenizer is built here with the ``tokenizers`` library.

    docgraph tiny-deepseek /tmp/tiny-deepseek-ocr
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from models.config import DeepSeekVllmConfig
from pipeline.options import DeepSeekMode

# tokens the DeepSeek-OCR prompt and its grounded output use (ids are the tiny tokenizer's, not upstream's)
SPECIAL_TOKENS = [
    "<｜begin▁of▁sentence｜>",
    "<｜end▁of▁sentence｜>",
    "<｜▁pad▁｜>",
    "<image>",
    "<|grounding|>",
    "<|ref|>",
    "<|/ref|>",
    "<|det|>",
    "<|/det|>",
]
HIDDEN = 128
LAYERS = 2
_ALPHABET = [chr(c) for c in range(32, 127)] + list("\n\t▁")


def language_config(vocab_size: int) -> dict[str, object]:
    return {
        "architectures": ["DeepseekV2ForCausalLM"],
        "model_type": "deepseek_v2",
        "bos_token_id": 0,
        "eos_token_id": 1,
        "vocab_size": vocab_size,
        "hidden_size": HIDDEN,
        "intermediate_size": 256,
        "moe_intermediate_size": 64,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": 4,
        "num_key_value_heads": 4,
        "first_k_dense_replace": 1,
        "n_routed_experts": 4,
        "n_shared_experts": 1,
        "num_experts_per_tok": 2,
        "n_group": 1,
        "topk_group": 1,
        "topk_method": "greedy",
        "use_mla": False,
        "kv_lora_rank": None,
        "q_lora_rank": None,
        "qk_nope_head_dim": 0,
        "qk_rope_head_dim": 0,
        "v_head_dim": 0,
        "max_position_embeddings": 8192,
        "torch_dtype": "bfloat16",
        "lm_head": True,
        "rm_head": False,
    }


def build_tokenizer(out: Path) -> int:
    """A character-level tokenizer with DeepSeek-OCR's special tokens; returns its vocabulary size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers

    vocab: dict[str, int] = {}
    for token in SPECIAL_TOKENS + _ALPHABET:
        vocab.setdefault(token, len(vocab))
    unk = "<unk>"
    vocab[unk] = len(vocab)
    tok = Tokenizer(models.WordPiece(vocab=vocab, unk_token=unk, max_input_chars_per_word=10_000))
    tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL_TOKENS)
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": SPECIAL_TOKENS[0],
                "eos_token": SPECIAL_TOKENS[1],
                "pad_token": SPECIAL_TOKENS[2],
                "unk_token": unk,
                "add_bos_token": False,
                "add_eos_token": False,
                "model_max_length": 8192,
                "clean_up_tokenization_spaces": False,
            },
            indent=2,
        )
    )
    (out / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": SPECIAL_TOKENS[0], "eos_token": SPECIAL_TOKENS[1], "pad_token": SPECIAL_TOKENS[2]})
    )
    return len(vocab)


def build_tiny_checkpoint(out: Path) -> Path:
    """Write config.json + tokenizer files into ``out`` (created); returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    vocab_size = build_tokenizer(out)
    vocab_size = (vocab_size + 63) // 64 * 64  # room for the padded embedding table
    config = {
        "architectures": ["DeepseekOCRForCausalLM"],
        "model_type": "deepseek_vl_v2",
        "tile_tag": "2D",
        "global_view_pos": "head",
        "candidate_resolutions": [[1024, 1024]],
        "projector_config": {
            "model_type": "mlp_projector",
            "projector_type": "linear",
            "input_dim": 2048,
            "n_embed": HIDDEN,
        },
        "language_config": language_config(vocab_size),
        "vision_config": {"model_type": "vision", "image_size": 1024, "layers": 2, "width": 64},
        "bos_token_id": 0,
        "eos_token_id": 1,
        "torch_dtype": "bfloat16",
    }
    (out / "config.json").write_text(json.dumps(config, indent=2))
    (out / "generation_config.json").write_text(json.dumps({"bos_token_id": 0, "eos_token_id": 1}))
    return out


# vLLM on 2 CPU cores: one process, both cores for OpenMP, a small KV cache (../shared/ENVIRONMENT.md)
CPU_ENV = {
    "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
    "VLLM_CPU_KVCACHE_SPACE": "1",
    "VLLM_CPU_OMP_THREADS_BIND": "0-1",
    "OMP_NUM_THREADS": "2",
}


def tiny_cpu_config(checkpoint: Path, **overrides: Any) -> DeepSeekVllmConfig:
    """The tiny checkpoint in an engine on vLLM's CPU build (tests, benchmarks); ``overrides`` win."""
    settings: dict[str, Any] = {
        "model": str(checkpoint),
        "load_format": "dummy",
        "dtype": "float32",  # bfloat16 is emulated (~7x slower) on CPUs without AVX512-BF16
        "mode": DeepSeekMode.TINY,
        "max_model_len": 2048,
        "gpu_memory_utilization": 0.1,
        "enforce_eager": True,
        "distributed_executor_backend": "uni",
        "env": CPU_ENV,
    }
    settings.update(overrides)
    return DeepSeekVllmConfig(**settings)
