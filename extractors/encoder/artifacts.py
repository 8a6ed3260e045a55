"""Artifact files of a fine-tuned model: config.json and model.safetensors (fp16, without the
frozen word embeddings, which load from the base package), and their checks on loading."""

from __future__ import annotations

import json
from pathlib import Path

from extractors.encoder.base import WORD_EMB_KEY
from kg.errors import ModelLoadError


def save_artifact(net, config: dict, out_dir: str | Path, fmt: str) -> Path:
    """config.json and model.safetensors (fp16; the frozen word embeddings are left out: they
    load from the base package)."""
    return save_state(net.state_dict(), config, out_dir, fmt)


def save_state(state: dict, config: dict, out_dir: str | Path, fmt: str) -> Path:
    """save_artifact for a bare state dict."""
    import torch
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in state.items() if k != WORD_EMB_KEY and not k.endswith("position_ids")}
    save_file(state, str(out / "model.safetensors"), metadata={"format": fmt})
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_artifact(path: str | Path, fmt: str, kind: str = "model") -> tuple[dict, dict]:
    """(config, fp32 state dict) of a saved artifact of format `fmt`, or a ModelLoadError."""
    from safetensors.torch import load_file

    path = Path(path)
    cfg_path, w_path = path / "config.json", path / "model.safetensors"
    if not cfg_path.is_file() or not w_path.is_file():
        raise ModelLoadError(f"no {kind} model at {path} (needs config.json and model.safetensors)")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{cfg_path}: invalid JSON ({e.msg})") from None
    if config.get("format") != fmt:
        raise ModelLoadError(f"{path}: not a {fmt} artifact (format {config.get('format')!r})")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(w_path)).items()}
    return config, state


def load_weights(net, state: dict, where: str | Path) -> None:
    """Load a read_artifact state into net; every weight but the frozen word embeddings must match."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != WORD_EMB_KEY and not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(f"{where}: weights do not match the config (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")


def round_to_fp16_(net) -> None:
    """Round the trainable weights to fp16 in place, so what is scored after training is what ships."""
    import torch

    with torch.no_grad():
        for n, p in net.named_parameters():
            if n != WORD_EMB_KEY:
                p.copy_(p.half().float())
