"""The kg service: `uvicorn api.main:app` (or `kg serve`)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.routes import graph, ingest
from kg import __version__
from kg.validate import printable

app = FastAPI(title="kg", version=__version__, description="Knowledge graphs from free text with small local models.")
app.include_router(ingest.router)
app.include_router(graph.router)


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
