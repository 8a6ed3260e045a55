"""Calibration of a marker relation model on dev: a temperature for its probabilities (binary
NLL) and a decision threshold (best strict micro-F1 with gold entities), stored in its config."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from extractors.datasets import Example
from extractors.evaluation.metrics import gold_sets, relation_key, score_sets
from extractors.relations.marker import MarkerRelationExtractor
from extractors.training.relation_instances import label_instances
from kg.errors import ModelLoadError


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Scalar T minimising the binary NLL of sigmoid(logit / T) (grid search, then refinement)."""
    if logits.size == 0:
        return 1.0

    def nll(T):
        z = logits / T
        return float(np.mean(np.logaddexp(0, z) - labels * z))

    grid = np.exp(np.linspace(math.log(0.2), math.log(10.0), 161))
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.03, 0.03, 61))
    return float(min(fine, key=nll))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over binary decisions, equal-width bins."""
    if probs.size == 0:
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (probs >= lo) & ((probs < hi) if hi < 1 else (probs <= hi))
        if m.any():
            total += m.sum() / probs.size * abs(probs[m].mean() - labels[m].mean())
    return float(total)


THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def sweep_thresholds(extractor: MarkerRelationExtractor, insts, probs, examples, schema, grid=THRESHOLD_GRID):
    """F1 at each threshold (gold entities); returns (best threshold, best metrics, f1 per threshold)."""
    gold = gold_sets(examples, schema)
    # all candidate decisions once, at threshold 0, then filter per threshold
    cands = []
    for ex, x, p in zip(examples, insts, probs):
        ents = ex.entities
        cands.append([(relation_key((ents[h].start, ents[h].end, ents[h].type), (ents[t].start, ents[t].end, ents[t].type),
                                    extractor.relations[r], bool(extractor.symmetric[r])), c)
                      for h, t, r, c in extractor.decide(x, p, 1e-9)])
    curve = {}
    best = (-1.0, 0.5, None)
    for thr in grid:
        pred = [{k for k, c in cs if c >= thr} for cs in cands]
        m = score_sets(gold, pred, extractor.relations)
        curve[float(thr)] = m["f1"]
        if m["f1"] > best[0] + 1e-12 or (abs(m["f1"] - best[0]) <= 1e-12 and abs(thr - 0.5) < abs(best[1] - 0.5)):
            best = (m["f1"], float(thr), m)
    return best[1], best[2], curve


def calibrate(extractor: MarkerRelationExtractor, dev_examples: list[Example]) -> dict:
    """Fit the temperature (binary NLL over every schema-allowed pair x relation of dev) and then
    the threshold (best strict micro-F1 on dev, gold entities); set both on the extractor and in
    its config (with 'dev_metrics'). Returns them with the dev metrics and ECE before/after."""
    codec, schema, R = extractor.codec, extractor.schema, len(extractor.relations)
    dev = label_instances(codec, dev_examples, schema)
    extractor.temperature = 1.0
    raw = extractor.score_instances(dev)
    lg, lb = [], []
    for x, p in zip(dev, raw):
        tys = x._types  # type: ignore[attr-defined]
        for n, (h, t) in enumerate(x.pairs):
            allowed = codec.allowed[tys[h], tys[t]]
            pr = np.clip(p[n][allowed].astype(np.float64), 1e-12, 1 - 1e-12)
            lg.append(np.log(pr / (1 - pr)))
            row = np.zeros(R, dtype=np.float64)
            row[x.labels[n]] = 1
            lb.append(row[allowed])
    lg_a = np.concatenate(lg) if lg else np.zeros(0)
    lb_a = np.concatenate(lb) if lb else np.zeros(0)
    T = fit_temperature(lg_a, lb_a)
    extractor.temperature = T
    thr, m, _ = sweep_thresholds(extractor, dev, extractor.score_instances(dev), dev_examples, schema)
    extractor.threshold = thr
    before, after = ece(1 / (1 + np.exp(-lg_a)), lb_a), ece(1 / (1 + np.exp(-lg_a / T)), lb_a)
    cfg = extractor.config
    cfg.update({"temperature": round(T, 4), "threshold": thr})
    cfg["dev_metrics"] = {k: m[k] for k in ("precision", "recall", "f1", "macro_f1")}
    cfg["dev_metrics"]["per_relation"] = {r: {k: v[k] for k in ("precision", "recall", "f1", "gold")}
                                          for r, v in m["per_relation"].items()}
    cfg["dev_metrics"].update({"ece_before": before, "ece_after": after, "sentences": len(dev_examples)})
    return {"temperature": T, "threshold": thr, "dev": m, "dev_ece_before": before, "dev_ece_after": after}


def recalibrate_artifact(path: str | Path, dev_examples: list[Example], precision: str | None = None) -> dict:
    """Refit temperature and threshold of a saved artifact on dev, running in `precision`
    (int8 or fp32; None: the artifact's own), which becomes the artifact's precision; rewrites
    its config.json, weights untouched."""
    path = Path(path)
    if precision is None and (path / "config.json").is_file():
        # exactly the artifact's, even where inference would run it in fp32 for speed
        precision = json.loads((path / "config.json").read_text(encoding="utf-8")).get("precision", "fp32")
    ext = MarkerRelationExtractor.load(path, precision=precision)
    if precision and ext.precision != precision:
        raise ModelLoadError(f"{precision} inference is not available here (CPU with torch._int_mm needed)")
    cal = calibrate(ext, dev_examples)
    ext.config["precision"] = ext.precision
    cal["precision"] = ext.precision
    (path / "config.json").write_text(json.dumps(ext.config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return cal


def record_calibration_command(path: str | Path, command: str) -> dict:
    """Note in an artifact's config.json the command that calibrated it (its model card shows it);
    returns the config."""
    cfg_path = Path(path) / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.setdefault("training", {})["calibration_command"] = command
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return cfg
