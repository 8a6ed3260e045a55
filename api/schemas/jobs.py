"""GET /v1/jobs and /v1/jobs/{id}: what the ingestion worker has queued, is running and has done."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.schemas.common import Page

JobStatus = Literal["queued", "running", "done", "failed"]


class DocumentErrorOut(BaseModel):
    position: int = Field(..., description="the document's index in the submitted list")
    doc_id: str
    error: str


class JobSummary(BaseModel):
    id: str
    status: JobStatus = Field(..., description="queued -> running -> done, or failed when some documents "
                                               "could not be ingested (see errors)")
    created_at: str
    started_at: str | None
    finished_at: str | None
    documents: int = Field(..., description="accepted")
    processed: int = Field(..., description="ingested, unchanged or failed so far")
    failed: int
    ingested: int = Field(..., description="new documents written")
    updated: int = Field(..., description="documents whose id was stored with other text, replaced")
    unchanged: int = Field(..., description="documents already stored with the same text")


class JobOut(JobSummary):
    errors: list[DocumentErrorOut] = Field(default_factory=list, description="one per document that failed")


class JobPage(Page):
    items: list[JobSummary] = Field(..., description="newest first")
    counts: dict[str, int] = Field(..., description="jobs per status, over all jobs")
