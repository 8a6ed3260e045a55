"""Weight averaging of fine-tuned artifacts (a "uniform model soup", Wortsman et al. 2022).

Fine-tuning runs that start from the same weights - the same base model and the same --seed,
so the same freshly initialised head - but differ in learning rate or batch order (--data-seed)
stay in one basin of the loss: the mean of their weights is a model, often better than each
run, and it costs one model at inference (an ensemble would cost one per run). Runs with
different seeds start from different heads and their mean is not a model (CoNLL04 dev: NER span
F1 81.6 against 83-84 for each of three seeds), so `average_artifacts` refuses them.

Works for both artifact formats (relation classifier, token NER). A relation average must be
recalibrated on dev (`kg train average --dev`, or extractors/training/calibration.py): the runs'
temperatures and thresholds do not carry over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from extractors.encoder.artifacts import read_artifact, save_state
from kg.errors import ModelLoadError

# config entries that must agree for two artifacts' weights to mean the same thing
_MUST_MATCH = ("format", "base_model", "num_layers", "max_length", "entity_types", "relations", "tags",
               "spacy_features", "mlp_hidden", "schema")


def _read_config(path: Path) -> dict:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise ModelLoadError(f"no model at {path} (needs config.json and model.safetensors)")
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{cfg}: invalid JSON ({e.msg})") from None


def average_artifacts(dirs: Sequence[str | Path], out: str | Path, command: str = "") -> dict:
    """Write the uniform weight average of same-shaped artifacts (same format, base, types and
    training seed) to `out`; returns its config. Dev metrics, calibration and test results of
    the runs are dropped: they do not describe the average."""
    dirs = [Path(d) for d in dirs]
    if len(dirs) < 2:
        raise ModelLoadError("averaging needs at least two models")
    for d in dirs:  # a missing or unreadable model fails here, with its own message
        _read_config(d)
    arts = [read_artifact(d, _read_config(dirs[0]).get("format"), "model") for d in dirs]
    first = arts[0][0]
    for d, (cfg, state) in zip(dirs[1:], arts[1:]):
        for key in _MUST_MATCH:
            if cfg.get(key) != first.get(key):
                raise ModelLoadError(f"{d}: its {key!r} differs from {dirs[0]}'s; only models of one kind average")
        if cfg.get("training", {}).get("seed") != first.get("training", {}).get("seed"):
            raise ModelLoadError(f"{d}: trained with --seed {cfg.get('training', {}).get('seed')}, {dirs[0]} with "
                                 f"{first.get('training', {}).get('seed')}; runs from different seeds start from "
                                 "different heads and their average is not a model")
        if state.keys() != arts[0][1].keys() or any(state[k].shape != arts[0][1][k].shape for k in state):
            raise ModelLoadError(f"{d}: its weights do not have {dirs[0]}'s shapes")
    state = {k: sum(s[k] for _, s in arts) / len(arts) if v.is_floating_point() else v
             for k, v in arts[0][1].items()}
    config = {k: v for k, v in first.items() if k not in ("dev_metrics", "eval_results")}
    if "temperature" in config:  # a relation model: uncalibrated until `--dev` / `kg train calibration`
        config.update(temperature=1.0, threshold=0.5)
    config["name"] = Path(out).name
    tr0 = first.get("training", {})
    config["training"] = {
        "data": tr0.get("data", []), "dev": tr0.get("dev", []), "seed": tr0.get("seed"),
        "command": command,
        "averaged_from": [{"model": str(d), "command": c.get("training", {}).get("command", ""),
                           "lr": c.get("training", {}).get("lr"),
                           "data_seed": c.get("training", {}).get("data_seed"), "best_epoch": c.get("training", {}).get("best_epoch")}
                          for d, (c, _) in zip(dirs, arts)],
    }
    save_state(state, config, out, first["format"])
    return config
