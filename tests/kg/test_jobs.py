"""The durable job queue (kg/jobs.py) on a real SQLite file: what is accepted is there after a
reopen, a job a crash left running is queued again with only its unfinished documents, and
per-document errors make a job "failed" with each error named. (The worker itself runs, and is
killed, in tests/api/test_serve.py.)"""

from __future__ import annotations

import threading

from kg.documents import make_document
from kg.jobs import JobQueue, batches


def _docs(n: int, prefix: str = "d"):
    return [make_document(f"Document number {i} is about Berlin.", id=f"{prefix}/{i}", title=f"T{i}",
                          metadata={"i": i}) for i in range(n)]


def test_a_submitted_job_is_on_disk_and_a_crashed_run_resumes_where_it_stopped(tmp_path):
    path = tmp_path / "jobs.sqlite"
    queue = JobQueue(path)
    job = queue.submit(_docs(3))
    assert (job.status, job.documents, job.processed) == ("queued", 3, 0)
    assert queue.claim_next() == job.id and queue.get(job.id).status == "running"
    queue.record(job.id, [0], ingested=1)
    queue.close()  # the process dies here: document 0 done, 1 and 2 not

    reopened = JobQueue(path)
    assert reopened.claim_next() is None  # still "running" until the worker's start requeues it
    assert reopened.requeue_running() == 1
    assert reopened.get(job.id).status == "queued"
    assert reopened.claim_next() == job.id
    pending = reopened.pending(job.id)
    assert [(p, d.id, d.title, d.metadata) for p, d in pending] == [(1, "d/1", "T1", {"i": 1}),
                                                                   (2, "d/2", "T2", {"i": 2})]
    assert pending[0][1].sha256 == _docs(3)[1].sha256  # the same document, text and all
    reopened.record(job.id, [1, 2], unchanged=2)
    reopened.finish(job.id)
    done = reopened.get(job.id)
    assert (done.status, done.processed, done.failed, done.ingested, done.unchanged) == ("done", 3, 0, 1, 2)
    assert done.started_at and done.finished_at and done.errors == []
    reopened.close()


def test_failed_documents_make_a_failed_job_naming_each(tmp_path):
    queue = JobQueue(tmp_path / "jobs.sqlite")
    job = queue.submit(_docs(3))
    queue.claim_next()
    queue.record(job.id, [0, 2], [(1, "StoreError: refused")], ingested=2)
    queue.finish(job.id)
    failed = queue.get(job.id)
    assert (failed.status, failed.processed, failed.failed) == ("failed", 3, 1)
    assert [(e.position, e.doc_id, e.error) for e in failed.errors] == [(1, "d/1", "StoreError: refused")]
    assert queue.get(job.id, with_errors=False).errors == []
    queue.close()


def test_jobs_are_listed_newest_first_and_counted_by_status(tmp_path):
    queue = JobQueue(tmp_path / "jobs.sqlite")
    ids = [queue.submit(_docs(1, prefix=f"j{i}")).id for i in range(3)]
    assert queue.claim_next() == ids[0]  # the oldest first
    page, total = queue.list(limit=2)
    assert total == 3 and [j.id for j in page] == [ids[2], ids[1]]
    queued, n = queue.list("queued")
    assert n == 2 and {j.id for j in queued} == {ids[1], ids[2]}
    assert queue.counts() == {"queued": 2, "running": 1, "done": 0, "failed": 0}
    assert queue.get("nope") is None
    queue.close()


def test_each_thread_has_its_own_connection(tmp_path):
    queue = JobQueue(tmp_path / "jobs.sqlite")
    ids, errors = [], []

    def submit():
        try:
            ids.append(queue.submit(_docs(2, prefix=threading.current_thread().name)).id)
        except Exception as e:  # a shared connection across threads would raise here
            errors.append(e)

    threads = [threading.Thread(target=submit, name=f"t{i}") for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(ids)) == 8 and queue.list()[1] == 8
    queue.close()


def test_batches_group_documents_by_characters():
    docs = list(enumerate(_docs(5)))
    size = len(docs[0][1].text)
    assert [[p for p, _ in g] for g in batches(docs, 2 * size)] == [[0, 1], [2, 3], [4]]
    assert [[p for p, _ in g] for g in batches(docs, 1)] == [[0], [1], [2], [3], [4]]
