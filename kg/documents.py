"""Reading inputs into Documents, with a clear refusal for each bad one.

Sources: .txt and .md files, .jsonl files ({"id"?, "text", "metadata"?, "title"?} per
line), directories (recursively, those suffixes), and "-" for stdin (plain text).
A bad input never stops the good ones: it becomes an InputError in the results. Ids,
titles, metadata and text pass kg.validate's checks here, so the store only sees what it can take.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from kg.types import Document
from kg.validate import document_problem, line_problem, printable, quoted, text_problem

TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
BOM = "\ufeff"
TEXT_LIMIT = " (KG_MAX_FILE_BYTES)"
JSONL_LINE_FACTOR = 4  # a line's JSON may escape its text: room for that
JSONL_LIMIT = " for a .jsonl line (4 x KG_MAX_FILE_BYTES)"


@dataclass
class InputError:
    source: str  # file (and line) the message is about
    message: str

    def __str__(self) -> str:
        return f"{printable(self.source)}: {self.message}"  # a file name may hold a newline


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_document(text: str, *, id: str | None = None, source: str = "", title: str = "",
                  metadata: dict | None = None) -> Document:
    """A document's id is the one given, or derived from its content, so re-ingesting is a no-op.

    Raises ValueError, with a one-line message, for a field the store cannot take (see kg.validate).
    """
    title = title or (Path(source).stem if source and source != "stdin" else "")
    problem = document_problem(text, id=id, title=title, metadata=metadata)
    if problem:
        raise ValueError(problem)
    digest = sha256(text)
    return Document(
        id=f"doc-{digest[:16]}" if id is None else id,
        text=text,
        source=source,
        title=title,
        metadata=metadata or {},
        sha256=digest,
    )


def _document(where: str, text: str, **fields) -> Document | InputError:
    try:
        return make_document(text, source=where, **fields)
    except ValueError as e:
        return InputError(where, str(e))


def _megabytes(size: int, limit: int) -> tuple[str, str]:
    """Both sizes as "20.2 MB", or in bytes where rounding would make them look equal."""
    shown = f"{size / 1e6:.1f} MB", f"{limit / 1e6:.1f} MB"
    return shown if shown[0] != shown[1] else (f"{size:,} bytes", f"{limit:,} byte")


def _too_big(source: str, size: int | None, limit: int, what: str = "") -> InputError:
    if size is None:
        return InputError(source, f"is over the {limit / 1e6:.1f} MB limit{what}; split it")
    size_s, limit_s = _megabytes(size, limit)
    return InputError(source, f"is {size_s}, over the {limit_s} limit{what}; split it")


def _binary(raw: bytes, source: str) -> InputError | None:
    if b"\x00" in raw[:8192]:
        return InputError(source, "looks like a binary file (NUL bytes); only UTF-8 text is accepted")
    return None


def _decode(raw: bytes, source: str) -> str | InputError:
    binary = _binary(raw, source)
    if binary:
        return binary
    try:
        # not "utf-8-sig": a BOM stays character 0, so offsets match the raw file
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        return InputError(source, f"is not valid UTF-8 (byte {e.start}); convert it to UTF-8 first")
    return text


def _is_blank(text: str) -> bool:
    return not text.lstrip(BOM).strip()


def read_text_source(raw: bytes, source: str, max_bytes: int, id: str | None = None) -> Document | InputError:
    """One plain-text document, kept exactly as in the input (a BOM included) so offsets match it."""
    if len(raw) > max_bytes:
        return _too_big(source, len(raw), max_bytes, TEXT_LIMIT)
    text = _decode(raw, source)
    if isinstance(text, InputError):
        return text
    if _is_blank(text):
        return InputError(source, "is empty (no text to ingest)")
    problem = text_problem(text, name="the text")
    if problem:
        return InputError(source, f"{problem}; only text is accepted")
    return _document(source, text, id=id)


def read_jsonl_source(raw: bytes, source: str, max_bytes: int) -> Iterator[Document | InputError]:
    """One document per line; a bad line is an InputError naming file:line, the others still come."""
    # b"\n" only: U+2028, U+0085 and the other breaks of str.splitlines() are legal inside JSON
    # strings. Each line is decoded alone, so one line of bad UTF-8 costs that line only.
    yield from _jsonl_lines(raw[:8192], raw.split(b"\n"), source, max_bytes)


def _jsonl_lines(head: bytes, lines: Iterable[bytes | None], source: str,
                 max_bytes: int) -> Iterator[Document | InputError]:
    """The documents of a .jsonl file's lines (None: a line over the limit), `head` its first bytes."""
    binary = _binary(head, source)
    if binary:
        yield binary
        return
    found = False
    for n, line in enumerate(lines, 1):
        if line is None:
            found = True
            yield _too_big(f"{source}:{n}", None, JSONL_LINE_FACTOR * max_bytes, JSONL_LIMIT)
            continue
        if n == 1:
            line = line.removeprefix(BOM.encode("utf-8"))  # framing only: offsets are into the JSON strings
        line = line.removesuffix(b"\n").removesuffix(b"\r")
        if line.strip():
            found = True
            yield _jsonl_document(line, f"{source}:{n}", max_bytes)
    if not found:
        yield InputError(source, "is empty (no lines)")


def _file_lines(f: BinaryIO, cap: int) -> Iterator[bytes | None]:
    """A file's lines as they are read, never the whole file: a line over `cap` bytes is skipped
    (None) without being held."""
    while line := f.readline(cap + 1):
        if len(line) > cap and not line.endswith(b"\n"):
            while (rest := f.readline(1 << 20)) and not rest.endswith(b"\n"):
                pass
            yield None
        else:
            yield line


def _jsonl_document(raw_line: bytes, where: str, max_bytes: int) -> Document | InputError:
    try:
        line = raw_line.decode("utf-8")
    except UnicodeDecodeError as e:
        return InputError(where, f"is not valid UTF-8 (byte {e.start} of the line); convert the file to UTF-8 first")
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        return InputError(where, f"invalid JSON ({e.msg} at column {e.colno})")
    except ValueError as e:  # a number of over 4300 digits
        return InputError(where, f"invalid JSON ({str(e).split(':')[0]})")
    except RecursionError:
        return InputError(where, "invalid JSON (nested too deeply)")
    if not isinstance(obj, dict) or "text" not in obj:
        return InputError(where, 'each line must be an object with a "text" string')
    doc_id = obj.get("id")  # null or absent: derived from the text
    if isinstance(doc_id, int) and not isinstance(doc_id, bool):
        doc_id = str(doc_id)
    doc = _document(where, obj["text"], id=doc_id, title=obj.get("title", ""), metadata=obj.get("metadata", {}))
    if isinstance(doc, InputError):
        return doc
    if _is_blank(doc.text):
        return InputError(where, '"text" is empty')
    size = len(doc.text.encode("utf-8"))
    if size > max_bytes:
        return _too_big(where, size, max_bytes, TEXT_LIMIT)
    return doc


def iter_paths(paths: list[str]) -> Iterator[Path | InputError]:
    for p in paths:
        path = Path(p)
        if p == "-":
            yield path
            continue
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            yield InputError(p, "no such file or directory")
            continue
        except OSError as e:  # a name too long, a loop of links, no permission
            yield InputError(p, f"cannot be read ({e.strerror})")
            continue
        if stat.S_ISDIR(mode):
            found = sorted(
                f for f in path.rglob("*")
                if f.is_file() and f.suffix.lower() in TEXT_SUFFIXES | JSONL_SUFFIXES
            )
            if not found:
                yield InputError(p, "directory has no .txt, .md or .jsonl files")
            yield from found
        else:
            yield path


def _read_limited(f: BinaryIO, limit: int) -> tuple[bytes, int | None]:
    """At most limit + 1 bytes (a 20 GB file must not fill memory), and the input's real size.

    The size is None for an input over the limit whose size is unknown (a pipe, a device).
    """
    raw = f.read(limit + 1)
    if len(raw) <= limit:
        return raw, len(raw)
    try:
        st = os.fstat(f.fileno())
    except (OSError, AttributeError, io.UnsupportedOperation):
        return raw, None
    return raw, st.st_size if stat.S_ISREG(st.st_mode) else None


def _file_name_problem(name: str) -> str | None:
    """The path is stored as the document's source, so it must be storable text on one line."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename the file"
    problem = line_problem(name, name="the file name")
    return problem and f"{problem}; rename the file"


def _read_one(item: Path, max_bytes: int, stdin: BinaryIO | None) -> Iterator[Document | InputError]:
    if str(item) == "-":
        yield _text_document(*_read_limited(stdin or sys.stdin.buffer, max_bytes), "stdin", max_bytes)
        return
    source = str(item)
    problem = _file_name_problem(source)
    if problem:
        yield InputError(source, problem)
        return
    try:
        with item.open("rb", buffering=1 << 16) as f:
            if item.suffix.lower() in JSONL_SUFFIXES:
                # streamed, one line in memory at a time: a .jsonl file may be of any size
                yield from _jsonl_lines(f.peek(8192)[:8192], _file_lines(f, JSONL_LINE_FACTOR * max_bytes), source,
                                        max_bytes)
            else:
                yield _text_document(*_read_limited(f, max_bytes), source, max_bytes)
    except OSError as e:
        yield InputError(source, f"cannot be read ({e.strerror})")


def _text_document(raw: bytes, size: int | None, source: str, max_bytes: int) -> Document | InputError:
    if len(raw) > max_bytes:
        return _too_big(source, size, max_bytes, TEXT_LIMIT)
    # .txt, .md, stdin, or an explicitly named file of another suffix: accepted if it is UTF-8 text
    return read_text_source(raw, source, max_bytes)


def read_inputs(paths: list[str], max_bytes: int, stdin: BinaryIO | None = None) -> Iterator[Document | InputError]:
    """Documents and refusals, in input order.

    An id used again with other text is refused (the first one stays); used again with the same
    text it is a plain duplicate, which the pipeline counts as unchanged.
    """
    first_seen: dict[str, tuple[str, str]] = {}  # id -> (sha256, source)
    for item in iter_paths(paths):
        items = [item] if isinstance(item, InputError) else _read_one(item, max_bytes, stdin)
        for doc in items:
            if isinstance(doc, Document):
                sha, first_source = first_seen.setdefault(doc.id, (doc.sha256, doc.source))
                if sha != doc.sha256:
                    doc = InputError(doc.source, f'"id" {quoted(doc.id)} is used again with different text '
                                                 f"(first at {printable(first_source)})")
            yield doc
