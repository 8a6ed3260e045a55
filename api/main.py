"""The kg service: `kg serve` (or `uvicorn api.main:app`). Every route is under /v1; the OpenAPI
docs are at /docs.

    create_app(settings)   an app over those settings (tests); `app` reads KG_* at start
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import deps, mcp
from api.limits import BodySizeLimit
from api.routers import cypher, documents, entities, extract, graph, jobs, meta, retrieve
from kg import __version__
from kg.config import Settings, get_settings
from kg.errors import KGError, QueryRefused, ReadOnlyViolation, StoreUnavailable
from kg.validate import printable

log = logging.getLogger("kg.api")

DESCRIPTION = """Knowledge graphs from free text with small local models.

Ingest documents (`POST /v1/documents`, answered 202 with a job id; the job is kept on disk until
done), follow jobs, read documents, entities with their sources, neighbourhoods, read-only Cypher,
retrieval for RAG with citations, and graph views. When KG_API_KEY is set, the write endpoints
need it as `Authorization: Bearer <key>` or `X-API-Key: <key>`."""


def _status(error: KGError) -> int:
    if isinstance(error, StoreUnavailable):
        return 503
    if isinstance(error, ReadOnlyViolation):
        return 403
    if isinstance(error, QueryRefused):
        return 400
    return 400  # any other user-caused error: a bad query, a query past its limits, a bad parameter


def create_app(settings: Settings | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # uvicorn runs the shutdown half on SIGTERM/Ctrl-C before it exits (it re-raises the signal
        # afterwards, so atexit handlers never run): the store is closed here, which stops the
        # embedded server child. Services already there (a second lifespan on the same app, as a
        # test client may start) are left to whoever opened them.
        if getattr(app.state, "services", None) is not None:
            async with _mcp_session(app, app.state.services):
                yield
            return
        services = await run_in_threadpool(deps.open_services, settings or get_settings())
        app.state.services = services
        try:
            async with _mcp_session(app, services):
                yield
        finally:
            app.state.services = None
            await run_in_threadpool(deps.close_services, services)

    @asynccontextmanager
    async def _mcp_session(app: FastAPI, services):
        # the MCP tools borrow the API's own store and models; the SDK's session manager runs here
        app.state.mcp_backend = mcp.Backend(services.settings, store=services.store,
                                            pipeline=services.pipeline, retriever=services.retriever,
                                            write_lock=services.pipeline.write_lock)
        async with app.state.mcp.run():
            yield

    app = FastAPI(title="kg", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.services = None
    for router in (documents, jobs, extract, cypher, entities, retrieve, graph, meta):
        app.include_router(router.router, prefix="/v1")

    # MCP for agents, streamable HTTP at /mcp (the same tools as `kg mcp`)
    app.state.mcp = mcp.http_app(settings or get_settings(), lambda: app.state.mcp_backend)
    app.add_route("/mcp", app.state.mcp, include_in_schema=False)

    app.add_exception_handler(KGError, _kg_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    current = settings or get_settings()
    app.add_middleware(BodySizeLimit, max_bytes=current.api_max_body_bytes)
    origins = [o.strip() for o in current.api_cors_origins.split(",") if o.strip()]
    if origins:  # CORS only when configured (outermost, so its headers go on every answer)
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    return app


async def _kg_error(request: Request, error: KGError) -> JSONResponse:
    headers = {"Retry-After": "5"} if isinstance(error, StoreUnavailable) else None
    return JSONResponse({"detail": printable(str(error))}, status_code=_status(error), headers=headers)


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    detail = error.detail if isinstance(error.detail, str) else str(error.detail)
    return JSONResponse({"detail": printable(detail)}, status_code=error.status_code, headers=error.headers)


async def _unexpected(request: Request, error: Exception) -> JSONResponse:
    """A bug: logged with its traceback on the server, one line to the client."""
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return JSONResponse({"detail": f"internal error ({error.__class__.__name__}); see the server log"},
                        status_code=500)


async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
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


app = create_app()
