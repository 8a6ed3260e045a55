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

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Iterator


class DatasetError(ValueError):
    pass


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
    with path.open(encoding="utf-8") as f:
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
    data = json.loads(Path(path).read_text(encoding="utf-8"))
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
