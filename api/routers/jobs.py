"""Ingestion jobs: what is queued, running and done, and each job's progress and errors."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from api.deps import JobsDep
from api.schemas.common import errors
from api.schemas.jobs import JobOut, JobPage, JobStatus, JobSummary

router = APIRouter(tags=["jobs"])


@router.get("/jobs", response_model=JobPage, responses=errors(422))
def list_jobs(jobs: JobsDep, status: JobStatus | None = None, offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
              limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> JobPage:
    """Jobs, newest first, optionally of one status, with the number of jobs per status."""
    page, total = jobs.list(status, offset, limit)
    items = [JobSummary(**{k: v for k, v in asdict(j).items() if k != "errors"}) for j in page]
    return JobPage(items=items, total=total, offset=offset, limit=limit, counts=jobs.counts())


@router.get("/jobs/{job_id}", response_model=JobOut, responses=errors(404, 422))
def get_job(job_id: str, jobs: JobsDep) -> JobOut:
    """A job's status, progress (documents processed of accepted) and per-document errors."""
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return JobOut(**asdict(job))
