"""Retrieval on the real models and a real store, over a small corpus whose answers are known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict

import pytest

from kg.config import REPO_ROOT, Settings
from kg.documents import make_document
from kg.pipeline import Pipeline
from kg.retrieval import Filters, Retriever
from kg.retrieval.evaluation import evaluate, load_retrieval_dataset

CORPUS = [
    ("Zorblat Industries", "Zorblat Industries is a maker of kitchen robots. The company is headquartered in Vellmora."),
    ("Vellmora", "Vellmora is the capital of the Republic of Quenia, a small country on the Amber Coast."),
    ("Mira Castellan", "Mira Castellan is an engineer. She founded Zorblat Industries in 1998 with two friends."),
    ("Quenia", "The Republic of Quenia became independent in 1921. Its currency is the quen."),
    ("Amber Coast", "The Amber Coast is known for its cliffs, its lighthouses and its fishing villages."),
    ("Tobias Renner", "Tobias Renner is a painter who lives in Harlow Bay and paints lighthouses."),
    ("Harlow Bay", "Harlow Bay is a fishing town in the north of Quenia with a famous harbour."),
    ("Kitchen robots", "Kitchen robots chop vegetables, stir soup and wash dishes without help."),
]


def _doc(i: int):
    title, text = CORPUS[i]
    return make_document(text, id=f"doc-{i}", title=title, source="corpus",
                         metadata={"topic": "people" if i in (2, 5) else "places" if i in (1, 3, 4, 6) else "firms"})


@pytest.fixture(scope="module")
def parts():
    return Pipeline.from_settings(Settings())


@pytest.fixture
def indexed(parts, store):
    parts.store = store
    report = parts.ingest([_doc(i) for i in range(len(CORPUS))], progress=False)
    assert report.ok and report.ingested == len(CORPUS)
    retriever = Retriever.from_settings(Settings(), store)
    texts = {f"doc-{i}": text for i, (_, text) in enumerate(CORPUS)}
    return retriever, store, texts


def test_every_citation_quotes_its_source_exactly(indexed):
    retriever, _, texts = indexed
    result = retriever.retrieve("In which country is the company that Mira Castellan founded headquartered?", k=4)
    assert result.method == "graph" and result.passages
    for p in result.passages:
        assert texts[p.doc_id][p.start:p.end] == p.text
        assert f"[{p.n}]" in result.context and p.text.strip() in result.context
    for f in result.facts:
        assert f.citations
        for c in f.citations:
            assert texts[c.doc_id][c.start:c.end] == c.quote
    for e in result.entities:
        assert e.why and e.name
    json.dumps(asdict(result))  # plain data for JSON answers


def test_multi_hop_question_reaches_the_bridge_passages(indexed):
    retriever, _, _ = indexed
    result = retriever.retrieve("In which country is the company that Mira Castellan founded headquartered?", k=3)
    docs = [p.doc_id for p in result.passages]
    assert "doc-2" in docs and "doc-0" in docs  # the founder's passage and the company's
    linked = [e for e in result.entities if e.why.startswith("linked from")]
    assert any(e.name == "Mira Castellan" for e in linked)


def test_filters_exclude_what_they_should(indexed):
    retriever, _, _ = indexed
    q = "Who paints lighthouses on the Amber Coast?"
    only = retriever.retrieve(q, k=5, filters=Filters(doc_ids=["doc-4", "doc-6"]))
    assert only.passages and {p.doc_id for p in only.passages} <= {"doc-4", "doc-6"}
    people = retriever.retrieve(q, k=5, filters=Filters(metadata={"topic": "people"}))
    assert people.passages and {p.doc_id for p in people.passages} <= {"doc-2", "doc-5"}
    typed = retriever.retrieve(q, k=5, filters=Filters(entity_types=["Location"]))
    assert all(e.type == "Location" for e in typed.entities)
    for f in typed.facts:
        assert {f.head_id, f.tail_id} <= {e.id for e in typed.entities}


def test_a_question_with_no_entities_still_answers(indexed):
    retriever, _, _ = indexed
    result = retriever.retrieve("what chops vegetables and washes dishes?", k=2)
    assert result.passages and result.passages[0].doc_id == "doc-7"


def test_a_deleted_document_leaves_later_answers(indexed):
    retriever, store, _ = indexed
    q = "Where does Tobias Renner live?"
    before = retriever.retrieve(q, k=8)
    assert "doc-5" in [p.doc_id for p in before.passages]
    assert store.delete_document("doc-5").found
    after = retriever.retrieve(q, k=8)
    assert "doc-5" not in [p.doc_id for p in after.passages]
    assert all("doc-5" not in {c.doc_id for c in f.citations} for f in after.facts)
    assert all(e.name != "Tobias Renner" for e in after.entities)


def test_the_methods_alone(indexed):
    retriever, _, _ = indexed
    dense = retriever.retrieve("What is Vellmora the capital of?", k=1, method="dense")
    assert dense.method == "dense" and dense.passages[0].doc_id == "doc-1" and dense.passages[0].dense > 0
    text = retriever.retrieve("currency quen independent", k=1, method="fulltext")
    assert text.method == "fulltext" and text.passages[0].doc_id == "doc-3" and text.passages[0].fulltext > 0


def test_stored_keys_link_without_embedding_and_passages_report_their_bm25(indexed):
    retriever, _, _ = indexed
    embedded: list[str] = []
    real = retriever.embedder

    class Recording:  # the real embedder, noting what it is asked to embed
        dim, name = real.dim, real.name

        def embed(self, texts):
            embedded.extend(texts)
            return real.embed(texts)

        def embed_queries(self, texts):
            embedded.extend(texts)
            return real.embed_queries(texts)

    retriever.embedder = Recording()
    try:
        q = "Which lighthouses does the painter from Harlow Bay paint?"
        timings: dict[str, float] = {}
        result = retriever.retrieve(q, k=3, timings=timings)
    finally:
        retriever.embedder = real
    known = retriever.graph().phrase_nodes()
    phrases = retriever.linker.question_phrases(q)
    assert "harlow bay" in phrases and "harlow bay" in known  # a document title: a stored phrase key
    assert embedded[0] == q and set(embedded[1:]) == {p for p in phrases if p not in known}
    links = retriever.gather(q).links
    assert any((l.phrase, l.node, l.similarity) == ("harlow bay", known["harlow bay"], 1.0) for l in links)
    assert set(timings) == {"question", "dense", "fulltext", "linking", "ranking", "assembly"}
    # a graph call scores only its passages by BM25, as the full-text ranking scores them
    bm25 = retriever.graph().bm25.scores(q)
    for p in result.passages:
        assert p.fulltext == round(float(bm25[retriever.graph().index[f"c:{p.chunk_id}"]]), 6)


# ------------------------------------------------------------------ the evaluation, end to end

QUESTIONS = [
    ("Which company makes kitchen robots?", [0]),
    ("What is the capital of Quenia?", [1]),
    ("Who founded Zorblat Industries?", [2]),
    ("In which country is the company that Mira Castellan founded headquartered?", [2, 0, 1]),
    ("What does Tobias Renner paint?", [5]),
]


def _dataset_dir(tmp_path):
    d = tmp_path / "tiny_subset"
    d.mkdir()
    (d / "tiny_corpus.json").write_text(json.dumps([{"title": t, "text": x} for t, x in CORPUS]))
    (d / "tiny_questions.json").write_text(json.dumps([
        {"question": q, "paragraphs": [{"title": t, "paragraph_text": x, "is_supporting": i in gold}
                                       for i, (t, x) in enumerate(CORPUS)]} for q, gold in QUESTIONS]))
    return d


def test_eval_figures_come_from_real_retrieval(tmp_path):
    d = _dataset_dir(tmp_path)
    env = {**os.environ, "KG_DATA_DIR": str(tmp_path / "data")}
    run = [sys.executable, "-m", "kg.cli", "eval", "retrieval", "--dataset", str(d), "--json"]
    out = subprocess.run(run, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["questions"] == len(QUESTIONS) and report["passages"] == len(CORPUS)
    # the single-hop questions name their passage: dense finds each first, so recall@2 of dense is at
    # least 4 of 5 questions' worth; with 8 passages, recall@10 of every method is complete
    assert report["recall"]["dense"]["2"] >= 80.0
    assert all(report["recall"][m]["10"] == 100.0 for m in ("dense", "graph"))
    assert report["latency_ms"]["p50"] > 0 and report["latency_ms"]["p95"] >= report["latency_ms"]["p50"]
    # the same figures from the library, on the store the command built (reused, not re-ingested)
    again = subprocess.run(run, capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=600)
    assert json.loads(again.stdout)["recall"] == report["recall"] and "ingested" not in again.stderr


def test_dataset_format_errors_are_one_line(tmp_path):
    from kg.errors import DatasetError

    with pytest.raises(DatasetError, match="one \\*_corpus.json"):
        load_retrieval_dataset(tmp_path)


def test_kg_retrieve_cli_and_tool_schema(tmp_path):
    env = {**os.environ, "KG_DATA_DIR": str(tmp_path / "data")}
    schema = subprocess.run([sys.executable, "-m", "kg.cli", "retrieve", "--tool-schema"], capture_output=True,
                            text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert schema.returncode == 0, schema.stderr
    tool = json.loads(schema.stdout)
    assert tool["function"]["name"] == "retrieve"
    assert tool["function"]["parameters"]["required"] == ["question"]
    assert "Person" in tool["function"]["parameters"]["properties"]["entity_types"]["items"]["enum"]
    bad = subprocess.run([sys.executable, "-m", "kg.cli", "retrieve", "  "], capture_output=True, text=True,
                         env=env, cwd=REPO_ROOT, timeout=300)
    assert bad.returncode == 2 and "kg: error:" in bad.stderr and "Traceback" not in bad.stderr
