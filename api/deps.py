"""What the routes depend on, built once per process in the app's lifespan (api/main.py):
the store, the models (the ingest pipeline and the retriever), the job queue and its worker.

Routes take them as typed Annotated dependencies (`store: StoreDep`), so a test can replace
any of them with `app.dependency_overrides[get_store] = ...`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kg.config import Settings
from kg.jobs import JobQueue, JobWorker
from kg.pipeline import Pipeline
from kg.retrieval import Retriever
from kg.stores.base import GraphStore

WORKER_STOP_S = 120.0  # at shutdown, how long the worker may take to finish its batch


@dataclass
class Services:
    settings: Settings
    store: GraphStore
    pipeline: Pipeline
    retriever: Retriever
    jobs: JobQueue
    worker: JobWorker


def open_services(settings: Settings) -> Services:
    """Open the store, load the models once, and start the ingestion worker (which first queues
    again any job a crash left running)."""
    from kg.stores.factory import open_store

    store = open_store(settings)
    try:
        pipeline = Pipeline.from_settings(settings, store)
        retriever = Retriever.from_settings(settings, store)
        jobs = JobQueue(settings.data_dir / "jobs.sqlite")
    except BaseException:
        store.close()
        raise
    worker = JobWorker(jobs, pipeline, settings.ingest_batch_chars).start()
    return Services(settings, store, pipeline, retriever, jobs, worker)


def close_services(services: Services) -> None:
    """Stop the worker after its current batch (an unfinished job resumes at the next start),
    then close the queue and the store, which stops the embedded server child."""
    try:
        services.worker.stop(WORKER_STOP_S)
        services.jobs.close()
    finally:
        services.store.close()


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> Settings:
    return services.settings


def get_store(services: ServicesDep) -> GraphStore:
    return services.store


def get_pipeline(services: ServicesDep) -> Pipeline:
    return services.pipeline


def get_retriever(services: ServicesDep) -> Retriever:
    return services.retriever


def get_jobs(services: ServicesDep) -> JobQueue:
    return services.jobs


def get_worker(services: ServicesDep) -> JobWorker:
    return services.worker


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[GraphStore, Depends(get_store)]
PipelineDep = Annotated[Pipeline, Depends(get_pipeline)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
JobsDep = Annotated[JobQueue, Depends(get_jobs)]
WorkerDep = Annotated[JobWorker, Depends(get_worker)]

_bearer = HTTPBearer(auto_error=False, description="KG_API_KEY, when it is set")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="KG_API_KEY, when it is set")


def require_api_key(
    settings: SettingsDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key_header)],
) -> None:
    """Write access: when KG_API_KEY is set, the request must give it (either header)."""
    expected = settings.api_key
    if not expected:
        return
    given = bearer.credentials if bearer is not None else api_key
    # compare_digest: the time taken does not tell how much of a guess was right
    if given is None or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                                expected.encode("utf-8", "surrogateescape")):
        raise HTTPException(401, "this endpoint needs the API key: send 'Authorization: Bearer <key>' "
                                 "or 'X-API-Key: <key>' (KG_API_KEY)", headers={"WWW-Authenticate": "Bearer"})


WriteAccess = Depends(require_api_key)
