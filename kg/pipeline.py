"""The ingest pipeline: chunk -> extract entities -> extract relations -> embed -> resolve -> load.

Each stage is a swappable object behind a small Protocol; Pipeline only wires them.
"""

from __future__ import annotations

import threading
import time
import unicodedata
from dataclasses import dataclass, field, replace
from collections import deque
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar

import numpy as np

from extractors.base import EntityExtractor, RelationExtractor
from extractors.entities.phrases import NounPhraseExtractor, phrase_key
from extractors.registry import load_entity_extractor, load_relation_extractor
from graph_schema import Schema, load_schema
from kg.chunking import Chunker, SentenceChunker
from kg.config import Settings, get_settings
from kg.documents import InputError
from kg.embed import Embedder, get_embedder
from kg.language import language_warning
from kg.normalize import NormalizedText, normalize_for_models
from kg.resolve import DocMention, EntityResolver
from kg.stores.base import GraphStore
from kg.stores.merge import add_relation
from kg.timing import Stages
from kg.types import (
    Chunk,
    Document,
    ExtractionResult,
    GraphBatch,
    Mention,
    MentionLink,
    Phrase,
    Relation,
    RelationLink,
)


T = TypeVar("T")


@dataclass
class IngestReport:
    ingested: int = 0  # new documents
    updated: int = 0  # documents whose id existed with other content
    unchanged: int = 0  # same id and content: skipped
    chunks: int = 0
    mentions: int = 0
    entities: int = 0  # entities written (new or updated)
    merged_into_existing: int = 0  # entity clusters that matched a stored entity
    relations: int = 0
    words: int = 0
    seconds: float = 0.0
    errors: list[InputError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # "{doc id}: {warning}", e.g. not English
    stage_seconds: dict[str, float] = field(default_factory=dict)  # kg/timing.py's stages, this ingest only

    @property
    def ok(self) -> bool:
        return not self.errors


def _trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop whitespace (emoji are spaces by now) and modifier symbols (a stray ` or ^) from a span's ends."""
    def edge(c: str) -> bool:
        return c.isspace() or unicodedata.category(c) == "Sk"

    s, e = start, end
    while s < e and edge(text[s]):
        s += 1
    while e > s and edge(text[e - 1]):
        e -= 1
    return (s, e) if e > s else (start, end)


def embedding_text(title: str, text: str) -> str:
    """What a chunk's vector is computed from (and a question's is compared with): its normalised
    text under its document's title."""
    text = normalize_for_models(text).text
    return f"{title}\n{text}" if title else text


def _cite_original(doc: Document, norm: NormalizedText, chunks: list[Chunk], mentions: list[list[Mention]],
                   relations: list[list[Relation]]) -> None:
    """Move every offset the models gave on `norm.text` onto `doc.text`, in place, so texts and
    citations quote the source exactly; a mention keeps the clean surface it was found as in `name`."""
    src = doc.text
    for c in chunks:
        c.start, c.end = norm.to_original(c.start, c.end)
        c.text = src[c.start:c.end]
        c.sentences = [norm.to_original(s, e) for s, e in c.sentences]
    for ms in mentions:
        for m in ms:
            s, e = _trim_span(norm.text, m.start, m.end)
            m.start, m.end = norm.to_original(s, e)
            m.text = src[m.start:m.end]
            m.name = "" if norm.text[s:e] == m.text else norm.text[s:e]
    for rels in relations:
        for r in rels:
            r.start, r.end = norm.to_original(r.start, r.end)


class Workers(Protocol):
    """Extraction elsewhere (kg/parallel.py, or _OwnExtraction): submit a batch, later take
    its results and the seconds each stage took there (Pipeline.extract, then embed_results)."""

    size: int  # workers: each write batch is split in this many parts, extracted at once
    window: int  # write batches in flight

    def submit(self, docs: list[Document]) -> Any: ...

    def result(self, handle: Any) -> tuple[list[ExtractionResult], dict[str, float]]: ...


def in_order(items: Iterable[T], submit: Callable[[T], Any], window: int) -> Iterator[tuple[T, Any]]:
    """(item, handle) in input order, with at most `window` submitted and not yet taken: a long
    input is read as it is consumed, never all at once."""
    pending: deque[tuple[T, Any]] = deque()
    for item in items:
        pending.append((item, submit(item)))
        if len(pending) >= window:
            yield pending.popleft()
    while pending:
        yield pending.popleft()


class _OwnExtraction:
    """The workers of an ingest that names none: this process. With `ahead`, one thread extracts
    the next write batch while this one is resolved and written (the writes mostly wait on the
    store, and torch releases the GIL): 1.1-1.2x faster than taking turns. Chunks and entity
    names are embedded here, phrase keys not: only the writer knows which the store lacks."""

    size = 1
    window = 2  # the batch being written, and the next one

    def __init__(self, pipeline: "Pipeline", ahead: bool = True):
        from concurrent.futures import ThreadPoolExecutor

        self._pipeline = pipeline
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="kg-extract") if ahead else None

    def submit(self, docs: list[Document]) -> Any:
        return self._pool.submit(self._extract, docs) if self._pool else self._extract(docs)

    def _extract(self, docs: list[Document]) -> list[ExtractionResult]:
        results = self._pipeline.extract(docs)
        self._pipeline.embed_results(results, phrases=False)
        return results

    def result(self, handle: Any) -> tuple[list[ExtractionResult], dict[str, float]]:
        # the seconds are already in the pipeline's own stages
        return (handle.result() if self._pool else handle), {}

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=False, cancel_futures=True)  # an interrupted ingest returns at once


def split_by_chars(docs: list[Document], parts: int) -> list[list[Document]]:
    """At most `parts` runs of consecutive documents, of about equal characters, none empty."""
    total = sum(len(d.text) for d in docs)
    out: list[list[Document]] = []
    done = 0
    for d in docs:
        if not out or (done + len(d.text) / 2 > total * len(out) / parts and len(out) < parts):
            out.append([])
        out[-1].append(d)
        done += len(d.text)
    return out


class Pipeline:
    def __init__(
        self,
        schema: Schema,
        chunker: Chunker,
        entities: EntityExtractor,
        relations: RelationExtractor,
        embedder: Embedder,
        resolver: EntityResolver,
        store: GraphStore | None = None,
        batch_chars: int = 50_000,
        phrases: NounPhraseExtractor | None = None,
    ):
        self.schema = schema
        self.chunker = chunker
        self.entities = entities
        self.relations = relations
        self.embedder = embedder
        self.resolver = resolver
        self.store = store
        self.batch_chars = batch_chars
        self.phrases = phrases  # noun phrases for the retrieval graph; None: entities only
        # one writer at a time: resolution reads the store, then the batch is written; a second
        # ingest (or a delete) in between would make duplicates or dangling mentions. Hosts that
        # write through other paths (the API's DELETE, the MCP tools) take this lock too.
        self.write_lock = threading.RLock()
        self.stages = Stages()  # seconds per stage, summed over this pipeline's life
        resolver.stages = self.stages

    @classmethod
    def from_settings(cls, settings: Settings | None = None, store: GraphStore | None = None) -> "Pipeline":
        s = settings or get_settings()
        if s.torch_threads:
            import torch

            torch.set_num_threads(s.torch_threads)
        schema = load_schema(s.schema_path)
        embedder = get_embedder(s.embedding_model, s.device, s.embedding_precision)
        return cls(
            schema=schema,
            chunker=SentenceChunker(s.spacy_model, s.chunk_chars),
            entities=load_entity_extractor(s.ner_model or s.spacy_model, schema, device=s.device),
            relations=load_relation_extractor(s.relation_model, schema, spacy_model=s.spacy_model, device=s.device,
                                              threshold=s.relation_threshold,
                                              precision=s.relation_precision or None),
            embedder=embedder,
            resolver=EntityResolver(embedder, s.resolve_threshold, schema=schema),
            store=store,
            batch_chars=s.ingest_batch_chars,
            phrases=NounPhraseExtractor(s.spacy_model) if s.phrases else None,
        )

    # --- extraction (no store) ---

    def extract(self, docs: Sequence[Document]) -> list[ExtractionResult]:
        """Entities and relations of each document, with offsets into its original text.

        The models read a normalised copy (kg/normalize.py: no zero-width characters, plain
        spaces, NFC, emoji as spaces); every offset is mapped back afterwards.
        """
        timed = self.stages.timed
        with timed("chunking"):
            normalized = [normalize_for_models(d.text) for d in docs]
            model_docs = [d if n.is_identity else replace(d, text=n.text) for d, n in zip(docs, normalized)]
            chunks_per_doc = self.chunker.chunk(model_docs)
        flat = [c for cs in chunks_per_doc for c in cs]
        with timed("ner"):
            mentions = self.entities.extract(flat)
        with timed("relations"):
            relations = self.relations.extract(flat, mentions)
        if self.phrases is not None:
            titles = {d.id: phrase_key(d.title.split()) for d in docs}
            with timed("phrases"):
                keys_per_chunk = self.phrases.extract(flat, mentions)
            for c, keys in zip(flat, keys_per_chunk):
                # the title names what every chunk of the document is about: a phrase of each
                c.phrases = list(dict.fromkeys(([titles[c.doc_id]] if titles[c.doc_id] else []) + keys))
        out, pos = [], 0
        for doc, norm, cs in zip(docs, normalized, chunks_per_doc):
            n = len(cs)
            ms, rels = mentions[pos: pos + n], relations[pos: pos + n]
            _cite_original(doc, norm, cs, ms, rels)
            warning = language_warning(norm.text)
            out.append(ExtractionResult(doc, cs, ms, rels, [warning] if warning else []))
            pos += n
        return out

    # --- ingestion ---

    def embed_results(self, results: Sequence[ExtractionResult], phrases: bool = True) -> None:
        """Compute, in place, what build_batch would embed: the chunks' vectors, and each result's
        entity names and (with `phrases`) phrase keys (ExtractionResult.vectors). A worker does this
        beside its extraction, so the one writer embeds nothing (vectors depend on their text
        alone). Without `phrases`, the writer embeds only the phrase keys the store lacks."""
        self._embed_chunks([c for r in results for c in r.chunks], results)
        per_result = [({k for c in r.chunks for k in c.phrases} if phrases else set())
                      | {m.name or m.text for ms in r.mentions for m in ms} for r in results]
        texts = sorted(set().union(*per_result))  # one call: texts of one length share its calls
        with self.stages.timed("embeddings"):
            vectors = dict(zip(texts, self.embedder.embed(texts)))
        for r, own in zip(results, per_result):
            r.vectors = {t: vectors[t] for t in sorted(own)}

    def _embed_chunks(self, chunks: list[Chunk], results: Sequence[ExtractionResult]) -> None:
        # embed what the models read (no zero-width characters, emoji, ...), under the document's
        # title: a passage is found by what it is about, which the title often says and the text not
        todo = [(r.doc.title, c) for r in results for c in r.chunks if c.embedding is None]
        with self.stages.timed("embeddings"):
            vecs = self.embedder.embed([embedding_text(title, c.text) for title, c in todo])
        for (_, c), v in zip(todo, vecs):
            c.embedding = v.tolist()

    def build_batch(self, results: Sequence[ExtractionResult]) -> tuple[GraphBatch, int]:
        """Embed (what a worker has not), resolve against the store, and assemble one write batch."""
        timed = self.stages.timed
        chunks = [c for r in results for c in r.chunks]
        self._embed_chunks(chunks, results)
        known = {t: v for r in results for t, v in r.vectors.items()}
        phrase_keys = sorted({k for c in chunks for k in c.phrases})
        with timed("writes"):  # a store read: only phrases the store lacks are embedded
            new_keys = self.store.missing_phrases(phrase_keys) if self.store is not None else phrase_keys
        todo = [k for k in new_keys if k not in known]
        with timed("embeddings"):
            known.update(zip(todo, self.embedder.embed(todo)))
        phrases = [Phrase(k, np.asarray(known[k]).tolist()) for k in new_keys]
        doc_mentions = [
            DocMention(r.doc.id, m) for r in results for ms in r.mentions for m in ms
        ]
        with timed("resolution"):  # the names' embeddings inside count as "embeddings"
            res = self.resolver.resolve(doc_mentions, self.store, known)
        batch = GraphBatch(documents=[r.doc for r in results], chunks=chunks, entities=res.entities,
                           phrases=phrases)
        rel_index: dict[tuple[str, str, str], RelationLink] = {}
        pos = 0
        for r in results:
            for chunk, ms, rels in zip(r.chunks, r.mentions, r.relations):
                ids = res.entity_ids[pos: pos + len(ms)]
                pos += len(ms)
                for m, eid in zip(ms, ids):
                    batch.mentions.append(MentionLink(eid, chunk.id, m.start, m.end, m.text))
                for rel in rels:
                    h, t = ids[rel.head], ids[rel.tail]
                    if h == t:  # both sides resolved to one entity: not a fact
                        continue
                    rt = self.schema.relation_types.get(rel.type)
                    if rt is not None and rt.symmetric and t < h:
                        h, t = t, h
                    add_relation(rel_index, RelationLink(h, t, rel.type, rel.confidence, rel.model, [chunk.id],
                                                         [(rel.start, rel.end)]))
        batch.relations = list(rel_index.values())
        return batch, res.merged_into_store

    def _batches(self, items: Iterable[Document | InputError], report: IngestReport) -> Iterator[list[Document]]:
        batch, size, seen = [], 0, set()
        for item in items:
            if isinstance(item, InputError):
                report.errors.append(item)
                continue
            if item.id in seen:  # the same document twice in one run
                report.unchanged += 1
                continue
            seen.add(item.id)
            batch.append(item)
            size += len(item.text)
            if size >= self.batch_chars:
                yield batch
                batch, size = [], 0
        if batch:
            yield batch

    def ingest(self, items: Iterable[Document | InputError], progress: bool | None = None,
               total: int | None = None, on_error=None, workers: Workers | None = None,
               extract_ahead: bool = True) -> IngestReport:
        """Ingest documents; InputErrors in the stream are collected, never fatal. Extraction and
        embeddings run in the workers, or without them in this process: in a thread one batch
        ahead, or (extract_ahead=False) taking turns with the writes. This thread resolves and
        writes, one batch at a time in input order; the graph is the same every way."""
        from tqdm import tqdm

        if self.store is None:
            raise RuntimeError("Pipeline.ingest needs a store")
        report = IngestReport()
        t0, before = time.perf_counter(), self.stages.snapshot()
        # progress=None: a bar only when stderr is a terminal
        bar = tqdm(total=total, unit="doc", desc="ingest", disable=None if progress is None else not progress)
        own = workers is None
        workers = _OwnExtraction(self, extract_ahead) if own else workers

        def submit(docs: list[Document]) -> tuple[list[Any], int]:
            # ids are unique within a run, so writing the batches ahead cannot change this answer
            with self.write_lock:
                todo = self.changed(docs, report)
            # a document's results do not depend on its batch-mates: the parts may go anywhere
            return [workers.submit(part) for part in split_by_chars(todo, workers.size)], len(docs)

        try:
            for _, (handles, n) in in_order(self._batches(items, report), submit, workers.window):
                results = []
                for handle in handles:
                    part, seconds = workers.result(handle)
                    results.extend(part)
                    self.stages.add(seconds)
                if results:
                    with self.write_lock:  # the write batch is the same with or without workers
                        self.load(results, report)
                bar.update(n)
        finally:
            if own:
                workers.close()
        bar.close()
        report.seconds = time.perf_counter() - t0
        report.stage_seconds = Stages.since(before, self.stages.snapshot())
        return report

    def changed(self, docs: list[Document], report: IngestReport) -> list[Document]:
        """The documents to (re)ingest; those stored with the same content are counted unchanged."""
        with self.stages.timed("writes"):
            stored = self.store.get_documents([d.id for d in docs])
        todo = [d for d in docs if d.id not in stored or stored[d.id].sha256 != d.sha256]
        report.unchanged += len(docs) - len(todo)
        return todo

    def load(self, results: Sequence[ExtractionResult], report: IngestReport) -> None:
        """Embed, resolve and write one batch's extraction results (the caller holds write_lock).
        A stored version of a document is replaced. Which are stored is read here, under the lock,
        not taken from `changed`: that looked before the extraction, and another ingest in this
        process (the API's jobs, MCP) may have stored one of them since."""
        report.warnings.extend(f"{r.doc.id}: {w}" for r in results for w in r.warnings)
        with self.stages.timed("writes"):
            replacing = sorted(self.store.get_documents([r.doc.id for r in results]))
        batch, merged = self.build_batch(results)
        # one atomic write: the new versions in, the old versions out, or nothing at all
        batch.replaces = replacing
        with self.stages.timed("writes"):
            self.store.upsert(batch)
        report.updated += len(replacing)
        report.ingested += len(results) - len(replacing)
        report.chunks += len(batch.chunks)
        report.mentions += len(batch.mentions)
        report.entities += len(batch.entities)
        report.merged_into_existing += merged
        report.relations += len(batch.relations)
        report.words += sum(len(r.doc.text.split()) for r in results)


def extraction_json(result: ExtractionResult) -> dict:
    """The `kg extract --json` shape: entity mentions with ids, relations between those ids."""
    entities, relations = [], []
    for ms, rels in zip(result.mentions, result.relations):
        base = len(entities)
        for m in ms:
            entities.append({"id": f"m{len(entities)}", "text": m.text, "type": m.type, "start": m.start, "end": m.end})
        for r in rels:
            relations.append({
                "head": f"m{base + r.head}", "relation": r.type, "tail": f"m{base + r.tail}",
                "confidence": round(float(r.confidence), 4), "start": r.start, "end": r.end,
            })
    return {"entities": entities, "relations": relations}
