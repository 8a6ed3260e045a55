"""The training format for `kg train` and readers for the public datasets.

One JSON object per line (JSONL):

    {"id": "doc-1",
     "text": "Ada Lovelace worked for Babbage & Co in London.",
     "entities": [{"id": "e0", "start": 0, "end": 12, "type": "Person"},
                  {"id": "e1", "start": 24, "end": 36, "type": "Organization"}],
     "relations": [{"head": "e0", "tail": "e1", "type": "WORKS_FOR"}]}

start/end are character offsets into text (end exclusive); types are names
from the schema used for training. "id" and "relations" are optional.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from kg.errors import DatasetError


@contextmanager
def _reading():
    """A data file that cannot be read, or is not UTF-8, is a user error of one line."""
    try:
        yield
    except (FileNotFoundError, IsADirectoryError, PermissionError) as e:
        raise DatasetError(f"{e.strerror}: {e.filename}") from None
    except UnicodeDecodeError as e:
        raise DatasetError(f"input is not UTF-8 text ({e.reason})") from None


def _read_json(path: str | Path):
    with _reading():
        return json.loads(Path(path).read_text(encoding="utf-8"))


@dataclass
class SpanAnn:
    id: str
    start: int
    end: int
    type: str


@dataclass
class RelationAnn:
    head: str
    tail: str
    type: str


@dataclass
class Example:
    id: str
    text: str
    entities: list[SpanAnn] = field(default_factory=list)
    relations: list[RelationAnn] = field(default_factory=list)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict, where: str = "") -> "Example":
        try:
            text = obj["text"]
            if not isinstance(text, str):
                raise DatasetError(f"{where}: 'text' must be a string")
            ents = [
                SpanAnn(str(e.get("id", f"e{i}")), int(e["start"]), int(e["end"]), str(e["type"]))
                for i, e in enumerate(obj.get("entities", []))
            ]
            ids = {e.id for e in ents}
            for e in ents:
                if not (0 <= e.start < e.end <= len(text)):
                    raise DatasetError(f"{where}: entity {e.id} span {e.start}:{e.end} is outside the text")
            rels = [RelationAnn(str(r["head"]), str(r["tail"]), str(r["type"])) for r in obj.get("relations", [])]
            for r in rels:
                if r.head not in ids or r.tail not in ids:
                    raise DatasetError(f"{where}: relation {r.type} names an unknown entity id")
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, DatasetError):
                raise
            raise DatasetError(f"{where}: malformed example ({e.__class__.__name__}: {e})") from None
        return cls(str(obj.get("id", where)), text, ents, rels)


def read_jsonl(path: str | Path) -> list[Example]:
    path = Path(path)
    out: list[Example] = []
    with _reading(), path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{n}: invalid JSON ({e.msg})") from None
            out.append(Example.from_json(obj, f"{path}:{n}"))
    return out


def write_jsonl(examples: Iterable[Example], path: str | Path) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for ex in examples:
            f.write(json.dumps(ex.to_json(), ensure_ascii=False) + "\n")
            n += 1
    return n


def tokens_to_text(tokens: list[str]) -> tuple[str, list[tuple[int, int]]]:
    """Join tokens with single spaces; return the text and each token's char span."""
    spans, pos = [], 0
    for tok in tokens:
        spans.append((pos, pos + len(tok)))
        pos += len(tok) + 1
    return " ".join(tokens), spans


def from_spert(path: str | Path, type_map: dict[str, str] | None = None,
               relation_map: dict[str, str] | None = None) -> Iterator[Example]:
    """SpERT JSON (CoNLL04): [{tokens, entities:[{type,start,end}], relations:[{type,head,tail}]}].

    type_map / relation_map rename labels (e.g. to the default schema); a label
    mapped to "" is dropped.
    """
    data = _read_json(path)
    for i, item in enumerate(data):
        text, tok_spans = tokens_to_text(item["tokens"])
        ents = []
        for j, e in enumerate(item["entities"]):
            t = type_map.get(e["type"], e["type"]) if type_map else e["type"]
            ents.append(SpanAnn(f"e{j}", tok_spans[e["start"]][0], tok_spans[e["end"] - 1][1], t))
        rels = []
        for r in item.get("relations", []):
            t = relation_map.get(r["type"], r["type"]) if relation_map else r["type"]
            if t:
                rels.append(RelationAnn(f"e{r['head']}", f"e{r['tail']}", t))
        yield Example(str(item.get("orig_id", i)), text, [e for e in ents if e.type], rels)


# --- label maps between the public datasets and the shipped schemas ---

CONLL04_TYPES_TO_DEFAULT = {"Peop": "Person", "Org": "Organization", "Loc": "Location", "Other": "Misc"}
CONLL04_RELATIONS_TO_DEFAULT = {
    "Work_For": "WORKS_FOR", "Live_In": "LIVES_IN", "Located_In": "LOCATED_IN",
    "OrgBased_In": "BASED_IN", "Kill": "KILLED",
}
DEFAULT_TO_CONLL04_TYPES = {v: k for k, v in CONLL04_TYPES_TO_DEFAULT.items()}
DEFAULT_TO_CONLL04_RELATIONS = {v: k for k, v in CONLL04_RELATIONS_TO_DEFAULT.items()}

DOCRED_TYPES_TO_DEFAULT = {"PER": "Person", "ORG": "Organization", "LOC": "Location", "MISC": "Misc"}  # TIME, NUM dropped

# Wikidata property -> default relation: a list of (head type, tail type,
# relation, inverted) alternatives tried in order; the first whose types fit the
# label's own head and tail (None: any) wins. inverted: the label's tail becomes
# our head. The result must still be allowed by the target schema.
_L, _O, _P, _M = "Location", "Organization", "Person", "Misc"
DOCRED_RELATIONS_TO_DEFAULT: dict[str, list[tuple[str | None, str | None, str, bool]]] = {
    "P108": [(None, None, "WORKS_FOR", False)],      # employer
    "P488": [(_O, _P, "WORKS_FOR", True)],           # chairperson (org -> person)
    "P169": [(_O, _P, "WORKS_FOR", True)],           # chief executive officer
    "P551": [(None, None, "LIVES_IN", False)],       # residence
    "P19": [(None, None, "BORN_IN", False)],         # place of birth
    "P27": [(None, None, "CITIZEN_OF", False)],      # country of citizenship
    "P131": [(_L, _L, "LOCATED_IN", False), (_O, _L, "BASED_IN", False)],  # located in admin. entity
    "P17": [(_L, _L, "LOCATED_IN", False), (_O, _L, "BASED_IN", False)],   # country
    "P30": [(_L, _L, "LOCATED_IN", False)],          # continent
    "P276": [(_L, _L, "LOCATED_IN", False)],         # location
    "P150": [(_L, _L, "LOCATED_IN", True)],          # contains admin. entity (inverse of P131)
    "P36": [(_L, _L, "LOCATED_IN", True)],           # capital (the capital lies in the country)
    "P1376": [(_L, _L, "LOCATED_IN", False)],        # capital of
    "P159": [(None, None, "BASED_IN", False)],       # headquarters location
    "P112": [(None, None, "FOUNDED_BY", False)],     # founded by
    "P463": [(None, None, "MEMBER_OF", False)],      # member of
    "P54": [(None, None, "MEMBER_OF", False)],       # member of sports team
    "P102": [(None, None, "MEMBER_OF", False)],      # member of political party
    "P361": [(None, None, "IS_PART_OF", False)],        # part of
    "P527": [(None, None, "IS_PART_OF", True)],         # has part (inverse)
    "P749": [(None, None, "SUBSIDIARY_OF", False)],  # parent organization
    "P355": [(None, None, "SUBSIDIARY_OF", True)],   # subsidiary (inverse)
    "P127": [(_O, _O, "SUBSIDIARY_OF", False)],      # owned by (organisations only)
    "P69": [(None, None, "EDUCATED_AT", False)],     # educated at
    "P26": [(None, None, "SPOUSE_OF", False)],       # spouse
}

# Which datasets exist, their splits and licences (for model cards).
DATASETS = {
    "conll04": {"splits": {"train": "train_triples.json", "dev": "dev_triples.json", "test": "test_triples.json"},
                "aliases": {"validation": "dev", "valid": "dev"},
                "licence": "research use only (Roth & Yih 2004; SpERT split)"},
    "re-docred": {"splits": {"train": "dev_revised.json", "validation": "dev_revised.json", "test": "dev_revised.json"},
                  "aliases": {"dev": "validation", "valid": "validation"},
                  "licence": "MIT"},
    "webnlg_star": {"splits": {"train": "train_triples.json", "dev": "dev_triples.json", "test": "test_triples.json"},
                    "aliases": {"validation": "dev", "valid": "dev"},
                    "licence": "CC BY-NC-SA 4.0 (WebNLG): non-commercial, share-alike"},
}
DATASET_ALIASES = {"redocred": "re-docred", "re_docred": "re-docred", "docred": "re-docred",
                   "webnlg": "webnlg_star", "webnlg*": "webnlg_star", "webnlg-star": "webnlg_star"}


def docred_split(title: str) -> str:
    """Our deterministic split of Re-DocRED's 500 revised dev documents.

    sha1(title) mod 10: 0-7 -> train (400 docs), 8 -> validation (50), 9 -> test (50).
    Upstream's train split was not available; these three parts never share a document.
    """
    h = int(hashlib.sha1(title.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if h < 8 else ("validation" if h == 8 else "test")


def _fits(want: str | None, got: str) -> bool:
    return want is None or want == got


def from_docred(path: str | Path, split: str | None = None) -> Iterator[Example]:
    """DocRED / Re-DocRED JSON -> sentence-level examples in the default schema.

    Each sentence becomes one example (tokens joined by single spaces); every
    mention in it whose type maps (PER, ORG, LOC, MISC; TIME and NUM are
    dropped) is an entity. A document-level label becomes a sentence-level
    relation between every mention pair of its head and tail inside that
    sentence, when its Wikidata property maps (DOCRED_RELATIONS_TO_DEFAULT) and,
    where the label lists evidence sentences, the sentence is one of them.
    split: "train" | "validation" | "test" keeps the documents docred_split()
    puts there; None keeps all.
    """
    data = _read_json(path)
    for doc in data:
        if split is not None and docred_split(doc["title"]) != split:
            continue
        vertex = doc["vertexSet"]
        per_sent: dict[int, list[tuple[int, dict]]] = {}
        for v, mentions in enumerate(vertex):
            for m in mentions:
                per_sent.setdefault(m["sent_id"], []).append((v, m))
        for sid, sent in enumerate(doc["sents"]):
            text, tok_spans = tokens_to_text(sent)
            ents: list[SpanAnn] = []
            by_vertex: dict[int, list[SpanAnn]] = {}
            seen: set[tuple[int, int]] = set()
            for v, m in per_sent.get(sid, []):
                etype = DOCRED_TYPES_TO_DEFAULT.get(m["type"])
                s, e = m["pos"]
                if etype is None or not (0 <= s < e <= len(sent)) or (s, e) in seen:
                    continue
                seen.add((s, e))
                ann = SpanAnn(f"e{len(ents)}", tok_spans[s][0], tok_spans[e - 1][1], etype)
                ents.append(ann)
                by_vertex.setdefault(v, []).append(ann)
            rels: list[RelationAnn] = []
            done: set[tuple[str, str, str]] = set()
            for lab in doc.get("labels", []):
                alts = DOCRED_RELATIONS_TO_DEFAULT.get(lab["r"])
                if not alts or lab["h"] not in by_vertex or lab["t"] not in by_vertex:
                    continue
                if lab.get("evidence") and sid not in lab["evidence"]:
                    continue
                for h in by_vertex[lab["h"]]:
                    for t in by_vertex[lab["t"]]:
                        for want_h, want_t, rel, inverted in alts:
                            a, b = (t, h) if inverted else (h, t)
                            if _fits(want_h, h.type) and _fits(want_t, t.type):
                                key = (a.id, b.id, rel)
                                if key not in done:
                                    done.add(key)
                                    rels.append(RelationAnn(a.id, b.id, rel))
                                break
            yield Example(f"{doc['title']}#{sid}", text, ents, rels)


# --- WebNLG* (CasRel format): entity types inferred from the DBpedia relations ---

# relation -> (head type, tail type) evidence; None: the relation says nothing about that side.
_W = "WorkOfArt"
CASREL_TYPE_HINTS: dict[str, tuple[str | None, str | None]] = {
    "birthPlace": (_P, _L), "placeOfBirth": (_P, _L), "deathPlace": (_P, _L), "residence": (_P, _L),
    "hometown": (_P, _L), "nationality": (_P, _L), "almaMater": (_P, _O), "club": (_P, _O),
    "occupation": (_P, None), "was a crew member of": (_P, None), "was selected by NASA": (_P, None),
    "doctoralAdvisor": (_P, _P), "influencedBy": (_P, _P), "spouse": (_P, _P), "child": (_P, _P),
    "award": (_P, None), "awards": (_P, None), "served as Chief of the Astronaut Office in": (_P, None),
    "backup pilot": (None, _P), "crewMembers": (None, _P), "starring": (None, _P), "editor": (None, _P),
    "commander": (None, _P), "architect": (_L, _P), "mayor": (_L, _P), "leaderName": (_L, _P),
    "leaderTitle": (_L, None), "leader": (None, _P), "president": (None, _P), "chancellor": (_O, _P),
    "dean": (_O, _P), "chairman": (_O, _P), "keyPerson": (_O, _P), "manager": (_O, _P),
    "founder": (None, None), "foundedBy": (None, None), "creator": (None, _P), "author": (_W, _P),
    "country": (None, _L), "location": (None, _L), "city": (None, _L), "state": (None, _L),
    "region": (None, _L), "isPartOf": (_L, _L), "part": (_L, _L), "municipality": (None, _L),
    "district": (None, _L), "capital": (_L, _L), "largestCity": (_L, _L), "countySeat": (_L, _L),
    "cityServed": (_L, _L), "runwayLength": (_L, None), "1st_runway_SurfaceType": (_L, None),
    "elevationAboveTheSeaLevel_(in_metres)": (_L, None), "elevationAboveTheSeaLevel": (_L, None),
    "elevationAboveTheSeaLevel_(in_feet)": (_L, None), "floorCount": (_L, None), "demonym": (_L, None),
    "ethnicGroup": (_L, None), "currency": (_L, None), "anthem": (_L, None), "officialLanguage": (_L, None),
    "has to its north": (_L, _L), "has to its west": (_L, _L), "has to its southeast": (_L, _L),
    "has to its northeast": (_L, _L), "has to its southwest": (_L, _L), "has to its northwest": (_L, _L),
    "neighboringMunicipality": (_L, _L), "nearestCity": (_L, _L), "tenant": (_L, _O),
    "headquarter": (_O, _L), "headquarters": (_O, _L), "locationCity": (_O, _L), "foundationPlace": (_O, _L),
    "operatingOrganisation": (_L, _O), "owningOrganisation": (_L, _O), "operator": (None, _O),
    "parentCompany": (_O, _O), "affiliation": (_O, _O), "affiliations": (_O, _O), "league": (_O, _O),
    "numberOfStudents": (_O, None), "academicStaffSize": (_O, None), "numberOfPostgraduateStudents": (_O, None),
    "numberOfUndergraduateStudents": (_O, None), "numberOfMembers": (_O, None), "season": (_O, None),
    "ground": (_O, None), "publisher": (_W, _O), "OCLC_number": (_W, None), "LCCN_number": (_W, None),
    "ISSN_number": (_W, None), "firstPublicationYear": (_W, None), "literaryGenre": (_W, None),
    "mediaType": (_W, None), "broadcastedBy": (_W, _O),
    "ingredient": (_M, None), "mainIngredients": (_M, None), "dishVariation": (_M, _M), "course": (_M, None),
}

# relation -> alternatives (subject type, object type, default relation, inverted), as above.
CASREL_RELATIONS_TO_DEFAULT: dict[str, list[tuple[str | None, str | None, str, bool]]] = {
    "birthPlace": [(_P, _L, "BORN_IN", False)], "placeOfBirth": [(_P, _L, "BORN_IN", False)],
    "residence": [(_P, _L, "LIVES_IN", False)], "nationality": [(_P, _L, "CITIZEN_OF", False)],
    "almaMater": [(_P, _O, "EDUCATED_AT", False)], "club": [(_P, _O, "MEMBER_OF", False)],
    "manager": [(_O, _P, "WORKS_FOR", True)], "dean": [(_O, _P, "WORKS_FOR", True)],
    "president": [(_O, _P, "WORKS_FOR", True)], "chancellor": [(_O, _P, "WORKS_FOR", True)],
    "chairman": [(_O, _P, "WORKS_FOR", True)], "keyPerson": [(_O, _P, "WORKS_FOR", True)],
    "leader": [(_O, _P, "WORKS_FOR", True)],
    "founder": [(None, None, "FOUNDED_BY", False)], "foundedBy": [(None, None, "FOUNDED_BY", False)],
    "creator": [(None, None, "FOUNDED_BY", False)],
    "headquarter": [(_O, _L, "BASED_IN", False)], "headquarters": [(_O, _L, "BASED_IN", False)],
    "locationCity": [(_O, _L, "BASED_IN", False)],
    **{r: [(_L, _L, "LOCATED_IN", False), (_O, _L, "BASED_IN", False)]
       for r in ("country", "location", "city", "state", "region", "isPartOf", "part", "municipality", "district")},
    "capital": [(_L, _L, "LOCATED_IN", True)], "largestCity": [(_L, _L, "LOCATED_IN", True)],
    "countySeat": [(_L, _L, "LOCATED_IN", True)],
    "parentCompany": [(_O, _O, "SUBSIDIARY_OF", False)],
    "affiliation": [(_O, _O, "MEMBER_OF", False)], "affiliations": [(_O, _O, "MEMBER_OF", False)],
    "league": [(_O, _O, "MEMBER_OF", False)],
}
_TYPE_PRIORITY = {_P: 0, _O: 1, _L: 2, _W: 3, _M: 4}


def _casrel_types(triples: list[list[str]]) -> dict[str, str]:
    """Each entity's type by majority vote of CASREL_TYPE_HINTS over the sentence's triples."""
    votes: dict[str, Counter] = {}
    for h, r, t in triples:
        hint = CASREL_TYPE_HINTS.get(r)
        if not hint:
            continue
        for word, typ in ((h, hint[0]), (t, hint[1])):
            if typ:
                votes.setdefault(word, Counter())[typ] += 1
    return {w: min(c, key=lambda k: (-c[k], _TYPE_PRIORITY[k])) for w, c in votes.items()}


def from_casrel(path: str | Path) -> Iterator[Example]:
    """WebNLG* in the CasRel format ([{text, triple_list:[[subj, rel, obj]]}]) -> default schema.

    Entities are given by their LAST word only: each is located as the first
    whitespace token equal to that word and its span covers that word alone (the
    "partial match" convention of WebNLG*). Entity types are not given: they are
    inferred from what the sentence's DBpedia relations imply (CASREL_TYPE_HINTS,
    majority vote); an entity with no evidence is dropped. Triples whose relation
    maps (CASREL_RELATIONS_TO_DEFAULT) with fitting types become relations; the
    others are dropped, but their typed entities stay as negative pairs.
    """
    data = _read_json(path)
    for i, item in enumerate(data):
        tokens = item["text"].split(" ")
        text, tok_spans = tokens_to_text(tokens)
        triples = [t for t in item.get("triple_list", []) if len(t) == 3]
        types = _casrel_types(triples)
        ents: dict[str, SpanAnn] = {}
        for word, typ in types.items():
            if word in tokens:
                k = tokens.index(word)
                ents[word] = SpanAnn(f"e{len(ents)}", tok_spans[k][0], tok_spans[k][1], typ)
        rels: list[RelationAnn] = []
        done: set[tuple[str, str, str]] = set()
        for h, r, t in triples:
            if h not in ents or t not in ents or h == t:
                continue
            for want_h, want_t, rel, inverted in CASREL_RELATIONS_TO_DEFAULT.get(r, []):
                a, b = (ents[t], ents[h]) if inverted else (ents[h], ents[t])
                if _fits(want_h, ents[h].type) and _fits(want_t, ents[t].type):
                    if (a.id, b.id, rel) not in done:
                        done.add((a.id, b.id, rel))
                        rels.append(RelationAnn(a.id, b.id, rel))
                    break
        yield Example(str(i), text, list(ents.values()), rels)


# --- one entry point for `kg train` and `kg eval` ---

def _resolve_schema(schema):
    from graph_schema import Schema, load_schema

    return schema if isinstance(schema, Schema) else load_schema(schema)


def retarget(examples: Iterable[Example], schema) -> list[Example]:
    """Examples labelled with default-schema names -> the given schema.

    A schema with the CoNLL04 type names (Peop, Org, Loc, Other) gets the inverse
    CoNLL04 mapping; then entities whose type the schema lacks are dropped with
    their relations, and relations the schema lacks or forbids for the pair are dropped.
    """
    schema = _resolve_schema(schema)
    to_conll = schema.name != "default" and set(CONLL04_TYPES_TO_DEFAULT) <= set(schema.entity_types)
    out = []
    for ex in examples:
        ents = []
        for e in ex.entities:
            t = DEFAULT_TO_CONLL04_TYPES.get(e.type, "") if to_conll else e.type
            if t in schema.entity_types:
                ents.append(SpanAnn(e.id, e.start, e.end, t))
        types = {e.id: e.type for e in ents}
        rels = []
        for r in ex.relations:
            t = DEFAULT_TO_CONLL04_RELATIONS.get(r.type, "") if to_conll else r.type
            if r.head in types and r.tail in types and schema.allowed(t, types[r.head], types[r.tail]):
                rels.append(RelationAnn(r.head, r.tail, t))
        out.append(Example(ex.id, ex.text, ents, rels))
    return out


def check_schema(examples: list[Example], schema, source: str) -> int:
    """Refuse types the schema lacks; drop (and count) relations it forbids for their entity types."""
    schema = _resolve_schema(schema)
    dropped = 0
    for ex in examples:
        types = {}
        for e in ex.entities:
            if e.type not in schema.entity_types:
                raise DatasetError(
                    f"{source}: example {ex.id}: entity type {e.type!r} is not in schema {schema.name!r} "
                    f"(known: {', '.join(schema.entity_types)})"
                )
            types[e.id] = e.type
        keep = []
        for r in ex.relations:
            if r.type not in schema.relation_types:
                raise DatasetError(
                    f"{source}: example {ex.id}: relation type {r.type!r} is not in schema {schema.name!r} "
                    f"(known: {', '.join(schema.relation_types)})"
                )
            if schema.allowed(r.type, types[r.head], types[r.tail]):
                keep.append(r)
            else:
                dropped += 1
        ex.relations = keep
    return dropped


def parse_dataset_spec(spec: str, split: str | None = None) -> tuple[str, str | None]:
    """'conll04:train' -> ('conll04', 'train'); a path stays a path."""
    name, _, sp = spec.partition(":")
    key = DATASET_ALIASES.get(name.lower(), name.lower())
    if key in DATASETS and sp:
        return key, sp
    if key in DATASETS:
        return key, split
    return spec, split


def load_dataset(name_or_path: str | Path, split: str | None = "train", schema_name="default",
                 datasets_dir: str | Path | None = None) -> list[Example]:
    """Examples of a named dataset split (conll04, re-docred, webnlg_star; also 'name:split')
    or of a JSONL file, labelled for the given schema (a name, a path or a Schema).

    Named datasets are read from datasets_dir (default: settings.datasets_dir) and
    converted with the label maps above; a JSONL file must use the schema's types.
    """
    schema = _resolve_schema(schema_name)
    name, split = parse_dataset_spec(str(name_or_path), split)
    if name not in DATASETS:
        path = Path(name)
        if not path.exists():
            known = ", ".join(DATASETS)
            raise DatasetError(f"no such file or dataset: {name} (datasets: {known}, optionally with :split)")
        if path.is_dir():
            raise DatasetError(f"{path} is a directory; give a JSONL file")
        examples = read_jsonl(path)
        dropped = check_schema(examples, schema, str(path))
        if dropped:
            import sys

            print(f"warning: {path}: {dropped} relation(s) dropped: the schema forbids them for their entity types",
                  file=sys.stderr)
        return examples
    spec = DATASETS[name]
    split = split or "train"
    split = spec["aliases"].get(split, split)
    if split not in spec["splits"]:
        raise DatasetError(f"dataset {name} has no split {split!r} (splits: {', '.join(spec['splits'])})")
    if datasets_dir is None:
        from kg.config import get_settings

        datasets_dir = get_settings().datasets_dir
    path = Path(datasets_dir) / name / spec["splits"][split]
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path} (set KG_DATASETS_DIR)")
    if name == "conll04":  # via the default names; retarget maps back for a CoNLL04-typed schema
        return retarget(from_spert(path, CONLL04_TYPES_TO_DEFAULT, CONLL04_RELATIONS_TO_DEFAULT), schema)
    if name == "re-docred":
        return retarget(from_docred(path, split), schema)
    return retarget(from_casrel(path), schema)


# --- CoNLL-2003 ---

def read_conll2003(path: str | Path) -> list[Example]:
    """CoNLL-2003 columns (token POS chunk NER, NER in IOB1) -> one Example per sentence.

    Sentences end at blank lines; -DOCSTART- lines are skipped. Tokens are joined
    with single spaces and entities become character spans of that text. Both
    IOB1 (I- opens an entity unless it continues one of the same type; B- only
    splits two adjacent same-type entities) and IOB2 tags are read correctly.
    Example ids are "<file name>:<line of the sentence's first token>".
    """
    path = Path(path)
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0

    def flush() -> None:
        if not tokens:
            return
        text, spans = tokens_to_text(tokens)
        ents: list[SpanAnn] = []
        cur: list | None = None  # [type, first token, last token]
        for i, tag in enumerate(tags + ["O"]):
            if tag == "O":
                kind, typ = "O", ""
            else:
                kind, typ = tag.split("-", 1)
            continues = cur is not None and kind == "I" and typ == cur[0]
            if cur is not None and not continues:
                ents.append(SpanAnn(f"e{len(ents)}", spans[cur[1]][0], spans[cur[2]][1], cur[0]))
                cur = None
            if kind == "O":
                continue
            if continues:
                cur[2] = i
            else:
                cur = [typ, i, i]
        out.append(Example(f"{path.name}:{first_line}", text, ents))
        tokens.clear()
        tags.clear()

    with _reading(), path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            cols = line.split()
            if not cols:
                flush()
                continue
            if cols[0] == "-DOCSTART-":
                flush()
                continue
            if len(cols) < 2:
                raise DatasetError(f"{path}:{n}: expected 'token POS chunk NER' columns, got {line.strip()!r}")
            tag = cols[-1]
            if not (tag == "O" or (len(tag) > 2 and tag[:2] in ("I-", "B-"))):
                raise DatasetError(f"{path}:{n}: {tag!r} is not an IOB tag (O, I-TYPE or B-TYPE)")
            if not tokens:
                first_line = n
            tokens.append(cols[0])
            tags.append(tag)
    flush()
    return out


# --- NER datasets for `kg train ner` and `kg eval ner`: entity types as they are in the data ---

# name -> split -> file under datasets_dir/name
NER_DATASETS = {
    "conll2003": {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"},
    "conll04": {"train": "train_triples.json", "dev": "dev_triples.json", "test": "test_triples.json"},
}
_SPLIT_ALIASES = {"validation": "dev", "valid": "dev", "testa": "dev", "testb": "test"}
_CONLL2003_ALIASES = {"conll03": "conll2003", "conll-2003": "conll2003"}


def parse_ner_spec(spec: str, default_split: str) -> tuple[str, str]:
    """'conll04:dev' -> ('conll04', 'dev'); 'conll04' -> ('conll04', default_split); a path -> (path, '')."""
    name, _, split = spec.partition(":")
    key = _CONLL2003_ALIASES.get(name.lower(), name.lower())
    if key in NER_DATASETS and not Path(spec).exists():
        return key, (_SPLIT_ALIASES.get(split, split) if split else default_split)
    return spec, ""


def load_ner_examples(spec: str, default_split: str, datasets_dir: str | Path | None = None):
    """Examples for a dataset spec (NAME, NAME:SPLIT) or a training-format JSONL path, with the
    entity types as they are in the data."""
    name, split = parse_ner_spec(spec, default_split)
    if not split:
        path = Path(name)
        if path.is_file():
            return read_jsonl(path)
        if path.is_dir():
            raise DatasetError(f"{path} is a directory; give a JSONL file or a dataset name")
        looks_like_path = any(c in name for c in "/\\.")
        known = ", ".join(NER_DATASETS)
        if looks_like_path:
            raise DatasetError(f"no such file: {name}")
        raise DatasetError(f"unknown dataset {name!r} (datasets: {known}, optionally NAME:SPLIT; or a JSONL file)")
    files = NER_DATASETS[name]
    if split not in files:
        raise DatasetError(f"dataset {name} has no split {split!r} (splits: {', '.join(files)})")
    if datasets_dir is None:
        from kg.config import get_settings

        datasets_dir = get_settings().datasets_dir
    path = Path(datasets_dir) / name / files[split]
    if not path.is_file():
        raise DatasetError(f"dataset file not found: {path} (set KG_DATASETS_DIR)")
    if name == "conll2003":
        return read_conll2003(path)
    return list(from_spert(path))
