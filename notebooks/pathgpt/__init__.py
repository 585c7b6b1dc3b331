"""pathgpt: the one GPT of the llm-path notebooks, with its tokenizer, corpus, training loop and checkpoint."""

import os

# Idle OpenMP threads sleep instead of spinning; on a shared CPU spinning makes small operations many times
# slower. It only takes effect when set before torch starts, hence here, before the imports below.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .data import Corpus, Document, encode_documents, evaluation_windows, sample_batch, stdlib_corpus
from .model import (
    GPT,
    Attention,
    Block,
    GeluMLP,
    GPTConfig,
    KVCache,
    RMSNorm,
    SwiGLU,
    apply_rope,
    attention_weights,
    causal_attention,
    filter_logits,
    rope_tables,
    sample_next,
)
from .pretrained import (
    RECIPE,
    Recipe,
    load_history,
    load_manifest,
    load_pretrained,
    load_tokenizer,
    load_tokens,
    prepare,
)
from .tokenizer import SPECIAL_TOKENS, Tokenizer
from .train import History, TrainConfig, evaluate, learning_rate, make_optimizer, train

__all__ = [
    "GPT",
    "RECIPE",
    "SPECIAL_TOKENS",
    "Attention",
    "Block",
    "Corpus",
    "Document",
    "GPTConfig",
    "GeluMLP",
    "History",
    "KVCache",
    "RMSNorm",
    "Recipe",
    "SwiGLU",
    "Tokenizer",
    "TrainConfig",
    "apply_rope",
    "attention_weights",
    "causal_attention",
    "encode_documents",
    "evaluate",
    "evaluation_windows",
    "filter_logits",
    "learning_rate",
    "load_history",
    "load_manifest",
    "load_pretrained",
    "load_tokenizer",
    "load_tokens",
    "make_optimizer",
    "prepare",
    "rope_tables",
    "sample_batch",
    "sample_next",
    "stdlib_corpus",
    "train",
]
