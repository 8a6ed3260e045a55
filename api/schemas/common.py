"""The error bodies every route may answer with, and the `responses=` entries that document them."""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, BeforeValidator, Field


class ErrorOut(BaseModel):
    detail: str = Field(..., description="what went wrong, in one line")


class Problem(BaseModel):
    type: str | None = Field(None, description="the kind of problem, e.g. missing, string_type, value_error")
    loc: list[str | int] = Field(..., description='where: e.g. ["body", "documents", 0, "id"]')
    msg: str


class ValidationErrorOut(BaseModel):
    detail: list[Problem]


_DESCRIPTIONS = {
    400: "a refused or failed request: a bad query or parameter combination, a body that is not JSON text",
    401: "KG_API_KEY is set and the request did not give it (Authorization: Bearer <key> or X-API-Key)",
    403: "a query that would write to the graph",
    404: "no such document, job or entity",
    413: "the request body is over KG_API_MAX_BODY_BYTES, or a document over KG_MAX_FILE_BYTES",
    422: "the request does not match its schema: each problem with its place and message",
    503: "the store is not available (it may be restarting); retry after the Retry-After header's seconds",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status code with its body model and its meaning."""
    return {code: {"model": ValidationErrorOut if code == 422 else ErrorOut, "description": _DESCRIPTIONS[code]}
            for code in codes}


def json_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The same for a route whose own answer is not JSON (FastAPI would give its errors that media
    type): the JSON bodies by reference (the models are in the spec through the other routes)."""
    return {code: {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{'ValidationErrorOut' if code == 422 else 'ErrorOut'}"}}}}
        for code in codes}


def checked(problem: Callable[[Any], str | None], value: Any) -> Any:
    """value, or a ValueError with kg.validate's message (pydantic makes it a 422 naming the field).

    A value of the wrong type is left to pydantic's own type check.
    """
    message = problem(value) if isinstance(value, (str, dict)) else None
    if message:
        raise ValueError(message)
    return value


def rule(problem: Callable[..., str | None], name: str | None = None, *, nonblank: bool = False) -> BeforeValidator:
    """A field's input rule from kg.validate, for `Annotated[str, rule(...)]`: checked before pydantic's
    own type check, so a lone surrogate gets the same message here as in a .jsonl line.

    name: how the message names the field (default: the rule's own default); nonblank: refuse text
    that is only whitespace.
    """
    label = name or '"text"'

    def check(value: Any) -> Any:
        value = checked(problem if name is None else (lambda v: problem(v, name=name)), value)
        if nonblank and isinstance(value, str) and value and not value.strip():
            raise ValueError(f"{label} has only whitespace")
        return value
    return BeforeValidator(check)


class Page(BaseModel):
    total: int = Field(..., description="how many there are in all")
    offset: int
    limit: int
