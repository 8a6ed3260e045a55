"""Documents: submit (202 with a job id; api/routers/jobs.py follows it), list, read, delete."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from api.deps import JobsDep, PipelineDep, SettingsDep, StoreDep, WorkerDep, WriteAccess
from api.schemas.common import errors
from api.schemas.documents import DeleteOut, DocumentOut, DocumentPage, IngestRequest
from api.schemas.jobs import JobOut
from kg.documents import make_document
from kg.types import Document

router = APIRouter(tags=["documents"])


def _out(d: Document) -> DocumentOut:
    return DocumentOut(id=d.id, title=d.title, source=d.source, metadata=d.metadata, sha256=d.sha256)


@router.post("/documents", status_code=202, response_model=JobOut, dependencies=[WriteAccess],
             responses=errors(400, 401, 413, 422, 503))
def submit_documents(req: IngestRequest, jobs: JobsDep, worker: WorkerDep, settings: SettingsDep,
                     response: Response) -> JobOut:
    """Queue one or more documents for ingestion. The job and its documents are on disk before
    this answers, and are ingested in the background, one job at a time; a restart resumes them.
    A document whose id is stored with the same text is left as it is (re-submitting is a no-op);
    with other text it is replaced. Follow the job at GET /v1/jobs/{id} (the Location header)."""
    limit = settings.max_file_bytes
    docs = []
    for i, d in enumerate(req.documents):  # all are checked before any is accepted
        if len(d.text.encode("utf-8")) > limit:
            raise HTTPException(413, f"document {i} ({d.id or 'no id'}) is over the {limit:,} byte limit "
                                     "(KG_MAX_FILE_BYTES); split it")
        docs.append(make_document(d.text, id=d.id, source="api", title=d.title, metadata=d.metadata))
    job = jobs.submit(docs)
    worker.wake()
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobOut(**asdict(job))


@router.get("/documents", response_model=DocumentPage, responses=errors(422, 503))
def list_documents(store: StoreDep, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
                   limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> DocumentPage:
    """The stored documents, ordered by id, one page at a time (their metadata; the text is in the chunks)."""
    total = int(store.stats()["documents"])
    return DocumentPage(items=[_out(d) for d in store.list_documents(offset, limit)], total=total,
                        offset=offset, limit=limit)


@router.get("/documents/{doc_id:path}", response_model=DocumentOut, responses=errors(400, 404, 422, 503))
def get_document(doc_id: str, store: StoreDep) -> DocumentOut:
    """One stored document's title, source, metadata and hash. Ids may contain '/'."""
    d = store.get_document(doc_id)
    if d is None:
        raise HTTPException(404, f"no document with id {doc_id!r}")
    return _out(d)


@router.delete("/documents/{doc_id:path}", response_model=DeleteOut, dependencies=[WriteAccess],
               responses=errors(400, 401, 404, 422, 503))
def delete_document(doc_id: str, store: StoreDep, pipeline: PipelineDep) -> DeleteOut:
    """Remove a document, its chunks and mentions, and whatever only it supported (entities,
    relations); relations other documents also state lose this source and remain."""
    with pipeline.write_lock:  # not between the job worker's resolution and its write
        report = store.delete_document(doc_id)
    if not report.found:
        raise HTTPException(404, f"no document with id {doc_id!r}")
    return DeleteOut(**asdict(report))
