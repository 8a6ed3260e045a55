"""The extraction dry run."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from api.deps import PipelineDep, SettingsDep
from api.schemas.common import errors
from api.schemas.extract import ExtractOut, ExtractRequest
from kg.documents import make_document
from kg.pipeline import extraction_json

router = APIRouter(tags=["extract"])


@router.post("/extract", response_model=ExtractOut, responses=errors(400, 413, 422))
def extract(req: ExtractRequest, pipeline: PipelineDep, settings: SettingsDep) -> dict:
    """Entities and relations of one text, nothing stored: the JSON of `kg extract --json`."""
    limit = settings.max_file_bytes
    if len(req.text.encode("utf-8")) > limit:
        raise HTTPException(413, f"the text is over the {limit:,} byte limit (KG_MAX_FILE_BYTES)")
    return extraction_json(pipeline.extract([make_document(req.text, source="api")])[0])
