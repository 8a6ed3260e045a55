"""Durable ingestion jobs: accepted documents are kept in SQLite until the store has them.

    JobQueue(data_dir / "jobs.sqlite")   submit(docs) commits the job and its documents before it
                                         returns, so an accepted job survives a crash or a restart
    JobWorker(queue, pipeline).start()   one thread: the oldest queued job first, its documents in
                                         batches of about KG_INGEST_BATCH_CHARS, each batch one
                                         atomic store write, then marked done in the queue

A job left "running" by a crash is queued again at the next start (`JobQueue.requeue_running`)
and goes on with the documents not yet marked done. A batch whose store write landed just
before the crash, but whose marks did not, is ingested again: re-ingesting a document with the
same id and text is a no-op, so every accepted document ends up in the store exactly once
(it then counts as "unchanged" in that job's counters).

SQLite in WAL mode, one connection per thread, synchronous=FULL: a commit is on disk before
the 202 goes out. Statuses: a job is queued -> running -> done (every document ingested or
unchanged) or failed (some documents could not be ingested; `errors` says which and why).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from kg.documents import make_document
from kg.errors import KGError, StoreUnavailable
from kg.types import Document

JOB_STATUSES = ("queued", "running", "done", "failed")
RETRY_AFTER_S = 5.0  # the store was unavailable: try the job again after this long

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    documents INTEGER NOT NULL,
    ingested INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, seq);
CREATE TABLE IF NOT EXISTS job_documents (
    job_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    document TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    error TEXT,
    PRIMARY KEY (job_id, position)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class DocumentError:
    position: int  # the document's index in the submitted list
    doc_id: str
    error: str


@dataclass
class Job:
    id: str
    status: str  # queued | running | done | failed
    created_at: str
    started_at: str | None
    finished_at: str | None
    documents: int  # accepted
    processed: int  # done or failed so far
    failed: int
    ingested: int  # new documents written
    updated: int  # documents whose id was stored with other text
    unchanged: int  # same id and text already stored
    errors: list[DocumentError] = field(default_factory=list)


class JobQueue:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._db().executescript(_SCHEMA)  # its own transaction

    # ------------------------------------------------------------------ connections

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            # autocommit mode; transactions are explicit (_tx). check_same_thread stays on: one per thread
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            self._local.db = db
            with self._all_lock:
                self._all.append(db)
        return db

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (on disk) when the block ends."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection (at shutdown, after the worker stopped)."""
        with self._all_lock:
            for db in self._all:
                try:
                    db.close()
                except sqlite3.ProgrammingError:
                    pass  # made in another thread that is gone; the process exit closes it
            self._all.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ what the API calls

    def submit(self, docs: Sequence[Document]) -> Job:
        """Persist a job and its documents (committed when this returns) and return it queued."""
        job_id = uuid.uuid4().hex
        rows = [(job_id, i, d.id, json.dumps({"text": d.text, "title": d.title, "source": d.source,
                                               "metadata": d.metadata}, ensure_ascii=False))
                for i, d in enumerate(docs)]
        with self._tx() as db:
            db.execute("INSERT INTO jobs (id, status, created_at, documents) VALUES (?, 'queued', ?, ?)",
                       (job_id, _now(), len(rows)))
            db.executemany("INSERT INTO job_documents (job_id, position, doc_id, document) VALUES (?, ?, ?, ?)", rows)
        job = self.get(job_id)
        assert job is not None
        return job

    def get(self, job_id: str, with_errors: bool = True) -> Job | None:
        row = self._db().execute(f"{_JOB_SELECT} WHERE j.id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        job = _job(row)
        if with_errors and job.failed:
            job.errors = [DocumentError(p, d, e) for p, d, e in self._db().execute(
                "SELECT position, doc_id, error FROM job_documents WHERE job_id = ? AND status = 'failed' "
                "ORDER BY position", (job_id,))]
        return job

    def list(self, status: str | None = None, offset: int = 0, limit: int = 50) -> tuple[list[Job], int]:
        """One page of jobs, newest first (errors left out), and how many there are in all."""
        where, args = ("WHERE j.status = ?", [status]) if status else ("", [])
        total = self._db().execute(f"SELECT count(*) FROM jobs j {where}", args).fetchone()[0]
        rows = self._db().execute(f"{_JOB_SELECT} {where} ORDER BY j.seq DESC LIMIT ? OFFSET ?",
                                  [*args, max(0, limit), max(0, offset)]).fetchall()
        return [_job(r) for r in rows], int(total)

    def counts(self) -> dict[str, int]:
        found = dict(self._db().execute("SELECT status, count(*) FROM jobs GROUP BY status").fetchall())
        return {s: int(found.get(s, 0)) for s in JOB_STATUSES}

    # ------------------------------------------------------------------ what the worker calls

    def requeue_running(self) -> int:
        """Jobs a crash left running go back to the queue (at start, before the worker runs)."""
        with self._tx() as db:
            return db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'").rowcount

    def claim_next(self) -> str | None:
        """The oldest queued job, now marked running; None when the queue is empty."""
        with self._tx() as db:
            row = db.execute("SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET status = 'running', started_at = coalesce(started_at, ?) WHERE id = ?",
                       (_now(), row[0]))
            return row[0]

    def pending(self, job_id: str) -> list[tuple[int, Document]]:
        """The job's documents not yet done or failed, in order."""
        out = []
        for position, doc_id, raw in self._db().execute(
                "SELECT position, doc_id, document FROM job_documents WHERE job_id = ? AND status = 'queued' "
                "ORDER BY position", (job_id,)):
            d = json.loads(raw)
            out.append((position, make_document(d["text"], id=doc_id, source=d["source"], title=d["title"],
                                                metadata=d["metadata"])))
        return out

    def record(self, job_id: str, done: Sequence[int], failed: Sequence[tuple[int, str]] = (),
               ingested: int = 0, updated: int = 0, unchanged: int = 0) -> None:
        """Mark documents done (by position) or failed (with a message), and add to the counters."""
        with self._tx() as db:
            db.executemany("UPDATE job_documents SET status = 'done' WHERE job_id = ? AND position = ?",
                           [(job_id, p) for p in done])
            db.executemany("UPDATE job_documents SET status = 'failed', error = ? WHERE job_id = ? AND position = ?",
                           [(e, job_id, p) for p, e in failed])
            db.execute("UPDATE jobs SET ingested = ingested + ?, updated = updated + ?, unchanged = unchanged + ? "
                       "WHERE id = ?", (ingested, updated, unchanged, job_id))

    def finish(self, job_id: str) -> None:
        with self._tx() as db:
            failed = db.execute("SELECT count(*) FROM job_documents WHERE job_id = ? AND status = 'failed'",
                                (job_id,)).fetchone()[0]
            db.execute("UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?",
                       ("failed" if failed else "done", _now(), job_id))

    def release(self, job_id: str) -> None:
        """Put a running job back in the queue (the store is down, or the worker is stopping)."""
        with self._tx() as db:
            db.execute("UPDATE jobs SET status = 'queued' WHERE id = ? AND status = 'running'", (job_id,))


_JOB_SELECT = (
    "SELECT j.id, j.status, j.created_at, j.started_at, j.finished_at, j.documents, "
    "(SELECT count(*) FROM job_documents d WHERE d.job_id = j.id AND d.status != 'queued'), "
    "(SELECT count(*) FROM job_documents d WHERE d.job_id = j.id AND d.status = 'failed'), "
    "j.ingested, j.updated, j.unchanged FROM jobs j"
)


def _job(row: Sequence[Any]) -> Job:
    return Job(*row)


def batches(pending: Sequence[tuple[int, Document]], batch_chars: int) -> Iterator[list[tuple[int, Document]]]:
    """Documents grouped as the pipeline would group them: about batch_chars characters each."""
    group: list[tuple[int, Document]] = []
    size = 0
    for item in pending:
        group.append(item)
        size += len(item[1].text)
        if size >= batch_chars:
            yield group
            group, size = [], 0
    if group:
        yield group


def _message(error: Exception) -> str:
    return str(error) if isinstance(error, KGError) else f"{error.__class__.__name__}: {error}"


class JobWorker:
    """The one thread that works the queue: one job at a time, one batch of documents at a time."""

    def __init__(self, queue: JobQueue, pipeline, batch_chars: int | None = None, poll_s: float = 1.0):
        self.queue = queue
        self.pipeline = pipeline  # a kg.pipeline.Pipeline with a store
        self.batch_chars = batch_chars or pipeline.batch_chars
        self.poll_s = poll_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "JobWorker":
        self.queue.requeue_running()
        self._thread = threading.Thread(target=self._loop, name="kg-jobs", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """A job was submitted: look at the queue now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Ask the worker to stop after its current batch; True when it has stopped."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            job_id = self.queue.claim_next()
            if job_id is None:
                self._wake.wait(self.poll_s)
                self._wake.clear()
                continue
            try:
                if self.work(job_id):
                    self.queue.finish(job_id)
                else:
                    self.queue.release(job_id)
            except StoreUnavailable:
                self.queue.release(job_id)
                self._stop.wait(RETRY_AFTER_S)

    def work(self, job_id: str) -> bool:
        """Ingest the job's pending documents; False when stopped half way (the job is resumed later)."""
        for group in batches(self.queue.pending(job_id), self.batch_chars):
            if self._stop.is_set():
                return False
            try:
                report = self.pipeline.ingest([d for _, d in group], progress=False)
            except StoreUnavailable:
                raise
            except Exception:
                if self._stop.is_set():  # the store was closed under us at shutdown: not the documents' fault
                    return False
                self._one_by_one(job_id, group)
                continue
            self.queue.record(job_id, [p for p, _ in group], ingested=report.ingested, updated=report.updated,
                              unchanged=report.unchanged)
        return True

    def _one_by_one(self, job_id: str, group: list[tuple[int, Document]]) -> None:
        """A batch failed: ingest its documents one at a time, so each failure names its document."""
        for position, doc in group:
            try:
                report = self.pipeline.ingest([doc], progress=False)
            except StoreUnavailable:
                raise
            except Exception as e:  # recorded on the job; the worker goes on with the next document
                self.queue.record(job_id, [], [(position, _message(e))])
                continue
            self.queue.record(job_id, [position], ingested=report.ingested, updated=report.updated,
                              unchanged=report.unchanged)

    def idle(self) -> bool:
        """True when no job is queued or running (for tests and the demo)."""
        counts = self.queue.counts()
        return counts["queued"] == 0 and counts["running"] == 0


def wait_until_idle(worker: JobWorker, timeout: float = 600.0, poll_s: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.idle():
            return True
        time.sleep(poll_s)
    return False
