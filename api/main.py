"""The kg service: `kg serve` (or `uvicorn api.main:app`)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import deps
from api.routes import graph, ingest
from kg import __version__
from kg.errors import KGError, QueryLimitExceeded, QueryRefused, ReadOnlyViolation, StoreUnavailable
from kg.validate import printable


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


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with each problem's place and message, never the input itself.

    FastAPI's default echoes the input, and a lone surrogate or a NaN in it cannot be written as
    JSON: the 422 became a 500.
    """
    detail = []
    for e in exc.errors():
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        if e.get("type") == "json_invalid" and isinstance(e.get("ctx", {}).get("error"), str):
            msg = f"{msg} ({e['ctx']['error']})"
        loc = [part if isinstance(part, int) else printable(str(part)) for part in e.get("loc", ())]
        detail.append({"type": e.get("type"), "loc": loc, "msg": printable(msg)})
    return JSONResponse(status_code=422, content={"detail": detail})


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}
