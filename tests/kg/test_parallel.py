"""Extraction in worker processes and on Ray, one writer: the graph is the one an ingest in a
single process makes, node for node (real models, a real store, real processes)."""

from __future__ import annotations

import pytest

from kg.config import REPO_ROOT, Settings
from kg.documents import read_inputs
from kg.errors import UsageError
from kg.parallel import ProcessWorkers, RayWorkers
from kg.pipeline import Pipeline

CORPUS = REPO_ROOT / "samples" / "wikipedia_passages.jsonl"


def _docs(n: int = 8):
    return [d for d in read_inputs([str(CORPUS)], 10**7) if hasattr(d, "text")][:n]


def _graph(store) -> dict:
    dump = store.dump()
    for n in dump["nodes"]:
        n["properties"].pop("ingested_at", None)  # the clock of each run
    return dump


@pytest.fixture(scope="module")
def pipeline():
    p = Pipeline.from_settings(Settings())
    p.batch_chars = 2500  # several batches in flight, so results must come back in order
    return p


@pytest.fixture(scope="module")
def reference(pipeline, falkordb_server):
    """The graph of the corpus ingested in this process alone."""
    from kg.stores.falkordb.store import FalkorDBStore

    with FalkorDBStore(server=falkordb_server, graph_name="parallel_reference") as store:
        store.clear()
        pipeline.store = store
        report = pipeline.ingest(_docs(), progress=False)
        assert report.ok and report.ingested == 8
        return _graph(store), report


def _ingest_with(pipeline, store, workers):
    pipeline.store = store
    try:
        return pipeline.ingest(_docs(), progress=False, workers=workers)
    finally:
        workers.close()


@pytest.mark.parametrize("n", [1, 2])
def test_worker_processes_make_the_same_graph(pipeline, store, reference, n):
    graph, ref_report = reference
    report = _ingest_with(pipeline, store, ProcessWorkers(Settings(), n))
    assert report.ok and report.ingested == 8
    assert (report.chunks, report.mentions, report.entities, report.relations) == \
        (ref_report.chunks, ref_report.mentions, ref_report.entities, ref_report.relations)
    assert _graph(store) == graph
    # the workers' extraction time is reported under its stages
    assert report.stage_seconds["ner"] > 0 and report.stage_seconds["embeddings"] > 0
    # a second run finds every document unchanged and sends nothing to the workers
    again = _ingest_with(pipeline, store, ProcessWorkers(Settings(), n))
    assert again.unchanged == 8 and again.ingested == 0 and _graph(store) == graph


def test_extracting_ahead_in_a_thread_makes_the_graph_of_taking_turns(pipeline, store, reference):
    # the reference ingest extracted each batch in a thread while the previous one was written
    pipeline.store = store
    report = pipeline.ingest(_docs(), progress=False, extract_ahead=False)
    assert report.ok and report.ingested == 8
    assert _graph(store) == reference[0]


def test_an_extraction_failure_stops_the_ingest_and_keeps_the_batches_written(pipeline, store, monkeypatch):
    pipeline.store = store
    store.clear()
    calls = []
    real = pipeline.relations.extract

    def fails_on_the_second_batch(chunks, mentions):
        calls.append(len(chunks))
        if len(calls) == 2:
            raise RuntimeError("relation model failed")
        return real(chunks, mentions)

    monkeypatch.setattr(pipeline.relations, "extract", fails_on_the_second_batch)
    with pytest.raises(RuntimeError, match="relation model failed"):
        pipeline.ingest(_docs(), progress=False)
    stored = store.stats()["documents"]
    assert 0 < stored < 8  # the batches before the failure, each whole (one atomic write a batch)
    monkeypatch.undo()
    report = pipeline.ingest(_docs(), progress=False)  # again: only the rest is extracted
    assert report.ok and report.unchanged == stored and report.ingested == 8 - stored


def test_ray_actors_make_the_same_graph(pipeline, store, reference):
    import ray  # the kg[ray] extra: `make install` puts it in

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO_ROOT)}})
    try:
        report = _ingest_with(pipeline, store, RayWorkers(Settings(), 2, None))
    finally:
        ray.shutdown()
    assert report.ok and report.ingested == 8
    assert _graph(store) == reference[0]


def test_bad_worker_counts_are_refused():
    with pytest.raises(UsageError, match="--workers 0"):
        ProcessWorkers(Settings(), 0)


def test_split_by_chars_keeps_order_and_balances():
    from kg.pipeline import split_by_chars
    from kg.types import Document

    docs = [Document(str(i), "x" * n) for i, n in enumerate([10, 10, 10, 10, 50, 5])]
    assert [[d.id for d in p] for p in split_by_chars(docs, 2)] == [["0", "1", "2", "3"], ["4", "5"]]
    assert [len(p) for p in split_by_chars(docs, 10)] == [1] * 6  # never an empty part
    assert split_by_chars(docs, 1) == [docs] and split_by_chars([], 3) == []
