"""Training instances of the marker relation model: gold labels per candidate pair, and the
entity-noise augmentation (NER-like errors) of the training examples."""

from __future__ import annotations

import random

from extractors.datasets import Example, RelationAnn, SpanAnn
from extractors.relations.marker import Instance, MarkerCodec
from graph_schema import Schema


def label_instances(codec: MarkerCodec, examples: list[Example], schema: Schema) -> list[Instance]:
    """The examples encoded with their gold relation indices per candidate pair (symmetric
    relations in both directions)."""
    ents = [[(e.start, e.end, e.type) for e in ex.entities] for ex in examples]
    insts = codec.encode([ex.text for ex in examples], ents)
    rel_index = {r: i for i, r in enumerate(codec.relations)}
    for ex, x, en in zip(examples, insts, ents):
        x._types = [codec.type_index[en[k][2]] for k in x.ents]  # type: ignore[attr-defined]
        id_to_kept = {ex.entities[k].id: n for n, k in enumerate(x.ents)}
        gold: dict[tuple[int, int], set[int]] = {}
        for r in ex.relations:
            if r.type not in rel_index or r.head not in id_to_kept or r.tail not in id_to_kept:
                continue
            h, t = id_to_kept[r.head], id_to_kept[r.tail]
            gold.setdefault((h, t), set()).add(rel_index[r.type])
            if schema.relation_types[r.type].symmetric:
                gold.setdefault((t, h), set()).add(rel_index[r.type])
        x.labels = [sorted(gold.get(p, ())) for p in x.pairs]
    return insts


def corrupt_entities(examples: list[Example], rate: float, entity_types: list[str], rng: random.Random) -> list[Example]:
    """Copies of the examples where each entity, with probability `rate`, gets the kind of error
    an NER model makes - a wrong type, or a boundary one whitespace token too short or too long -
    and loses its relations. Trains the classifier to answer "none" for such entities, which is
    what strict end-to-end scoring rewards."""
    out = []
    for ex in examples:
        text = ex.text
        taken = [(e.start, e.end) for e in ex.entities]
        ents, broken = [], set()
        for e in ex.entities:
            if rng.random() >= rate:
                ents.append(e)
                continue
            s, t, typ = e.start, e.end, e.type
            kind = rng.choice(("type", "shrink", "grow"))
            if kind == "type" and len(entity_types) > 1:
                typ = rng.choice([x for x in entity_types if x != e.type])
            elif kind == "shrink" and " " in text[s:t]:
                if rng.random() < 0.5:
                    s = text.index(" ", s, t) + 1
                else:
                    t = text.rindex(" ", s, t)
            else:
                if rng.random() < 0.5 and s > 1:
                    ns = text.rfind(" ", 0, s - 1) + 1
                    if any(c.isalnum() for c in text[ns:s]) and not any(a < s and b > ns for a, b in taken if (a, b) != (e.start, e.end)):
                        s = ns
                elif t < len(text) - 1:
                    nt = text.find(" ", t + 1)
                    nt = len(text) if nt < 0 else nt
                    if any(c.isalnum() for c in text[t:nt]) and not any(a < nt and b > t for a, b in taken if (a, b) != (e.start, e.end)):
                        t = nt
            if (s, t, typ) == (e.start, e.end, e.type) or not text[s:t].strip():
                ents.append(e)
                continue
            ents.append(SpanAnn(e.id, s, t, typ))
            broken.add(e.id)
        rels = [RelationAnn(r.head, r.tail, r.type) for r in ex.relations if r.head not in broken and r.tail not in broken]
        out.append(Example(ex.id, text, ents, rels))
    return out
