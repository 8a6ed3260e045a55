"""Strict scores shared by every evaluation: P/R/F1, relation sets, entity spans.

Strict means exact: a relation counts only when head span and type, tail span and type and
the relation all equal a gold one's; an entity only when its start, end and type do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from extractors.datasets import Example
from graph_schema import Schema

Span = tuple[int, int, str]  # (start, end, type)


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "pred": n_pred, "gold": n_gold}


# --- relations


def relation_key(head: tuple, tail: tuple, rel: str, symmetric: bool) -> tuple:
    if symmetric and tail < head:
        head, tail = tail, head
    return (head, tail, rel)


def score_sets(gold: list[set], pred: list[set], relations: Iterable[str]) -> dict:
    """Strict micro/macro P/R/F1 over per-example sets of (head, tail, relation) keys, where
    head/tail carry span and type. Per-relation scores under 'per_relation'."""
    relations = list(relations)
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    per = {}
    for r in relations:
        g_r = [{k for k in g if k[2] == r} for g in gold]
        p_r = [{k for k in p if k[2] == r} for p in pred]
        per[r] = prf(sum(len(a & b) for a, b in zip(g_r, p_r)), sum(map(len, p_r)), sum(map(len, g_r)))
    scored = [v for v in per.values() if v["gold"] or v["pred"]]
    macro = sum(v["f1"] for v in scored) / len(scored) if scored else 0.0
    return {**prf(tp, n_pred, n_gold), "macro_f1": macro, "per_relation": per}


def gold_sets(examples: list[Example], schema: Schema) -> list[set]:
    out = []
    for ex in examples:
        ents = {e.id: (e.start, e.end, e.type) for e in ex.entities}
        sym = lambda r: bool(schema.relation_types.get(r) and schema.relation_types[r].symmetric)  # noqa: E731
        out.append({relation_key(ents[r.head], ents[r.tail], r.type, sym(r.type)) for r in ex.relations})
    return out


# --- entity spans


@dataclass
class TypeScore:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn


def _type_score(tp: int, fp: int, fn: int) -> TypeScore:
    m = prf(tp, tp + fp, tp + fn)
    return TypeScore(m["precision"], m["recall"], m["f1"], tp, fp, fn)


def score_spans(gold: Iterable[Iterable[Span]], pred: Iterable[Iterable[Span]]) -> tuple[TypeScore, dict[str, TypeScore]]:
    """Strict micro and per-type P/R/F1 of (start, end, type) spans, sentence by sentence."""
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        gs, ps = set(g), set(p)
        for s in gs | ps:
            c = counts.setdefault(s[2], [0, 0, 0])
            if s in gs and s in ps:
                c[0] += 1
            elif s in ps:
                c[1] += 1
            else:
                c[2] += 1
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    return _type_score(tp, fp, fn), {t: _type_score(*c) for t, c in counts.items()}


def snap_to_tokens(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to whole whitespace-delimited tokens.

    For datasets whose text is their tokens joined by spaces (CoNLL04,
    CoNLL-2003): a gold entity always covers whole dataset tokens, so a
    prediction is mapped onto those tokens the way token-level scorers do
    ("Kosovo" inside the dataset token "Kosovo." becomes "Kosovo.").
    """
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end
