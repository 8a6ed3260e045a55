"""Graph schema: which entity and relation types exist and which pairs a relation allows.

File format (YAML), see graph_schema/default.yaml:

    name: default
    entity_types:
      Person:
        description: A human being.
        labels: [PERSON, Peop, PER]      # NER labels that map to this type
        person_name: true                # names are personal names (default false): a one-word
                                         # name ("Cook") may stand for a full name of the same
                                         # document ("Tim Cook")
      Organization:
        labels: [ORG]
        acronyms: true                   # a short all-caps name may be the acronym of a long one
                                         # ("IBM", "International Business Machines"; default false)
    relation_types:
      WORKS_FOR:
        description: head is employed by tail.
        head: [Person]                  # allowed head types
        tail: [Organization]            # allowed tail types
        symmetric: false                # true: (a, b) and (b, a) mean the same
        cues: [work, employ, ceo]       # words (lower case, or their lemmas) that signal the relation
                                        # on the dependency path between head and tail; only the
                                        # dependency-parse baseline reads them (default: none)

NER labels not listed under any type are dropped (dates, numbers, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kg.errors import SchemaError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
# relationship types of the lexical graph (Document/Chunk); an entity relation may not reuse them
RESERVED_RELATIONS = frozenset({"PART_OF", "NEXT", "MENTIONED_IN", "HAS_PHRASE"})
SCHEMA_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class EntityType:
    name: str
    description: str = ""
    labels: tuple[str, ...] = ()
    person_name: bool = False  # entity resolution: one-word names may join a full name of their document
    acronyms: bool = False  # entity resolution: short all-caps names may be acronyms of long ones


@dataclass(frozen=True)
class RelationType:
    name: str
    head: tuple[str, ...]
    tail: tuple[str, ...]
    description: str = ""
    symmetric: bool = False
    cues: tuple[str, ...] = ()  # dependency baseline: words on the head-tail path that signal the relation


@dataclass
class Schema:
    name: str
    entity_types: dict[str, EntityType]
    relation_types: dict[str, RelationType]
    _label_map: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for et in self.entity_types.values():
            for label in et.labels:
                self._label_map.setdefault(label, et.name)

    def entity_type_for_label(self, label: str) -> str | None:
        """Schema type for a raw NER label, or None when the schema drops it."""
        if label in self.entity_types:
            return label
        return self._label_map.get(label)

    def allowed(self, relation: str, head_type: str, tail_type: str) -> bool:
        rt = self.relation_types.get(relation)
        if rt is None:
            return False
        return head_type in rt.head and tail_type in rt.tail

    def relations_for(self, head_type: str, tail_type: str) -> list[str]:
        return [r.name for r in self.relation_types.values() if head_type in r.head and tail_type in r.tail]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity_types": {
                t.name: {"description": t.description, "labels": list(t.labels),
                         "person_name": t.person_name, "acronyms": t.acronyms}
                for t in self.entity_types.values()
            },
            "relation_types": {
                r.name: {
                    "description": r.description,
                    "head": list(r.head),
                    "tail": list(r.tail),
                    "symmetric": r.symmetric,
                    **({"cues": list(r.cues)} if r.cues else {}),
                }
                for r in self.relation_types.values()
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> "Schema":
        if not isinstance(data, dict):
            raise SchemaError(f"{source}: a schema must be a mapping")
        ents_raw = data.get("entity_types") or {}
        rels_raw = data.get("relation_types") or {}
        if not isinstance(ents_raw, dict) or not ents_raw:
            raise SchemaError(f"{source}: entity_types must be a non-empty mapping")
        if not isinstance(rels_raw, dict):
            raise SchemaError(f"{source}: relation_types must be a mapping")
        ents: dict[str, EntityType] = {}
        for name, spec in ents_raw.items():
            spec = spec or {}
            if not _NAME.match(str(name)):
                raise SchemaError(f"{source}: entity type {name!r} must be an identifier (letters, digits, _)")
            ents[name] = EntityType(name, str(spec.get("description", "")), tuple(spec.get("labels", []) or []),
                                    person_name=_flag(spec, "person_name", f"{source}: entity type {name}"),
                                    acronyms=_flag(spec, "acronyms", f"{source}: entity type {name}"))
        rels: dict[str, RelationType] = {}
        for name, spec in rels_raw.items():
            spec = spec or {}
            if not _NAME.match(str(name)):
                raise SchemaError(f"{source}: relation type {name!r} must be an identifier (letters, digits, _)")
            if str(name).upper() in RESERVED_RELATIONS:
                raise SchemaError(f"{source}: relation type {name!r} is reserved for the lexical graph; rename it")
            head = tuple(spec.get("head") or ())
            tail = tuple(spec.get("tail") or ())
            if not head or not tail:
                raise SchemaError(f"{source}: relation {name} needs non-empty head and tail type lists")
            for t in head + tail:
                if t not in ents:
                    raise SchemaError(f"{source}: relation {name} names unknown entity type {t!r}")
            rels[name] = RelationType(name, head, tail, str(spec.get("description", "")), bool(spec.get("symmetric", False)),
                                      _words(spec, "cues", f"{source}: relation {name}"))
        return cls(str(data.get("name", Path(source).stem)), ents, rels)


def _flag(spec: dict[str, Any], key: str, where: str) -> bool:
    value = spec.get(key, False)
    if not isinstance(value, bool):  # "false" as a string would read as true
        raise SchemaError(f"{where}: {key} must be true or false, not {value!r}")
    return value


def _words(spec: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = spec.get(key) or []
    if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
        raise SchemaError(f"{where}: {key} must be a list of words, not {value!r}")
    return tuple(value)


def load_schema(path: str | Path | None = None) -> Schema:
    """Load a schema file; a bare name ("default", "conll04") means graph_schema/<name>.yaml."""
    if path is None:
        path = SCHEMA_DIR / "default.yaml"
    p = Path(path)
    if not p.exists() and (SCHEMA_DIR / f"{path}.yaml").exists():
        p = SCHEMA_DIR / f"{path}.yaml"
    if not p.exists():
        raise SchemaError(f"schema file not found: {path}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SchemaError(f"{p}: invalid YAML: {e}") from None
    return Schema.from_dict(data, str(p))
