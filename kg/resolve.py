"""Entity resolution: mentions -> entities, across the batch and the entities already stored.

Rules, cheapest first (all within one entity type):
1. same normalised name key ("The Apple Inc." ~ "apple");
2. within one document, a one-word person name joins the only full name ending
   or starting with it ("Cook" -> "Tim Cook");
3. acronym of a multi-word name ("IBM" ~ "International Business Machines");
4. cosine similarity of name embeddings >= threshold (default 0.9, chosen on
   Re-DocRED: bench/resolution_threshold.py).
Each rule is checked against the batch AND the store, so resolution works
across runs. A stored entity keeps its id; new ones get a deterministic id.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from kg.types import Entity, Mention

if TYPE_CHECKING:
    from kg.embed import Embedder
    from kg.stores.base import GraphStore

_CORP_SUFFIX = re.compile(
    r"\b(inc|incorporated|corp|corporation|ltd|limited|llc|plc|co|gmbh|ag|sa|nv|bv)\.?$"
)
_PUNCT = re.compile(r"[^\w&\s]")
_ACRONYM_TYPES = {"Organization", "Misc", "Location", "Org", "Loc", "Other"}
_STOP = {"of", "the", "and", "for", "de", "du", "la", "&", "in", "on", "at"}


def name_key(name: str) -> str:
    """Normalised name for exact matching: case, punctuation, 'the', possessive and corporate suffix removed."""
    s = unicodedata.normalize("NFKC", name).lower().strip()
    s = re.sub(r"['’]s$", "", s)
    s = _PUNCT.sub(" ", s)
    s = " ".join(s.split())
    if s.startswith("the "):
        s = s[4:]
    stripped = _CORP_SUFFIX.sub("", s).strip()
    return stripped or s


def acronym(name: str) -> str | None:
    """'International Business Machines' -> 'ibm'; None for one-word names or names with digits."""
    words = [w for w in re.split(r"[\s\-]+", unicodedata.normalize("NFKC", name)) if w]
    if any(ch.isdigit() for w in words for ch in w):
        return None  # "2002 Winter Olympics" is not "WO"
    words = [w for w in words if w.lower() not in _STOP and w[0].isalpha()]
    while words and _CORP_SUFFIX.fullmatch(words[-1].lower()):
        words.pop()  # "... Machines Corp." -> IBM, not IBMC
    if len(words) < 2:
        return None
    return "".join(w[0] for w in words).lower()


def _short_caps(name: str) -> str | None:
    """'IBM', 'U.K.' -> 'ibm', 'uk': a name that is itself an acronym."""
    compact = name.replace(".", "").strip()
    if compact.isupper() and compact.isalpha() and 2 <= len(compact) <= 6:
        return compact.lower()
    return None


# Acronym keys come in two kinds so that a long name only ever matches a short
# all-caps one: "~ibm" is stored for "International Business Machines" and
# "^ibm" for "IBM"; each looks up the other kind. Two long names with the same
# initials ("Misraq Gojjam", "Mirab Gojjam") never meet.
def alias_keys(names: Sequence[str], type: str) -> list[str]:
    """The keys an entity with these names is stored (and found) under."""
    keys = {name_key(n) for n in names}
    if type in _ACRONYM_TYPES:
        for n in names:
            if (a := acronym(n)) is not None:
                keys.add("~" + a)
            if (c := _short_caps(n)) is not None:
                keys.add("^" + c)
    keys.discard("")
    return sorted(keys)


def lookup_keys(names: Sequence[str], type: str) -> list[str]:
    """The keys to search for an entity with these names."""
    keys = {name_key(n) for n in names}
    if type in _ACRONYM_TYPES:
        for n in names:
            if (a := acronym(n)) is not None:
                keys.add("^" + a)
            if (c := _short_caps(n)) is not None:
                keys.add("~" + c)
    keys.discard("")
    return sorted(keys)


def entity_id(type: str, name: str) -> str:
    return "ent-" + hashlib.sha1(f"{type}|{name_key(name)}".encode()).hexdigest()[:16]


@dataclass
class DocMention:
    doc_id: str
    mention: Mention


@dataclass
class Resolution:
    entity_ids: list[str]  # parallel to the input mentions
    entities: list[Entity]  # new entities, and stored ones with the names this batch adds
    merged_into_store: int = 0  # clusters that matched a stored entity
    stats: dict[str, int] = field(default_factory=dict)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # smallest index wins: deterministic


def _canonical(surfaces: Counter) -> str:
    # most frequent surface form; ties go to the longer, then alphabetical
    return sorted(surfaces.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0][0]


class EntityResolver:
    def __init__(self, embedder: "Embedder", threshold: float = 0.9, store_candidates: int = 5):
        self.embedder = embedder
        self.threshold = threshold
        self.store_candidates = store_candidates

    def resolve(self, mentions: Sequence[DocMention], store: "GraphStore | None" = None) -> Resolution:
        if not mentions:
            return Resolution([], [])
        # 1. clusters by (type, key) - across documents of the batch
        cluster_of: dict[tuple[str, str], int] = {}
        members: list[list[int]] = []
        types: list[str] = []
        for i, dm in enumerate(mentions):
            ck = (dm.mention.type, name_key(dm.mention.text))
            if ck not in cluster_of:
                cluster_of[ck] = len(members)
                members.append([])
                types.append(dm.mention.type)
            members[cluster_of[ck]].append(i)
        n = len(members)
        uf = _UnionFind(n)
        surfaces = [Counter(mentions[i].mention.text for i in m) for m in members]

        # 2. one-word person names within a document
        by_doc_person: dict[str, list[int]] = defaultdict(list)
        for c in range(n):
            for i in members[c]:
                if mentions[i].mention.type in ("Person", "Peop", "PER"):
                    by_doc_person[mentions[i].doc_id].append(c)
        for doc_clusters in by_doc_person.values():
            clusters = sorted(set(doc_clusters))
            full = [c for c in clusters if len(name_key(_canonical(surfaces[c])).split()) > 1]
            for c in clusters:
                words = name_key(_canonical(surfaces[c])).split()
                if len(words) != 1:
                    continue
                hits = [f for f in full if words[0] in (name_key(_canonical(surfaces[f])).split()[-1],
                                                        name_key(_canonical(surfaces[f])).split()[0])]
                if len(hits) == 1:
                    uf.union(c, hits[0])

        # 3. shared keys (incl. acronyms) within the batch
        keys = [lookup_keys(list(surfaces[c]), types[c]) for c in range(n)]
        holders: dict[tuple[str, str], int] = {}
        for c in range(n):
            for k in alias_keys(list(surfaces[c]), types[c]):
                holders.setdefault((types[c], k), c)
        for c in range(n):
            for k in keys[c]:
                if (other := holders.get((types[c], k))) is not None:
                    uf.union(c, other)

        # 4. embeddings of canonical names, compared within the batch
        names = [_canonical(s) for s in surfaces]
        vecs = self.embedder.embed(names)
        by_type: dict[str, list[int]] = defaultdict(list)
        for c in range(n):
            by_type[types[c]].append(c)
        for idx in by_type.values():
            if len(idx) < 2:
                continue
            sims = vecs[idx] @ vecs[idx].T
            rows, cols = np.nonzero(np.triu(sims >= self.threshold, k=1))
            for a, b in zip(rows, cols):
                uf.union(idx[a], idx[b])

        # 5. groups, matched against the store by key, then by embedding
        groups: dict[int, list[int]] = defaultdict(list)
        for c in range(n):
            groups[uf.find(c)].append(c)
        stored_for: dict[int, Entity] = {}
        if store is not None:
            all_keys = sorted({k for c in range(n) for k in keys[c]})
            found = store.find_entities_by_alias(all_keys) if all_keys else {}
            for root, cs in groups.items():
                gtype = types[root]
                cands: dict[str, Entity] = {}
                for c in cs:
                    for k in keys[c]:
                        for e in found.get(k, []):
                            if e.type == gtype:
                                cands[e.id] = e
                if cands:
                    stored_for[root] = sorted(cands.values(), key=lambda e: (-e.mentions, e.id))[0]
            for root, cs in groups.items():
                if root in stored_for:
                    continue
                best = None
                for hit in store.similar_entities(vecs[root].tolist(), self.store_candidates, type=types[root]):
                    if hit.score >= self.threshold and (best is None or hit.score > best.score):
                        best = hit
                if best is not None:
                    stored_for[root] = best.item

        # 6. one Entity per group
        entity_ids = [""] * len(mentions)
        entities: list[Entity] = []
        for root in sorted(groups):
            cs = groups[root]
            surf = Counter()
            for c in cs:
                surf.update(surfaces[c])
            aliases = sorted(surf)
            stored = stored_for.get(root)
            if stored is not None:
                ent = Entity(stored.id, stored.name, stored.type, sorted(set(aliases) | set(stored.aliases)),
                             stored.embedding, stored.mentions)
            else:
                name = _canonical(surf)
                best_c = max(cs, key=lambda c: (surfaces[c].get(name, 0), -c))
                ent = Entity(entity_id(types[root], name), name, types[root], aliases, vecs[best_c].tolist())
            entities.append(ent)
            for c in cs:
                for i in members[c]:
                    entity_ids[i] = ent.id
        return Resolution(
            entity_ids, entities, merged_into_store=len(stored_for),
            stats={"mentions": len(mentions), "clusters": n, "entities": len(entities)},
        )
