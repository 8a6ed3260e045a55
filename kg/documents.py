"""Reading inputs into Documents, with a clear refusal for each bad one.

Sources: .txt and .md files, .jsonl files ({"id"?, "text", "metadata"?, "title"?} per
line), directories (recursively, those suffixes), and "-" for stdin (plain text).
A bad input never stops the good ones: it becomes an InputError in the results.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from kg.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass
class InputError:
    source: str  # file (and line) the message is about
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.message}"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_document(text: str, *, id: str | None = None, source: str = "", title: str = "",
                  metadata: dict | None = None) -> Document:
    """A document's id is the one given, or derived from its content, so re-ingesting is a no-op."""
    digest = sha256(text)
    return Document(
        id=id or f"doc-{digest[:16]}",
        text=text,
        source=source,
        title=title or (Path(source).stem if source and source != "stdin" else ""),
        metadata=metadata or {},
        sha256=digest,
    )


def _decode(raw: bytes, source: str) -> str | InputError:
    if b"\x00" in raw[:8192]:
        return InputError(source, "looks like a binary file (NUL bytes); only UTF-8 text is accepted")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return InputError(source, f"is not valid UTF-8 (byte {e.start}); convert it to UTF-8 first")
    return text


def _check_text(text: str, source: str, max_bytes: int) -> InputError | None:
    if not text.strip():
        return InputError(source, "is empty (no text to ingest)")
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        return InputError(
            source, f"is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:.1f} MB limit (KG_MAX_FILE_BYTES); split it"
        )
    return None


def read_text_source(raw: bytes, source: str, max_bytes: int, id: str | None = None) -> Document | InputError:
    text = _decode(raw, source)
    if isinstance(text, InputError):
        return text
    err = _check_text(text, source, max_bytes)
    return err or make_document(text, id=id, source=source)


def read_jsonl_source(raw: bytes, source: str, max_bytes: int) -> Iterator[Document | InputError]:
    text = _decode(raw, source)
    if isinstance(text, InputError):
        yield text
        return
    if not text.strip():
        yield InputError(source, "is empty (no lines)")
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            yield InputError(where, f"invalid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            yield InputError(where, 'each line must be an object with a "text" string')
            continue
        meta = obj.get("metadata", {})
        if not isinstance(meta, dict):
            yield InputError(where, '"metadata" must be an object')
            continue
        doc_id = obj.get("id")
        if doc_id is not None and (not isinstance(doc_id, (str, int)) or str(doc_id).strip() == ""):
            yield InputError(where, '"id" must be a non-empty string or number')
            continue
        err = _check_text(obj["text"], where, max_bytes)
        if err:
            yield err
            continue
        yield make_document(
            obj["text"], id=str(doc_id) if doc_id is not None else None, source=where,
            title=str(obj.get("title", "")), metadata=meta,
        )


def iter_paths(paths: list[str]) -> Iterator[Path | InputError]:
    for p in paths:
        path = Path(p)
        if p == "-":
            yield path
        elif path.is_dir():
            found = sorted(
                f for f in path.rglob("*")
                if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES
            )
            if not found:
                yield InputError(p, "directory has no .txt, .md or .jsonl files")
            yield from found
        elif path.is_file():
            yield path
        else:
            yield InputError(p, "no such file or directory")


def read_inputs(paths: list[str], max_bytes: int, stdin=None) -> Iterator[Document | InputError]:
    """Documents and refusals, in input order."""
    for item in iter_paths(paths):
        if isinstance(item, InputError):
            yield item
            continue
        if str(item) == "-":
            raw = (stdin or sys.stdin.buffer).read()
            yield read_text_source(raw, "stdin", max_bytes)
            continue
        source = str(item)
        try:
            # read at most a little over the limit: a 20 GB file must not fill memory
            with item.open("rb") as f:
                raw = f.read(max_bytes * 4 + 1 if item.suffix.lower() in JSONL_SUFFIXES else max_bytes + 1)
        except OSError as e:
            yield InputError(source, f"cannot be read ({e.strerror})")
            continue
        suffix = item.suffix.lower()
        if suffix in JSONL_SUFFIXES:
            if len(raw) > max_bytes * 4:
                yield InputError(source, f"is over the {max_bytes * 4 / 1e6:.0f} MB limit for a .jsonl file; split it")
                continue
            yield from read_jsonl_source(raw, source, max_bytes)
        elif suffix in TEXT_SUFFIXES or item.parent == Path(item):
            yield read_text_source(raw, source, max_bytes)
        else:
            # an explicitly named file of another suffix: accept it if it is UTF-8 text
            yield read_text_source(raw, source, max_bytes)
