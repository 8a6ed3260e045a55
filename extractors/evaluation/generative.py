"""Span-mode scores of a generative relation model on triple datasets (WebNLG*, Text2KGBench):
no entities are given; the model reads each item's relation inventory in its prompt and writes
(subject, relation, object) spans of the sentence.

A triple is correct when its relation matches and both spans match the gold strings (case-
insensitive; WebNLG*: the spans' last words, the "partial match" convention). Gold triples whose
subject or object is not a span of the sentence (Text2KGBench's normalised dates, for instance)
stay in the denominator: no span extractor can find them, and the score says so.
"""

from __future__ import annotations

import time
from collections import defaultdict

from extractors.evaluation.metrics import prf


def _key(s: str, last_word: bool) -> str:
    s = " ".join(s.lower().split())
    return s.split(" ")[-1] if last_word and s else s


def evaluate_triples(model, items, last_word: bool = False) -> dict:
    """P/R/F1 of model.extract_spans over items (extractors.training.generative.GenItem), grouped by
    relation inventory so each prompt lists its own item's relations."""
    groups: dict[int, list[int]] = defaultdict(list)
    for i, it in enumerate(items):
        groups[id(it.inventory)].append(i)
    preds: list[list] = [[] for _ in items]
    t0 = time.perf_counter()
    for idx in groups.values():
        inv = items[idx[0]].inventory
        out = model.extract_spans([items[i].text for i in idx], specs=inv, describe=items[idx[0]].describe)
        for i, triples in zip(idx, out):
            preds[i] = triples
    secs = time.perf_counter() - t0
    tp = n_pred = n_gold = 0
    in_text = 0
    for it, triples in zip(items, preds):
        gold = {(_key(it.text[h[0]:h[1]], last_word), r, _key(it.text[t[0]:t[1]], last_word)) for h, r, t in it.triples}
        gold |= {(_key(h, last_word), r, _key(t, last_word)) for h, r, t in getattr(it, "unmatched", [])}
        in_text += len(it.triples)
        pred = {(_key(it.text[h[0]:h[1]], last_word), r, _key(it.text[t[0]:t[1]], last_word)) for h, r, t, _ in triples}
        tp += len(gold & pred)
        n_pred += len(pred)
        n_gold += len(gold)
    return {"sentences": len(items), "gold_triples": n_gold, "gold_triples_in_text": in_text,
            "triples": prf(tp, n_pred, n_gold),
            "speed": {"seconds": secs, "sentences_per_second": len(items) / secs if secs else None}}


def format_triples_report(res: dict) -> str:
    m = res["triples"]
    return (f"dataset {res['dataset']} ({res['sentences']} sentences, {res['gold_triples']} gold triples, "
            f"{res['gold_triples_in_text']} with both ends in the text); model {res['model']} (span mode)\n"
            f"triples: P {m['precision'] * 100:.2f} R {m['recall'] * 100:.2f} F1 {m['f1'] * 100:.2f}\n"
            f"{res['speed']['sentences_per_second']:.2f} sentences/s ({res['threads']} torch threads)")


def triples_markdown(res: dict, command: str) -> str:
    m = res["triples"]
    return "\n".join([
        f"### {res['dataset']} (span mode: {res['sentences']} sentences, {res['gold_triples']} gold triples, "
        f"{res['gold_triples_in_text']} with both ends in the text)", "", "```", command, "```", "",
        "| P | R | F1 | sentences/s |", "|---|---|---|---|",
        f"| {m['precision'] * 100:.2f} | {m['recall'] * 100:.2f} | {m['f1'] * 100:.2f} | "
        f"{res['speed']['sentences_per_second']:.2f} ({res['threads']} threads) |"])
