"""Entity resolution: mentions -> entities, across the batch and the entities already stored.

Rules, all within one entity type (the schema says which types take rules 2 and 3: an
entity type's `person_name` and `acronyms` flags, graph_schema/schema.py):
1. same normalised name key ("The Apple Inc." ~ "apple");
2. a partial person name joins the only full name of its document that fits it: a one-word
   name the full name's first or last word ("Cook" -> "Tim Cook"), a name that starts with an
   initial a compatible one (below: "T. Cook" -> "Tim Cook");
3. a short all-caps name is the acronym of a multi-word name ("IBM" ~ "International
   Business Machines");
4. cosine similarity of name embeddings >= threshold (default 0.7, chosen by
   bench/resolution_threshold.py), between compatible names only (below).
Each rule is checked against the batch AND the store (lookup keys and the vector index), so
resolution works across runs. A stored entity keeps its id; new ones get a deterministic id.
The resolver also computes each entity's lookup keys (Entity.keys); the store only stores them.

Guarantees. Names of person types that are one word or start with an initial ("Nguyen",
"R. Nguyen") are partial: they may stand for several people. All other names are full
names. Two different full names are never merged by rule 2 or by embeddings:
(a) a partial name only joins a full name of its own document: its cluster is per document,
    and it is never a lookup key of an entity that has a full name. Where its document has
    no full name that fits, it merges by key with others like it, in the batch or in the
    store, never with a full name; where it has several ("Obama" with "Barack Obama" and
    "Michelle Obama"), it is an entity of that document alone, with no lookup keys;
(b) an embedding merge, in the batch or against the store, needs compatible names: neither
    has a content word the other lacks. Words compare after case and accent folding,
    legal-form words (inc, corp, ltd, ...) and stopwords are ignored, and a one-letter word
    matches any word with that initial; they must share a whole word. So "Nguyen, Richard" ~
    "Richard Nguyen" and "Acme Corp." ~ "Acme Corporation", but never "Richard Nguyen" ~
    "John Nguyen" or "Acme Corporation" ~ "Acme Industries";
(c) no chaining through conflicts: two groups merge only when every pair of full names
    across them is compatible or an acronym pair (complete linkage). Candidate merges are
    applied strongest first (rules before embeddings, then higher similarity, ties by name),
    so a batch resolves the same whatever the order of its mentions;
(d) a stored entity is taken only when its full names, and those of the groups of this batch
    that already took it, are compatible with the group's full names.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from graph_schema import load_schema
from graph_schema.schema import EntityType, Schema
from kg.timing import Stages
from kg.types import Entity, Mention

if TYPE_CHECKING:
    from kg.embed import Embedder
    from kg.stores.base import GraphStore

_LEGAL_FORMS = ("inc", "incorporated", "corp", "corporation", "ltd", "limited", "llc", "plc", "co", "gmbh", "ag",
                "sa", "nv", "bv")
_CORP_SUFFIX = re.compile(r"\b(" + "|".join(_LEGAL_FORMS) + r")\.?$")
_PUNCT = re.compile(r"[^\w&\s]")
_STOP = {"of", "the", "and", "for", "de", "du", "la", "&", "in", "on", "at"}
_NOT_CONTENT = _STOP | set(_LEGAL_FORMS)
_ROMAN = {"i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x"}  # regnal and ordinal numbers: exact only
_RULE, _EMBEDDING = 0, 1  # candidate ranks: rule matches are applied before embedding matches


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


def is_partial_person_name(name: str, etype: EntityType) -> bool:
    """'Cook' or 'T. Cook' of a person type: it may stand for several people ('Tim Cook', 'Tom Cook').
    A middle initial leaves a name full: 'Timothy D. Cook'."""
    if not etype.person_name:
        return False
    words = name_key(name).split()
    return len(words) <= 1 or _is_initial(words[0])


def _key_names(names: Iterable[str], etype: EntityType) -> list[str]:
    """The names an entity is keyed by: its partial person names only when it has no full name."""
    names = list(names)
    full = [n for n in names if not is_partial_person_name(n, etype)]
    return full or names


# Acronym keys come in two kinds so that a long name only ever matches a short
# all-caps one: "~ibm" is stored for "International Business Machines" and
# "^ibm" for "IBM"; a long name looks up "^", a short one "~" and "^" ("U.S." finds
# "US"). Two long names with the same initials ("Misraq Gojjam", "Mirab Gojjam") never meet.
def alias_keys(names: Sequence[str], etype: EntityType) -> list[str]:
    """The keys an entity with these names is stored (and found) under."""
    names = _key_names(names, etype)
    keys = {name_key(n) for n in names}
    if etype.acronyms:
        for n in names:
            if (a := acronym(n)) is not None:
                keys.add("~" + a)
            if (c := _short_caps(n)) is not None:
                keys.add("^" + c)
    keys.discard("")
    return sorted(keys)


def lookup_keys(names: Sequence[str], etype: EntityType) -> list[str]:
    """The keys to search for an entity with these names."""
    names = _key_names(names, etype)
    keys = {name_key(n) for n in names}
    if etype.acronyms:
        for n in names:
            if (a := acronym(n)) is not None:
                keys.add("^" + a)
            if (c := _short_caps(n)) is not None:
                keys.update(("~" + c, "^" + c))
    keys.discard("")
    return sorted(keys)


def content_words(name: str) -> tuple[str, ...]:
    """The words that tell names apart: case and accents folded, stopwords and legal forms dropped."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", name_key(name)) if not unicodedata.combining(ch))
    return tuple(sorted({w for w in folded.casefold().split() if w not in _NOT_CONTENT}))


def _is_initial(w: str) -> bool:
    return len(w) == 1 and w.isalpha() and w not in _ROMAN


def _words_match(a: str, b: str) -> bool:
    if a == b:
        return True
    # an initial stands for a word: "j" ~ "john"; not for a number or model name ("i" ~ "ii", "s" ~ "s9")
    short, long = sorted((a, b), key=len)
    return _is_initial(short) and long[0] == short and long.isalpha() and long not in _ROMAN


def compatible(a: Sequence[str], b: Sequence[str]) -> bool:
    """Content words (see content_words) of two names: neither has a word the other lacks, and they
    share a whole word (initials alone do not make "U.S." ~ "Soviet Union")."""
    if set(a) == set(b):
        return True
    if not {w for w in set(a) & set(b) if not _is_initial(w)}:
        return False
    return all(any(_words_match(x, y) for y in b) for x in a) and all(any(_words_match(y, x) for x in a) for y in b)


def compatible_names(a: str, b: str) -> bool:
    return compatible(content_words(a), content_words(b))


def entity_id(type: str, name: str, salt: str = "") -> str:
    return "ent-" + hashlib.sha1(f"{type}|{name_key(name)}{salt}".encode()).hexdigest()[:16]


@dataclass
class DocMention:
    doc_id: str
    mention: Mention


@dataclass
class Resolution:
    entity_ids: list[str]  # parallel to the input mentions
    entities: list[Entity]  # new entities, and stored ones with the names this batch adds
    merged_into_store: int = 0  # groups that matched a stored entity
    stats: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Name:
    """What the merge rules compare of one name key: its content words and acronym forms."""

    words: tuple[str, ...]
    caps: frozenset[str]  # acronyms this name is: "IBM" -> {"ibm"}
    initials: frozenset[str]  # acronyms of this name: "International Business Machines" -> {"ibm"}

    @classmethod
    def of(cls, surfaces: Iterable[str]) -> "_Name":
        surfaces = list(surfaces)
        return cls(content_words(surfaces[0]),
                   frozenset(c for s in surfaces if (c := _short_caps(s)) is not None),
                   frozenset(a for s in surfaces if (a := acronym(s)) is not None))

    def related(self, other: "_Name", acronyms: bool) -> bool:
        """May name one entity: compatible, or (for types with acronyms) an acronym and its long form."""
        if compatible(self.words, other.words):
            return True
        return acronyms and bool(self.caps & (other.initials | other.caps) or other.caps & self.initials)


def _full_names(names: Iterable[str], etype: EntityType) -> list[_Name]:
    by_key: dict[str, list[str]] = defaultdict(list)
    for n in names:
        if not is_partial_person_name(n, etype):
            by_key[name_key(n)].append(n)
    return [_Name.of(sorted(ns)) for _, ns in sorted(by_key.items())]


def _conflict(a: Sequence[_Name], b: Sequence[_Name], acronyms: bool) -> bool:
    return any(not x.related(y, acronyms) for x in a for y in b)


@dataclass
class _Cluster:
    """Mentions of one type with one name key; partial person names are clustered per document."""

    type: str
    key: str
    doc: str  # the document of a partial person name, else ""
    mentions: list[int] = field(default_factory=list)
    surfaces: Counter = field(default_factory=Counter)
    docs: set[str] = field(default_factory=set)

    @property
    def partial(self) -> bool:
        return bool(self.doc)


class _Groups:
    """Union-find over clusters that refuses a union whose full names conflict (complete linkage)."""

    def __init__(self, full: list[list[_Name]]):
        self.parent = list(range(len(full)))
        self.full = full  # per root: the full names of its group

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int, acronyms: bool) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if _conflict(self.full[ra], self.full[rb], acronyms):
            return False
        root, other = min(ra, rb), max(ra, rb)  # smallest index wins: deterministic
        self.parent[other] = root
        self.full[root] = self.full[root] + self.full[other]
        return True


def _canonical(surfaces: Counter) -> str:
    # most frequent surface form; ties go to the longer, then alphabetical
    return sorted(surfaces.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[0][0]


@dataclass
class _Group:
    root: int
    type: str
    clusters: list[int]
    surfaces: Counter
    full: list[_Name]
    name: str  # canonical: a full name when the group has one
    local_to: str = ""  # a partial name ambiguous in this document: an entity of its own, never matched
    stored: Entity | None = None


class EntityResolver:
    def __init__(self, embedder: "Embedder", threshold: float = 0.7, schema: Schema | None = None,
                 store_candidates: int = 5):
        self.embedder = embedder
        self.threshold = threshold
        self.schema = schema or load_schema()
        self.store_candidates = store_candidates
        self.stages = Stages()  # the pipeline shares its own, so name embeddings count as embeddings

    def entity_type(self, name: str) -> EntityType:
        """The schema's type; a type the schema lacks takes neither the partial-name nor the acronym rule."""
        return self.schema.entity_types.get(name) or EntityType(name)

    def resolve(self, mentions: Sequence[DocMention], store: "GraphStore | None" = None,
                known: Mapping[str, Any] | None = None) -> Resolution:
        """known: name -> embedding already computed (by an extraction worker); others are embedded here."""
        if not mentions:
            return Resolution([], [])
        known = known or {}
        clusters = self._clusters(mentions)
        vectors = self._embed({_canonical(c.surfaces) for c in clusters}, known)
        groups = _Groups([_full_names(c.surfaces, self.entity_type(c.type)) for c in clusters])
        self._merge_candidates(clusters, groups, vectors)
        ambiguous = self._attach_partial_names(clusters, groups)

        by_root: dict[int, list[int]] = defaultdict(list)
        for i in range(len(clusters)):
            by_root[groups.find(i)].append(i)
        found: list[_Group] = []
        for root, members in sorted(by_root.items()):
            surfaces = Counter()
            for i in members:
                surfaces.update(clusters[i].surfaces)
            etype = self.entity_type(clusters[root].type)
            full_surfaces = Counter({s: n for s, n in surfaces.items() if not is_partial_person_name(s, etype)})
            found.append(_Group(root, clusters[root].type, members, surfaces, groups.full[root],
                                _canonical(full_surfaces or surfaces), clusters[root].doc if root in ambiguous else ""))
        vectors.update(self._embed({g.name for g in found} - set(vectors), known))
        if store is not None:
            self._match_store(found, store, vectors)
        return self._entities(mentions, clusters, found, vectors, store)

    # ---------------------------------------------------------------- steps

    def _clusters(self, mentions: Sequence[DocMention]) -> list[_Cluster]:
        """Rule 1, same name key, plus per-document clusters for partial person names; sorted, so that
        the result does not depend on the order of the mentions."""
        by_key: dict[tuple[str, str, str], _Cluster] = {}
        for i, dm in enumerate(mentions):
            surface = dm.mention.name or dm.mention.text
            etype = self.entity_type(dm.mention.type)
            doc = dm.doc_id if is_partial_person_name(surface, etype) else ""
            ck = (dm.mention.type, name_key(surface), doc)
            c = by_key.setdefault(ck, _Cluster(*ck))
            c.mentions.append(i)
            c.surfaces[surface] += 1
            c.docs.add(dm.doc_id)
        return [by_key[k] for k in sorted(by_key)]

    def _embed(self, names: set[str], known: Mapping[str, Any]) -> dict[str, np.ndarray]:
        out = {n: np.asarray(known[n], dtype=np.float32) for n in names if n in known}
        ordered = sorted(set(names) - set(out))  # the same texts in the same order: the same vectors
        if ordered:
            with self.stages.timed("embeddings"):
                out.update(zip(ordered, self.embedder.embed(ordered)))
        return out

    def _merge_candidates(self, clusters: list[_Cluster], groups: _Groups, vectors: dict[str, np.ndarray]) -> None:
        """Rules 3 (acronyms) and 4 (embeddings of compatible names) among full names, strongest first."""
        by_type: dict[str, list[int]] = defaultdict(list)
        for i, c in enumerate(clusters):
            if not c.partial:
                by_type[c.type].append(i)
        candidates: list[tuple[int, float, str, str, int, int]] = []

        def add(rank: int, a: int, b: int, sim: float) -> None:
            a, b = sorted((a, b), key=lambda i: clusters[i].key)
            candidates.append((rank, -sim, clusters[a].key, clusters[b].key, a, b))

        for type_, idx in by_type.items():
            if len(idx) < 2:
                continue
            etype = self.entity_type(type_)
            vecs = np.stack([vectors[_canonical(clusters[i].surfaces)] for i in idx])
            sims = vecs @ vecs.T
            if etype.acronyms:
                holders: dict[str, list[int]] = defaultdict(list)
                for j, i in enumerate(idx):
                    for k in alias_keys(list(clusters[i].surfaces), etype):
                        holders[k].append(j)
                pairs = {tuple(sorted((j, h))) for j, i in enumerate(idx)
                         for k in lookup_keys(list(clusters[i].surfaces), etype) for h in holders.get(k, []) if h != j}
                for j, h in pairs:
                    add(_RULE, idx[j], idx[h], float(sims[j, h]))
            words = [content_words(_canonical(clusters[i].surfaces)) for i in idx]
            for j, h in zip(*np.nonzero(np.triu(sims >= self.threshold, k=1))):
                if compatible(words[j], words[h]):
                    add(_EMBEDDING, idx[j], idx[h], float(sims[j, h]))
        for _, _, _, _, a, b in sorted(candidates):
            groups.union(a, b, self.entity_type(clusters[a].type).acronyms)

    def _attach_partial_names(self, clusters: list[_Cluster], groups: _Groups) -> set[int]:
        """Rule 2: a partial person name joins the only group of its document with a full name that
        fits it. Where its document has several, it is ambiguous and stays alone (returned); where
        it has none, it merges by key with the others like it."""
        full_in_doc: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, c in enumerate(clusters):
            if not c.partial:
                for doc in c.docs:
                    full_in_doc[(doc, c.type)].append(i)
        alone: dict[tuple[str, str], list[int]] = defaultdict(list)
        ambiguous: set[int] = set()
        for i, c in enumerate(clusters):
            if not c.partial:
                continue
            words = content_words(_canonical(c.surfaces))
            hits = set()
            for f in full_in_doc.get((c.doc, c.type), []):
                full_words = clusters[f].key.split()
                if (c.key in (full_words[0], full_words[-1]) if len(c.key.split()) == 1
                        else compatible(words, content_words(_canonical(clusters[f].surfaces)))):
                    hits.add(groups.find(f))
            if len(hits) == 1:
                groups.union(i, hits.pop(), False)  # never refused: a partial name is no full name
            elif hits:
                ambiguous.add(i)
            else:
                alone[(c.type, c.key)].append(i)
        for members in alone.values():
            for i in members[1:]:
                groups.union(members[0], i, False)
        return ambiguous

    def _match_store(self, found: list[_Group], store: "GraphStore", vectors: dict[str, np.ndarray]) -> None:
        """Give each group at most one stored entity: by key, else by vector; strongest first."""
        keys = {g.root: lookup_keys(list(g.surfaces), self.entity_type(g.type)) for g in found if not g.local_to}
        by_key = store.find_entities_by_alias(sorted({k for ks in keys.values() for k in ks}), with_embedding=False)
        stored_full: dict[str, list[_Name]] = {}

        def fits(g: _Group, e: Entity) -> bool:
            etype = self.entity_type(g.type)
            if e.id not in stored_full:
                stored_full[e.id] = _full_names([e.name, *e.aliases], etype)
            if not g.full or not stored_full[e.id]:  # partial names only meet entities of partial names
                return not g.full and not stored_full[e.id]
            return not _conflict(g.full, stored_full[e.id], etype.acronyms)

        candidates: list[tuple[int, float, str, str, int, Entity]] = []
        by_vector: list[int] = []  # groups that look for a stored entity by their name's vector
        by_rule: dict[int, list[Entity]] = {}
        for gi, g in enumerate(found):
            if g.local_to:
                continue
            hits = {e.id: e for k in keys[g.root] for e in by_key.get(k, []) if e.type == g.type}
            by_rule[gi] = [e for _, e in sorted(hits.items()) if fits(g, e)]
            if not by_rule[gi] and g.full:  # a group of partial names never matches by vector
                by_vector.append(gi)
        # rule matches are taken strongest first; the order matters only where a group has several
        # or an entity is wanted by several groups, so only those entities' vectors are read
        wanted = Counter(e.id for es in by_rule.values() for e in es)
        contested = {gi for gi, es in by_rule.items() if len(es) > 1 or any(wanted[e.id] > 1 for e in es)}
        stored_vecs = {e.id: e.embedding for e in store.get_entities(
            sorted({e.id for gi in contested for e in by_rule[gi]}))}
        for gi, es in by_rule.items():
            for e in es:
                emb = stored_vecs.get(e.id)
                sim = float(vectors[found[gi].name] @ np.asarray(emb)) if emb is not None else 0.0
                candidates.append((_RULE, -sim, found[gi].name, e.id, gi, e))
        # one store query for all of them (not a round trip per group)
        nearest = store.similar_entities_many([vectors[found[gi].name] for gi in by_vector], self.store_candidates,
                                              [found[gi].type for gi in by_vector], min_score=self.threshold,
                                              with_embedding=False)
        for gi, hits in zip(by_vector, nearest):
            for hit in hits:
                if fits(found[gi], hit.item):
                    candidates.append((_EMBEDDING, -hit.score, found[gi].name, hit.item.id, gi, hit.item))
        for _, _, _, eid, gi, e in sorted(candidates, key=lambda c: c[:5]):
            g = found[gi]
            if g.stored is None and fits(g, e):  # fits again: other groups may have taken e since
                g.stored = e
                stored_full[eid] = stored_full[eid] + g.full

    def _entities(self, mentions: Sequence[DocMention], clusters: list[_Cluster], found: list[_Group],
                  vectors: dict[str, np.ndarray], store: "GraphStore | None") -> Resolution:
        by_id: dict[str, Entity] = {}
        new_ids = {g.root: entity_id(g.type, g.name, "|" + g.local_to if g.local_to else "")
                   for g in found if g.stored is None}
        if store is not None and new_ids:
            # a stored entity this group did not take (its names conflict) may own the id of this
            # group's name: a salted id keeps the two apart. (A document's own ambiguous name may
            # reuse its id: that id is of this document's name.)
            clash = {e.id for e in store.get_entities(sorted(set(new_ids.values())), with_embedding=False)}
            for g in found:
                if new_ids.get(g.root) in clash and not g.local_to:
                    new_ids[g.root] = entity_id(g.type, g.name, "|" + "|".join(sorted(g.surfaces)))
        entity_ids = [""] * len(mentions)
        for g in found:
            etype = self.entity_type(g.type)
            if g.stored is not None:
                e = by_id.get(g.stored.id) or Entity(g.stored.id, g.stored.name, g.type, list(g.stored.aliases),
                                                     g.stored.embedding, g.stored.mentions)
            else:
                e = by_id.get(new_ids[g.root]) or Entity(new_ids[g.root], g.name, g.type,
                                                         embedding=vectors[g.name].tolist())
            e.aliases = sorted(set(e.aliases) | set(g.surfaces))
            e.keys = [] if g.local_to else alias_keys([e.name, *e.aliases], etype)
            by_id[e.id] = e
            for c in g.clusters:
                for i in clusters[c].mentions:
                    entity_ids[i] = e.id
        return Resolution(
            entity_ids, [by_id[i] for i in sorted(by_id)],
            merged_into_store=sum(g.stored is not None for g in found),
            stats={"mentions": len(mentions), "clusters": len(clusters), "entities": len(by_id)},
        )
