"""Ingestion answers 202 with a job id and works in the background (one job at a time)."""

from __future__ import annotations

import threading
import uuid
from dataclasses import asdict

from fastapi import APIRouter, HTTPException

from api.deps import get_pipeline, get_store, settings
from api.schemas import DocumentIn, ExtractRequest, IngestRequest, JobOut
from kg.documents import make_document
from kg.pipeline import extraction_json

router = APIRouter(tags=["ingest"])
_jobs: dict[str, JobOut] = {}
_worker = threading.Lock()  # the store and models are shared: ingest one job at a time


def _run(job: JobOut, docs) -> None:
    with _worker:
        job.status = "running"
        try:
            report = get_pipeline().ingest(docs, progress=False)
            job.result = {k: v for k, v in asdict(report).items() if k != "errors"}
            job.status = "done"
        except Exception as e:  # reported on the job, the service keeps running
            job.status, job.error = "failed", f"{e.__class__.__name__}: {e}"


def _to_doc(d: DocumentIn):
    limit = settings().max_file_bytes
    if len(d.text.encode("utf-8")) > limit:
        raise HTTPException(413, f"document {d.id or '(no id)'} is over the {limit} byte limit")
    if not d.text.strip():
        raise HTTPException(422, f"document {d.id or '(no id)'} has no text")
    return make_document(d.text, id=d.id, source="api", title=d.title, metadata=d.metadata)


@router.post("/documents", status_code=202, response_model=JobOut)
def ingest(req: IngestRequest) -> JobOut:
    docs = [_to_doc(d) for d in req.documents]  # validate all before accepting any
    job = JobOut(id=uuid.uuid4().hex[:12], status="queued", documents=len(docs))
    _jobs[job.id] = job
    threading.Thread(target=_run, args=(job, docs), daemon=True).start()
    return job


@router.get("/jobs/{job_id}", response_model=JobOut)
def job_status(job_id: str) -> JobOut:
    if job_id not in _jobs:
        raise HTTPException(404, f"no job {job_id!r}")
    return _jobs[job_id]


@router.delete("/documents/{doc_id}")
def delete_document(doc_id: str) -> dict:
    with _worker:
        report = get_store().delete_document(doc_id)
    if not report.found:
        raise HTTPException(404, f"no document with id {doc_id!r}")
    return asdict(report)


@router.post("/extract")
def extract(req: ExtractRequest) -> dict:
    """Dry run: entities and relations of one text, nothing stored (same shape as `kg extract --json`)."""
    doc = _to_doc(DocumentIn(text=req.text))
    return extraction_json(get_pipeline().extract([doc])[0])
