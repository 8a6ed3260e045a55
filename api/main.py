"""The kg service: `uvicorn api.main:app` (or `kg serve`)."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import graph, ingest
from kg import __version__

app = FastAPI(title="kg", version=__version__, description="Knowledge graphs from free text with small local models.")
app.include_router(ingest.router)
app.include_router(graph.router)


@app.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}
