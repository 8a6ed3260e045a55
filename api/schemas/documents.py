"""POST /v1/documents, GET /v1/documents[/{id}], DELETE /v1/documents/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, model_validator

from api.schemas.common import Page, rule
from kg import validate

MAX_DOCUMENTS = 1000  # per request


class DocumentIn(BaseModel):
    id: Annotated[str | None, rule(validate.id_problem)] = Field(None, description="stable id (1-512 visible characters, '/' allowed); "
                                             "default: derived from the hash of the text")
    text: Annotated[str, rule(validate.text_problem, nonblank=True)] = Field(
        ..., min_length=1, description="the document's text; offsets in answers count its characters")
    title: Annotated[str, rule(validate.title_problem)] = Field("", description="one line")
    metadata: Annotated[dict[str, Any], rule(validate.metadata_problem)] = Field(
        default_factory=dict, description="a JSON object, for filters at retrieval")


class IngestRequest(BaseModel):
    """One or more documents: `{"documents": [...]}`; a single document object is taken as a
    batch of one."""

    documents: list[DocumentIn] = Field(..., min_length=1, max_length=MAX_DOCUMENTS)

    @model_validator(mode="before")
    @classmethod
    def _one_document(cls, data: Any) -> Any:
        if isinstance(data, dict) and "documents" not in data and "text" in data:
            return {"documents": [data]}
        return data

    @model_validator(mode="after")
    def _one_text_per_id(self) -> "IngestRequest":
        first: dict[str, int] = {}
        for i, d in enumerate(self.documents):
            if d.id is None:
                continue
            j = first.setdefault(d.id, i)
            if self.documents[j].text != d.text:
                raise ValueError(f'"id" {validate.quoted(d.id)} is used by documents {j} and {i} with different text')
        return self


class DocumentOut(BaseModel):
    id: str
    title: str
    source: str
    metadata: dict[str, Any]
    sha256: str = Field(..., description="of the text: the same id with the same hash is not ingested again")


class DocumentPage(Page):
    items: list[DocumentOut]


class DeleteOut(BaseModel):
    doc_id: str
    found: bool
    chunks: int = Field(..., description="chunks removed")
    mentions: int
    entities: int = Field(..., description="entities only this document mentioned, removed")
    relations: int = Field(..., description="relations only this document stated, removed")
    relations_updated: int = Field(..., description="relations that lost this document as a source but remain")
    phrases: int
