"""The kg service: `uvicorn api.main:app`."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import deps
from api.routes import graph, ingest
from kg import __version__
from kg.errors import KGError, QueryLimitExceeded, QueryRefused, ReadOnlyViolation, StoreUnavailable


@asynccontextmanager
async def lifespan(app: FastAPI):
    yield
    # uvicorn runs this on SIGTERM/Ctrl-C before it exits (it re-raises the signal afterwards, so
    # atexit handlers never run): close the store here, which stops the embedded server child
    deps.close_store()


app = FastAPI(title="kg", version=__version__, lifespan=lifespan,
              description="Knowledge graphs from free text with small local models.")
app.include_router(ingest.router)
app.include_router(graph.router)


def _status(error: KGError) -> int:
    if isinstance(error, StoreUnavailable):
        return 503
    if isinstance(error, ReadOnlyViolation):
        return 403
    if isinstance(error, QueryLimitExceeded):
        return 422
    if isinstance(error, QueryRefused):
        return 400
    return 400


@app.exception_handler(KGError)
async def kg_error(request: Request, error: KGError) -> JSONResponse:
    headers = {"Retry-After": "5"} if isinstance(error, StoreUnavailable) else None
    return JSONResponse({"detail": str(error)}, status_code=_status(error), headers=headers)


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}
