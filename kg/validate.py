"""Checks for values that come from outside (files, stdin, API requests) before they reach the store.

Each check returns a short, one-line message naming the problem, or None when the value is fine.
Positions count characters from 0. Standard library only and no kg imports: the readers, the API
and the store all call these.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any

MAX_ID_CHARS = 512
MAX_KEY_CHARS = 256  # metadata keys
MAX_TITLE_CHARS = 1000
MAX_METADATA_DEPTH = 5  # objects and arrays inside one another, the metadata object itself included

_KINDS = {  # by Unicode category, with their article
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "a lone surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point or noncharacter",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
# Ids and metadata keys are identifiers: nothing invisible (FalkorDB 4.16 crashes on U+0001 in a
# uniquely constrained id). A title is one line of text: zero-width joiners and the like stay legal.
_ID_REFUSED = frozenset(_KINDS)
_LINE_REFUSED = frozenset({"Cc", "Cs", "Zl", "Zp"})


def printable(value: str) -> str:
    """value with every invisible or line-breaking character escaped, for messages (U+0001 -> \\u0001)."""
    out = []
    for ch in value:
        if ch != " " and unicodedata.category(ch)[0] in "CZ":
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return "".join(out)


def quoted(value: Any, limit: int = 40) -> str:
    """A user's value quoted for a message: escaped, and cut short if long."""
    if not isinstance(value, str):
        return printable(repr(value)[:limit])
    cut = value[:limit] + ("…" if len(value) > limit else "")
    return '"' + printable(cut) + '"'


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _char_problem(name: str, value: str, refused: frozenset[str]) -> str | None:
    for i, ch in enumerate(value):
        category = unicodedata.category(ch)
        if category in refused:
            return f"{name} contains {_KINDS[category]} (U+{ord(ch):04X}) at position {i}"
    return None


def id_problem(value: Any, *, name: str = '"id"', max_chars: int = MAX_ID_CHARS) -> str | None:
    """A document id: a string of 1 to max_chars visible characters, not padded with spaces.

    Any printable character is fine ("reports/2024", "Zürich #3"); a JSON number must be turned
    into a string by the caller first.
    """
    if not isinstance(value, str):
        return f"{name} must be a string, not {_json_type(value)}"
    if not value:
        return f"{name} is empty"
    if len(value) > max_chars:
        return f"{name} is {len(value)} characters long, over the {max_chars} limit"
    problem = _char_problem(name, value, _ID_REFUSED)
    if problem:
        return problem
    if not value.strip():
        return f"{name} is blank"
    if value.strip() != value:
        return f"{name} has leading or trailing whitespace"
    return None


def key_problem(value: Any, *, name: str = "key") -> str | None:
    """A metadata key: the rules of an id, at most MAX_KEY_CHARS characters."""
    return id_problem(value, name=name, max_chars=MAX_KEY_CHARS)


def text_problem(value: Any, *, name: str = '"text"') -> str | None:
    """Text to store: it must be encodable as UTF-8 (no lone surrogates) and hold no NUL.

    Tabs, newlines and other control characters are part of real text and stay.
    """
    if not isinstance(value, str):
        return f"{name} must be a string, not {_json_type(value)}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        return f"{name} contains a lone surrogate (U+{ord(value[e.start]):04X}) at position {e.start}"
    nul = value.find("\x00")
    if nul >= 0:
        return f"{name} contains a NUL character (U+0000) at position {nul}"
    return None


def line_problem(value: Any, *, name: str) -> str | None:
    """One line of text (a title, a file name): no control characters, line breaks or lone surrogates."""
    if not isinstance(value, str):
        return f"{name} must be a string, not {_json_type(value)}"
    return _char_problem(name, value, _LINE_REFUSED)


def title_problem(value: Any, *, name: str = '"title"') -> str | None:
    if isinstance(value, str) and len(value) > MAX_TITLE_CHARS:
        return f"{name} is {len(value)} characters long, over the {MAX_TITLE_CHARS} limit"
    return line_problem(value, name=name)


def metadata_problem(value: Any, *, name: str = '"metadata"') -> str | None:
    """A JSON object: keys as for ids, values JSON values (finite numbers, storable strings), not too deep."""
    if not isinstance(value, dict):
        return f"{name} must be an object, not {_json_type(value)}"
    return _json_value_problem(value, name, depth=1)


def _json_value_problem(value: Any, where: str, depth: int) -> str | None:
    if value is None or isinstance(value, (bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{where} is {value}, not a finite number"
    if isinstance(value, str):
        return text_problem(value, name=where)
    if not isinstance(value, (dict, list)):
        return f"{where} is {_json_type(value)}, not a JSON value"
    if depth > MAX_METADATA_DEPTH:
        return f"{where} is nested more than {MAX_METADATA_DEPTH} levels deep"
    if isinstance(value, list):
        for i, item in enumerate(value):
            problem = _json_value_problem(item, f"{where}[{i}]", depth + 1)
            if problem:
                return problem
        return None
    for key, item in value.items():
        problem = key_problem(key, name=f"{where} key {quoted(key)}")
        if problem:
            return problem
        problem = _json_value_problem(item, f"{where}[{quoted(key)}]", depth + 1)
        if problem:
            return problem
    return None


def document_problem(text: Any, *, id: Any = None, title: Any = "", metadata: Any = None) -> str | None:
    """The first problem of a document's fields (id None: derived from the text; metadata None: {})."""
    return (
        (id_problem(id) if id is not None else None)
        or title_problem(title)
        or metadata_problem({} if metadata is None else metadata)
        or text_problem(text)
    )
