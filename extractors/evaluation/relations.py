"""Relation evaluation: strict micro/macro F1 of a marker relation model with the gold entities
and end to end (with an NER model's entities), the relation step's speed, and the reports."""

from __future__ import annotations

import time
from pathlib import Path

from extractors.datasets import Example
from extractors.evaluation.metrics import gold_sets, prf, relation_key, score_sets, snap_to_tokens
from kg.types import Chunk, Mention


def example_chunks(examples: list[Example]) -> list[Chunk]:
    """One single-sentence chunk per example (its whole text)."""
    return [Chunk(id=f"eval:{i}", doc_id=f"eval{i}", index=0, text=ex.text, start=0, end=len(ex.text),
                  sentences=[(0, len(ex.text))]) for i, ex in enumerate(examples)]


def _pred_sets(model, mentions, relations):
    out = []
    for ms, rels in zip(mentions, relations):
        keys = set()
        for r in rels:
            h, t = ms[r.head], ms[r.tail]
            sym = model.schema.relation_types[r.type].symmetric
            keys.add(relation_key((h.start, h.end, model.type_of(h)), (t.start, t.end, model.type_of(t)), r.type, sym))
        out.append(keys)
    return out


def _timed_extract(model, chunks, mentions):
    model.extract(chunks[:8], mentions[:8])  # warm-up, not timed
    t0 = time.perf_counter()
    rels = model.extract(chunks, mentions)
    return rels, time.perf_counter() - t0


def evaluate(model, examples, ner=None, snap: bool = False) -> dict:
    """Scores of a MarkerRelationExtractor on examples: strict micro/macro F1 with gold entities
    and, given an entity extractor, end to end. snap: widen NER spans to whole whitespace
    tokens first (token-built datasets)."""
    schema = model.schema
    chunks = example_chunks(examples)
    gold = gold_sets(examples, schema)
    gold_mentions = [[Mention(ex.text[e.start:e.end], e.type, e.start, e.end, chunks[i].id)
                      for e in ex.entities] for i, ex in enumerate(examples)]
    rels, secs = _timed_extract(model, chunks, gold_mentions)
    res = {"sentences": len(examples), "gold_relations": sum(map(len, gold)),
           "gold_entities": score_sets(gold, _pred_sets(model, gold_mentions, rels), model.relations),
           "gold_entities_speed": {"seconds": secs, "sentences_per_second": len(examples) / secs if secs else None}}
    if ner is not None:
        t0 = time.perf_counter()
        ner_mentions = ner.extract(chunks)
        ner_secs = time.perf_counter() - t0
        if snap:
            for ex, ms in zip(examples, ner_mentions):
                for m in ms:
                    m.start, m.end = snap_to_tokens(ex.text, m.start, m.end)
                    m.text = ex.text[m.start:m.end]
        g_ents = [{(e.start, e.end, e.type) for e in ex.entities} for ex in examples]
        p_ents = [{(m.start, m.end, model.type_of(m)) for m in ms} for ms in ner_mentions]
        rels, secs = _timed_extract(model, chunks, ner_mentions)
        res["end_to_end"] = score_sets(gold, _pred_sets(model, ner_mentions, rels), model.relations)
        res["end_to_end_speed"] = {"seconds": secs, "sentences_per_second": len(examples) / secs if secs else None,
                                   "ner_seconds": ner_secs}
        res["ner"] = prf(sum(len(a & b) for a, b in zip(g_ents, p_ents)), sum(map(len, p_ents)), sum(map(len, g_ents)))
    return res


def _rate(x: float) -> str:
    """Sentences/s: whole numbers, or two decimals for a slow (generative) model."""
    return f"{x:.0f}" if x >= 10 else f"{x:.2f}"


def _fmt(m: dict) -> str:
    return f"{m['precision'] * 100:6.2f} {m['recall'] * 100:6.2f} {m['f1'] * 100:6.2f}"


def format_report(res: dict) -> str:
    lines = [f"dataset {res['dataset']} ({res['sentences']} sentences, {res['gold_relations']} relations); "
             f"model {res['model']} (threshold {res['threshold']:.2f}, temperature {res['temperature']:.3f})", "",
             f"{'strict micro':<34} {'P':>6} {'R':>6} {'F1':>6}  macro-F1"]
    g = res["gold_entities"]
    lines.append(f"{'gold entities':<34} {_fmt(g)}  {g['macro_f1'] * 100:6.2f}")
    e = res.get("end_to_end")
    if e:
        lines.append(f"{'end-to-end (NER: ' + Path(res['ner_model']).name + ')':<34} {_fmt(e)}  {e['macro_f1'] * 100:6.2f}")
        lines.append(f"{'NER spans only':<34} {_fmt(res['ner'])}")
    else:
        lines.append(f"{'end-to-end':<34} skipped: {res.get('end_to_end_skipped', 'no NER model')}")
    lines += ["", f"{'per relation':<16} {'gold':>5}  {'P':>6} {'R':>6} {'F1':>6}" + ("  | end-to-end P R F1" if e else "")]
    for r, v in g["per_relation"].items():
        row = f"{r:<16} {v['gold']:>5}  {_fmt(v)}"
        if e:
            row += "  | " + _fmt(e["per_relation"][r])
        lines.append(row)
    sp = res["gold_entities_speed"]["sentences_per_second"]
    lines += ["", f"relation step: {_rate(sp)} sentences/s with gold entities"
              + (f", {_rate(res['end_to_end_speed']['sentences_per_second'])} sentences/s with NER entities" if e else "")
              + f" ({res['threads']} torch threads, {res.get('precision', 'fp32')})"]
    return "\n".join(lines)


def results_markdown(res: dict, command: str) -> str:
    """A model-card section for one `kg eval relations` result."""
    g, e = res["gold_entities"], res.get("end_to_end")
    sp = res["gold_entities_speed"]["sentences_per_second"]
    lines = [f"### {res['dataset']} ({res['sentences']} sentences, {res['gold_relations']} relations)", "",
             "```", command, "```", "", "| setting | P | R | micro-F1 | macro-F1 |", "|---|---|---|---|---|",
             f"| gold entities | {g['precision'] * 100:.2f} | {g['recall'] * 100:.2f} | {g['f1'] * 100:.2f} | "
             f"{g['macro_f1'] * 100:.2f} |"]
    if e:
        n = res["ner"]
        lines += [f"| end-to-end, NER `{Path(res['ner_model']).name}` | {e['precision'] * 100:.2f} | "
                  f"{e['recall'] * 100:.2f} | {e['f1'] * 100:.2f} | {e['macro_f1'] * 100:.2f} |",
                  f"| (NER spans alone) | {n['precision'] * 100:.2f} | {n['recall'] * 100:.2f} | {n['f1'] * 100:.2f} | |"]
    lines += ["", "| relation | gold | P | R | F1 |" + (" e2e P | e2e R | e2e F1 |" if e else ""),
              "|---|---|---|---|---|" + ("---|---|---|" if e else "")]
    for r, v in g["per_relation"].items():
        row = f"| {r} | {v['gold']} | {v['precision'] * 100:.1f} | {v['recall'] * 100:.1f} | {v['f1'] * 100:.1f} |"
        if e:
            w = e["per_relation"][r]
            row += f" {w['precision'] * 100:.1f} | {w['recall'] * 100:.1f} | {w['f1'] * 100:.1f} |"
        lines.append(row)
    lines += ["", f"Relation step: {_rate(sp)} sentences/s with gold entities"
              + (f", {_rate(res['end_to_end_speed']['sentences_per_second'])} with NER entities" if e else "")
              + f" ({res['threads']} torch threads, {res.get('precision', 'fp32')} inference; wall clock on the "
              "machine that ran it)."]
    return "\n".join(lines)
