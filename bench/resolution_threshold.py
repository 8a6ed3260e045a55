"""Choose the entity-resolution similarity threshold on data (Re-DocRED), and count wrong merges of near misses.

Re-DocRED lists, per document, each entity with every name it goes by
("Wilfried Schneider", "Schneider"). Two scores, both pairwise precision/recall/F1:

- Re-DocRED: the real resolver runs on each document's names alone, and its clusters
  are scored against the gold entities over distinct (entity, name) items.
- with near misses: the same, plus the wrong merges among added pairs of different
  entities, where a wrong merge is most likely: distinct names of one type that share a
  content word ("Richard Nguyen" / "John Nguyen", "Acme Corporation" / "Acme Industries").
  They add errors only, so recall is Re-DocRED's.
  - Re-DocRED across documents: all documents of a half are resolved as one batch. Two
    names of one type from different documents that share a content word are a near miss
    when one has a content word the other lacks (a one-letter word matches its initial)
    and no document lists them as names of one entity. A wrong merge is counted once per
    such name pair whose names became one entity across two documents.
  - generated documents: people recombined from a few first names and surnames,
    organisations from a few first words ("Acme Corporation", "Acme Corp.", "Acme
    Industries"). Each document names two people and two organisations, a person also
    by surname alone ("Nguyen") or first name alone when unambiguous in the document, or
    as "Nguyen, Richard" or "R. Nguyen" (Richard, or Robert in another document). All
    documents of a half are one batch; every pair of distinct (entity, name) items of two
    entities counts a wrong merge when some of their mentions became one entity (except
    two entities' identical names, which no resolver can tell apart).
  Near-miss pairs within Re-DocRED documents are scored by the first score already; their
  wrong merges are also shown apart.

The threshold is chosen on the first half of the documents (file order; generated
documents with seed 1) and reported on the second half (seed 2). A wrong merge corrupts
facts while a missed one only leaves a duplicate node, so the threshold maximises F0.5
(precision weighted) with near misses.

    .venv/bin/python bench/resolution_threshold.py [--datasets-dir DIR] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import unicodedata
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from graph_schema import load_schema  # noqa: E402
from kg.config import get_settings  # noqa: E402
from kg.embed import get_embedder  # noqa: E402
from kg.resolve import DocMention, EntityResolver  # noqa: E402
from kg.types import Mention  # noqa: E402

TYPES = {"PER": "Person", "ORG": "Organization", "LOC": "Location", "MISC": "Misc"}
THRESHOLDS = [0.50, 0.60, 0.70, 0.75, 0.80, 0.825, 0.85, 0.875, 0.90, 0.95, 1.01]
GENERATED_DOCS = 300  # per half
# the bench's own notion of a content word, independent of the resolver it measures
_NOT_CONTENT = {"of", "the", "and", "for", "de", "du", "la", "in", "on", "at", "inc", "incorporated", "corp",
                "corporation", "ltd", "limited", "llc", "plc", "co", "gmbh", "ag", "sa", "nv", "bv"}


class CachedEmbedder:
    def __init__(self, inner):
        self.inner, self.dim, self.name, self.cache = inner, inner.dim, inner.name, {}

    def embed(self, texts):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, v in zip(missing, self.inner.embed(missing)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)


def words(name: str) -> set[str]:
    folded = "".join(c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)).casefold()
    return {w for w in re.findall(r"[^\W_]+", folded) if w not in _NOT_CONTENT}


def _lacks(a: set[str], b: set[str]) -> bool:
    """a has a word that no word of b matches (a one-letter word matches its initial)."""
    return any(not any(x == y or (min(len(x), len(y)) == 1 and x[0] == y[0]) for y in b) for x in a)


def near_miss(a: str, b: str) -> bool:
    """Distinct names that share a content word: one has a content word the other lacks."""
    wa, wb = words(a), words(b)
    return any(len(w) > 1 for w in wa & wb) and (_lacks(wa, wb) or _lacks(wb, wa))


def doc_items(doc) -> list[tuple[int, str, str]]:
    """(gold entity index, name, type) for each distinct name; names shared by two entities are dropped."""
    owners: dict[str, set[int]] = {}
    items = []
    for ei, mentions in enumerate(doc["vertexSet"]):
        etype = TYPES.get(mentions[0]["type"])
        if etype is None:
            continue
        for name in sorted({m["name"] for m in mentions}):
            owners.setdefault(name, set()).add(ei)
            items.append((ei, name, etype))
    return [it for it in items if len(owners[it[1]]) == 1]


class Counts:
    def __init__(self):
        self.tp = self.fp = self.fn = 0
        self.near = defaultdict(lambda: [0, 0])  # kind -> [pairs, wrongly merged]

    def pairs(self, items, pred, kind_of=None) -> None:
        """items: (gold id, doc, name, type) parallel to pred (entity ids); every pair is scored."""
        for a, b in itertools.combinations(range(len(items)), 2):
            same_gold, same_pred = items[a][0] == items[b][0], pred[a] == pred[b]
            self.tp += same_gold and same_pred
            self.fp += same_pred and not same_gold
            self.fn += same_gold and not same_pred
            if not same_gold and items[a][3] == items[b][3] and kind_of is not None:
                kind = kind_of(items[a], items[b])
                if kind is not None:
                    self.near[kind][0] += 1
                    self.near[kind][1] += same_pred

    def add(self, other: "Counts") -> "Counts":
        out = Counts()
        out.tp, out.fp, out.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn
        for src in (self, other):
            for k, (n, wrong) in src.near.items():
                out.near[k][0] += n
                out.near[k][1] += wrong
        return out

    def scores(self) -> dict:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f = lambda beta: (1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0  # noqa: E731
        return {"precision": p, "recall": r, "f1": f(1.0), "f0_5": f(0.5), "gold_pairs": self.tp + self.fn,
                "wrong_merges": self.fp, "near_misses": {k: {"pairs": n, "wrong": w} for k, (n, w) in
                                                         sorted(self.near.items())}}


def _within_doc_near_miss(a, b):
    return "Re-DocRED within a document" if near_miss(a[2], b[2]) else None


def score_documents(docs, resolver) -> Counts:
    """Each Re-DocRED document's names resolved alone, as the original benchmark does."""
    counts = Counts()
    for di, doc in enumerate(docs):
        items = [(ei, f"d{di}", name, etype) for ei, name, etype in doc_items(doc)]
        if len(items) < 2:
            continue
        pred = resolver.resolve([DocMention(d, Mention(name, t, 0, 0)) for _, d, name, t in items]).entity_ids
        counts.pairs(items, pred, _within_doc_near_miss)
    return counts


def score_across_documents(docs, resolver) -> Counts:
    """All documents as one batch; wrong merges among mined cross-document near-miss name pairs."""
    items = [(f"d{di}", name, etype) for di, doc in enumerate(docs) for _, name, etype in doc_items(doc)]
    pred = resolver.resolve([DocMention(d, Mention(name, t, 0, 0)) for d, name, t in items]).entity_ids
    coref = set()  # name pairs that some document gives one entity
    for doc in docs:
        by_entity = defaultdict(set)
        for ei, name, _ in doc_items(doc):
            by_entity[ei].add(name.casefold())
        for names in by_entity.values():
            coref.update(itertools.permutations(names, 2))
    docs_of: dict[tuple[str, str], dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # name -> id -> docs
    for (doc, name, t), eid in zip(items, pred):
        docs_of[(t, name)][eid].add(doc)
    by_word: dict[tuple[str, str], set[str]] = defaultdict(set)
    for t, name in docs_of:
        for w in words(name):
            if len(w) > 1:
                by_word[(t, w)].add(name)
    seen, counts = set(), Counts()
    for (t, _), names in sorted(by_word.items()):
        for a, b in itertools.combinations(sorted(names), 2):
            if (t, a, b) in seen or (a.casefold(), b.casefold()) in coref or not near_miss(a, b):
                continue
            seen.add((t, a, b))
            ia, ib = docs_of[(t, a)], docs_of[(t, b)]
            # one entity across two documents: an occurrence of each, in different documents, share an id
            wrong = int(any(len(ia[e] | ib[e]) > 1 for e in ia.keys() & ib.keys()))
            one_word = t == "Person" and (len(words(a)) == 1 or len(words(b)) == 1)
            kind = "Re-DocRED across documents, " + ("a one-word person name" if one_word else "full names")
            counts.near[kind][0] += 1
            counts.near[kind][1] += wrong
            counts.fp += wrong
    return counts


FIRST = ["Richard", "John", "Michael", "Robert", "Donald", "Mary", "Linda", "Susan", "David", "James", "Karen",
         "Thomas"]
LAST = ["Nguyen", "Smith", "Garcia", "Kim", "Müller", "Johnson", "Chen", "Brown"]
ORG_FIRST = ["Acme", "Globex", "Initech", "Pacific", "Summit", "Northwind", "Vertex", "Atlas"]
ORG_KIND = ["", "Industries", "Holdings", "Systems", "Media", "Airlines", "Bank", "Foods"]


def generated_documents(seed: int, n_docs: int = GENERATED_DOCS) -> list[tuple[tuple, str, str, str]]:
    """(gold id, doc, name, type) items of generated documents, two people and two organisations each."""
    rng = random.Random(seed)
    items = []
    for di in range(n_docs):
        doc = f"g{seed}-{di}"
        people = rng.sample([(f, s) for f in FIRST for s in LAST], 2)
        names = set()
        for first, last in people:
            gold = ("person", first, last)
            names.add((gold, f"{first} {last}", "Person"))
            if rng.random() < 0.15:
                names.add((gold, f"{last}, {first}", "Person"))
            if rng.random() < 0.1:
                names.add((gold, f"{first[0]}. {last}", "Person"))  # "R. Nguyen": Richard, Robert or another R.
            if rng.random() < 0.7 and sum(p[1] == last for p in people) == 1:
                names.add((gold, last, "Person"))
            if rng.random() < 0.2 and sum(p[0] == first for p in people) == 1:
                names.add((gold, first, "Person"))
        for first, kind in rng.sample([(f, k) for f in ORG_FIRST for k in ORG_KIND], 2):
            gold = ("org", first, kind)
            base = f"{first} {kind}".strip()
            if kind:
                forms = [base, f"{base} Inc.", f"{base} Ltd"]
            else:
                forms = [f"{base} Corporation", f"{base} Corp.", base]
            for form in rng.sample(forms, rng.choice([1, 1, 2])):
                names.add((gold, form, "Organization"))
        items += [(gold, doc, name, t) for gold, name, t in sorted(names)]
    return items


def score_generated(items, resolver) -> Counts:
    """Wrong merges among distinct (entity, name) items of different entities: one when some occurrences
    of the two got one entity id."""
    pred = resolver.resolve([DocMention(d, Mention(name, t, 0, 0)) for _, d, name, t in items]).entity_ids
    ids: dict[tuple, set[str]] = defaultdict(set)
    for (gold, _, name, t), eid in zip(items, pred):
        ids[(gold, name, t)].add(eid)
    counts = Counts()
    for a, b in itertools.combinations(sorted(ids), 2):
        if a[0] == b[0] or a[2] != b[2] or words(a[1]) == words(b[1]):
            continue  # one entity, or names no resolver can tell apart ("R. Nguyen" of Richard and of Robert)
        if near_miss(a[1], b[1]):
            one_word = a[2] == "Person" and (len(words(a[1])) == 1 or len(words(b[1])) == 1)
            kind = "generated, distinct names sharing a word, " + ("a one-word person name" if one_word
                                                                    else "full names")
        elif words(a[1]) & words(b[1]):
            kind = "generated, an initial of another name (\"R. Nguyen\" of Robert / \"Richard Nguyen\")"
        else:
            kind = "generated, no shared word"
        wrong = int(bool(ids[a] & ids[b]))
        counts.near[kind][0] += 1
        counts.near[kind][1] += wrong
        counts.fp += wrong
    return counts


def order_check(items, resolver, seed: int = 7) -> dict:
    """The generated batch in file order and shuffled: entity counts and whether the partitions agree."""
    def partition(its):
        pred = resolver.resolve([DocMention(d, Mention(name, t, 0, 0)) for _, d, name, t in its]).entity_ids
        groups = defaultdict(set)
        for (_, d, name, _), eid in zip(its, pred):
            groups[eid].add((d, name))
        return {eid: frozenset(g) for eid, g in groups.items()}

    shuffled = list(items)
    random.Random(seed).shuffle(shuffled)
    a, b = partition(items), partition(shuffled)
    return {"entities_in_order": len(a), "entities_shuffled": len(b), "same": a == b}


def evaluate(docs, generated, resolver) -> dict:
    per_doc = score_documents(docs, resolver)
    with_near = per_doc.add(score_across_documents(docs, resolver)).add(score_generated(generated, resolver))
    return {"re_docred": per_doc.scores(), "with_near_misses": with_near.scores()}


def _line(s: dict) -> str:
    return f"P={s['precision']:.3f} R={s['recall']:.3f} F1={s['f1']:.3f} F0.5={s['f0_5']:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets-dir", type=Path, default=get_settings().datasets_dir)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    docs = json.loads((args.datasets_dir / "re-docred" / "dev_revised.json").read_text())
    tune, held = docs[: len(docs) // 2], docs[len(docs) // 2:]
    gen_tune, gen_held = generated_documents(1), generated_documents(2)
    emb = CachedEmbedder(get_embedder())
    schema = load_schema()

    def resolver(t: float) -> EntityResolver:
        return EntityResolver(emb, threshold=t, schema=schema)

    rows = []
    for t in THRESHOLDS:
        rows.append({"threshold": t, **evaluate(tune, gen_tune, resolver(t))})
        print(f"tune  t={t:<6} Re-DocRED {_line(rows[-1]['re_docred'])} | with near misses "
              f"{_line(rows[-1]['with_near_misses'])}", file=sys.stderr)
    best = max(rows, key=lambda r: (r["with_near_misses"]["f0_5"], r["threshold"]))
    t = best["threshold"]
    held_score = evaluate(held, gen_held, resolver(t))
    rules_only = evaluate(held, gen_held, resolver(1.01))
    result = {"chosen_threshold": t, "tune": rows, "held_out": held_score, "held_out_rules_only": rules_only,
              "held_out_generated_order": order_check(gen_held, resolver(t))}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"chosen threshold {t} (tune F0.5 with near misses {best['with_near_misses']['f0_5']:.3f}); held-out:")
    for label, s in (("rules + embeddings", held_score), ("rules alone", rules_only)):
        print(f"  {label:<18} Re-DocRED {_line(s['re_docred'])} | with near misses {_line(s['with_near_misses'])}")
        for kind, c in s["with_near_misses"]["near_misses"].items():
            print(f"      {kind}: {c['wrong']} wrong merges of {c['pairs']} pairs")
    print(f"  generated batch, file order vs shuffled: {result['held_out_generated_order']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
