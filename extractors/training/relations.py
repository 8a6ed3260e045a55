"""Fine-tuning the marker relation classifier (extractors/relations/marker.py) on the shared loop,
then calibrating it on dev."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from extractors.datasets import Example
from extractors.encoder.artifacts import save_artifact
from extractors.encoder.base import BASE_MODEL, BASE_PACKAGE, load_base
from extractors.relations.marker import FORMAT, MarkerCodec, MarkerRelationExtractor, build_net, collate
from extractors.training.calibration import calibrate, recalibrate_artifact, sweep_thresholds
from extractors.training.loop import DevScore, LoopSettings, TrainingLoop
from extractors.training.relation_instances import corrupt_entities, label_instances
from graph_schema import Schema
from kg.errors import TrainingError


def init_markers(net, tokenizer, entity_types: list[str], schema: Schema) -> None:
    """Start each type's marker embeddings near the words of its name (or short description),
    mixed with "[" or "]"."""
    import torch

    emb = net.encoder.embeddings.word_embeddings.weight.detach()

    def vec(words: str):
        ids = tokenizer(words, add_special_tokens=False)["input_ids"] or [tokenizer.unk_token_id]
        return emb[ids].mean(0)

    with torch.no_grad():
        for i, t in enumerate(entity_types):
            desc = schema.entity_types[t].description if t in schema.entity_types else ""
            words = desc if desc and len(desc.split()) <= 3 else " ".join(re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", t)) or t
            base = vec(words.lower())
            net.markers.weight[2 * i] = 0.5 * base + 0.5 * vec("[")
            net.markers.weight[2 * i + 1] = 0.5 * base + 0.5 * vec("]")


def train_relation_model(
    train_examples: list[Example],
    schema: Schema,
    out_dir: str | Path,
    dev_examples: list[Example] | None = None,
    *,
    epochs: int = 20,
    lr: float = 1e-4,
    head_lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 13,
    data_seed: int | None = None,
    device: str = "cpu",
    warmup: float = 0.1,
    dropout: float = 0.1,
    weight_decay: float = 0.01,
    max_length: int = 256,
    num_layers: int | None = None,
    mlp_hidden: int = 768,
    max_steps: int | None = None,
    entity_noise: float = 0.0,
    precision: str = "fp32",
    name: str | None = None,
    sources: list[str] | None = None,
    dev_sources: list[str] | None = None,
    command: str = "",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Fine-tune, pick the best epoch, fit temperature and threshold on dev, save the artifact.

    Without dev examples the last epoch is kept, temperature stays 1 and the threshold 0.5.
    entity_noise: per-epoch probability that a training entity gets an NER-like error (wrong type
    or boundary) and loses its relations (corrupt_entities); 0 disables.
    Returns a summary (losses, dev metrics per epoch, temperature, threshold).
    """
    import torch

    loop = TrainingLoop(LoopSettings(epochs=epochs, lr=lr, head_lr=head_lr, batch_size=batch_size, seed=seed,
                                     data_seed=data_seed, device=device, warmup=warmup, weight_decay=weight_decay,
                                     max_steps=max_steps, progress=progress))
    device = loop.device
    entity_types = list(schema.entity_types)
    relations = list(schema.relation_types)
    if not relations:
        raise TrainingError(f"schema {schema.name!r} defines no relation types")
    tok, enc = load_base(num_layers)
    net = build_net(enc, len(entity_types), len(relations), mlp_hidden, dropout)
    init_markers(net, tok, entity_types, schema)
    net.to(device)
    codec = MarkerCodec(tok, entity_types, relations, schema, max_length)
    train = [x for x in label_instances(codec, train_examples, schema) if x.pairs]
    n_pos = sum(1 for x in train for lab in x.labels if lab)
    if not train or not n_pos:
        raise TrainingError("the training data has no candidate pair with a relation of the schema")
    dev = label_instances(codec, dev_examples, schema) if dev_examples else None
    config = {
        "format": FORMAT, "name": name or Path(out_dir).name, "base_model": BASE_MODEL, "base_package": BASE_PACKAGE,
        "num_layers": num_layers or enc.config.num_hidden_layers, "mlp_hidden": mlp_hidden, "max_length": max_length,
        "entity_types": entity_types, "relations": relations, "schema": schema.to_dict(),
        "temperature": 1.0, "threshold": 0.5,
    }
    extractor = MarkerRelationExtractor(net, tok, config, device)

    def batch_loss(batch):
        c = collate(batch, len(relations), codec.allowed, extractor.types_of, device, True)
        hidden = net.encode(c["ids"], c["mask"])
        logits = net.pair_logits(hidden, c["b"], c["hs"], c["he"], c["ts"], c["te"])
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, c["labels"], reduction="none")
        allowed = c["allowed"].float()
        return (bce * allowed).sum() / allowed.sum().clamp(min=1)

    def noisy_items(rng):  # a fresh corruption of the training entities every epoch
        noisy = corrupt_entities(train_examples, entity_noise, entity_types, rng)
        return [x for x in label_instances(codec, noisy, schema) if x.pairs]

    def dev_score() -> DevScore:
        thr, m, _ = sweep_thresholds(extractor, dev, extractor.score_instances(dev), dev_examples, schema)
        return DevScore(m["f1"], {"dev_f1": m["f1"], "dev_threshold": thr},
                        f", dev F1 {m['f1'] * 100:.2f} at threshold {thr:.2f}")

    log(f"training on {len(train)} sentences with candidate pairs ({sum(len(x.pairs) for x in train)} pairs, "
        f"{n_pos} positive), {len(dev) if dev else 0} dev sentences, {epochs} epochs x "
        f"{loop.steps_per_epoch(len(train))} steps, device {device}")
    result = loop.run(net, train, batch_loss, dev_score=dev_score if dev else None,
                      epoch_items=noisy_items if entity_noise > 0 else None, log=log)
    step = result.steps
    summary = {"history": result.history, "losses": result.losses, "train_sentences": result.last_items,
               "steps": step}
    if dev:
        cal = calibrate(extractor, dev_examples)  # calibrates exactly what ships: the loop rounded to fp16
        summary.update({"best_epoch": result.best_epoch, **cal})
        m = cal["dev"]
        log(f"best epoch {result.best_epoch}; temperature {cal['temperature']:.3f} (dev ECE "
            f"{cal['dev_ece_before']:.4f} -> {cal['dev_ece_after']:.4f}); threshold {cal['threshold']:.2f}: "
            f"dev P {m['precision'] * 100:.2f} R {m['recall'] * 100:.2f} F1 {m['f1'] * 100:.2f}")
    config["training"] = {
        "data": sources or [], "dev": dev_sources or [], "epochs": epochs, "lr": lr, "head_lr": head_lr,
        "batch_size": batch_size, "seed": seed, "data_seed": data_seed, "warmup": warmup,
        "entity_noise": entity_noise, "dropout": dropout, "weight_decay": weight_decay,
        "device": device, "best_epoch": summary.get("best_epoch"), "steps": step, "command": command,
        "history": result.history,
    }
    config["precision"] = "fp32"
    save_artifact(net, config, out_dir, FORMAT)
    if dev and precision != "fp32":  # refit temperature and threshold for what will run
        cal = recalibrate_artifact(out_dir, dev_examples, precision)
        summary.update(cal)
        config = json.loads((Path(out_dir) / "config.json").read_text(encoding="utf-8"))
        log(f"{precision}: temperature {cal['temperature']:.3f}, threshold {cal['threshold']:.2f}: dev F1 "
            f"{cal['dev']['f1'] * 100:.2f}")
    summary["config"] = config
    return summary
