"""The boundary checks: each refuses exactly what the store cannot take, with a one-line message."""

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.documents import InputError, read_jsonl_source
from kg.types import Document
from kg.validate import (
    MAX_ID_CHARS,
    MAX_KEY_CHARS,
    MAX_METADATA_DEPTH,
    MAX_TITLE_CHARS,
    document_problem,
    id_problem,
    metadata_problem,
    printable,
    text_problem,
    title_problem,
)


@pytest.mark.parametrize("good", ["d1", "reports/2024", "Zürich #3 (draft)", "a b", "a" * MAX_ID_CHARS, "日本語",
                                  "🙂"])
def test_ids_that_are_accepted(good):
    assert id_problem(good) is None


@pytest.mark.parametrize("bad, expected", [
    ("bad\x01id", '"id" contains a control character (U+0001) at position 3'),
    ("a\tb", '"id" contains a control character (U+0009) at position 1'),
    ("a\x7f", '"id" contains a control character (U+007F) at position 1'),
    ("zero\u200bwidth", '"id" contains an invisible format character (U+200B) at position 4'),
    ("\ufeffbom", '"id" contains an invisible format character (U+FEFF) at position 0'),
    ("x\ud800", '"id" contains a lone surrogate (U+D800) at position 1'),
    ("x\ue000", '"id" contains a private-use character (U+E000) at position 1'),
    ("x\uffff", '"id" contains an unassigned code point or noncharacter (U+FFFF) at position 1'),
    ("a\u2028b", '"id" contains a line separator (U+2028) at position 1'),
    ("", '"id" is empty'),
    ("   ", '"id" is blank'),
    (" d1", '"id" has leading or trailing whitespace'),
    ("d1\u00a0", '"id" has leading or trailing whitespace'),
    ("a" * (MAX_ID_CHARS + 1), f'"id" is {MAX_ID_CHARS + 1} characters long, over the {MAX_ID_CHARS} limit'),
    (7, '"id" must be a string, not a number'),
    (None, '"id" must be a string, not null'),
    (["d1"], '"id" must be a string, not an array'),
])
def test_ids_that_are_refused(bad, expected):
    assert id_problem(bad) == expected


def test_text_allows_layout_characters_but_not_surrogates_or_nul():
    assert text_problem("line one\n\tline two\r\n\x0c\x01 \u2028 \ufeff") is None
    assert text_problem("a\ud800b") == '"text" contains a lone surrogate (U+D800) at position 1'
    assert text_problem("ab\udfff") == '"text" contains a lone surrogate (U+DFFF) at position 2'
    assert text_problem("abc\x00") == '"text" contains a NUL character (U+0000) at position 3'
    assert text_problem(b"bytes") == '"text" must be a string, not a bytes'


def test_titles_are_one_line():
    assert title_problem("") is None
    assert title_problem("A title: with punctuation, ZWJ \u200d and é") is None
    assert title_problem("two\nlines") == '"title" contains a control character (U+000A) at position 3'
    assert title_problem("x\ud800") == '"title" contains a lone surrogate (U+D800) at position 1'
    assert title_problem(3) == '"title" must be a string, not a number'
    assert "over the" in title_problem("t" * (MAX_TITLE_CHARS + 1))


def test_metadata_keys_values_and_depth():
    good = {"lang": "en", "n": 3, "score": 0.5, "ok": True, "none": None, "tags": ["a", {"b": [1, 2]}]}
    assert metadata_problem(good) is None
    assert metadata_problem({}) is None
    assert metadata_problem([1]) == '"metadata" must be an object, not an array'
    assert metadata_problem({"bad\x01": 1}) == (
        '"metadata" key "bad\\u0001" contains a control character (U+0001) at position 3')
    assert metadata_problem({"": 1}) == '"metadata" key "" is empty'
    assert metadata_problem({"k" * (MAX_KEY_CHARS + 1): 1}).endswith(f"over the {MAX_KEY_CHARS} limit")
    assert metadata_problem({1: "x"}) == '"metadata" key 1 must be a string, not a number'
    assert metadata_problem({"a": [1, "x\x00"]}) == '"metadata"["a"][1] contains a NUL character (U+0000) at position 1'
    assert metadata_problem({"a": {"b\ud800": 1}}) == (
        '"metadata"["a"] key "b\\ud800" contains a lone surrogate (U+D800) at position 1')
    assert metadata_problem({"x": float("nan")}) == '"metadata"["x"] is nan, not a finite number'
    assert metadata_problem({"x": float("-inf")}) == '"metadata"["x"] is -inf, not a finite number'
    assert metadata_problem({"x": b"raw"}) == '"metadata"["x"] is a bytes, not a JSON value'
    deep: dict = {}
    node = deep
    for _ in range(MAX_METADATA_DEPTH - 1):
        node["k"] = {}
        node = node["k"]
    assert metadata_problem(deep) is None  # exactly the limit
    node["k"] = []
    assert metadata_problem(deep) == (
        '"metadata"' + '["k"]' * MAX_METADATA_DEPTH + f" is nested more than {MAX_METADATA_DEPTH} levels deep")


def test_document_problem_reports_the_first_bad_field():
    assert document_problem("Some text.") is None
    assert document_problem("Some text.", id="d1", title="T", metadata={"a": 1}) is None
    assert document_problem("x\x00", id="bad\x01") == '"id" contains a control character (U+0001) at position 3'
    assert document_problem("x\x00") == '"text" contains a NUL character (U+0000) at position 1'


def test_printable_escapes_every_invisible_character():
    assert printable("a\x01b\nc\u2028d\u00a0e f\U000e0001") == "a\\u0001b\\u000ac\\u2028d\\u00a0e f\\U000e0001"
    assert printable("plain é 🙂") == "plain é 🙂"


# --- the .jsonl reader never lets a bad value through and never raises ---

TRICKY = ["\x00", "\x01", "\t", "\n", "\r", "\x85", "\u2028", "\u2029", "\ufeff", "\u200b", "\ud800", "\udfff",
          "\ue000", "\uffff", " ", "\u00a0", '"', "\\", "/", "a", "é"]
tricky_text = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=20)


def _one_line(message: str) -> bool:
    return message.isprintable() and len(message.splitlines()) == 1


@settings(max_examples=300, deadline=None)
@given(
    doc_id=st.one_of(st.none(), tricky_text, st.integers(), st.booleans(), st.floats(allow_nan=True)),
    title=st.one_of(tricky_text, st.integers()),
    key=tricky_text,
    value=st.one_of(tricky_text, st.floats(allow_nan=True), st.integers()),
    text=tricky_text,
    ascii_only=st.booleans(),
)
def test_jsonl_reader_yields_only_valid_documents(doc_id, title, key, value, text, ascii_only):
    obj = {"text": text, "title": title, "metadata": {key: value}}
    if doc_id is not None:
        obj["id"] = doc_id
    # ensure_ascii=False writes the characters raw (lone surrogates as invalid UTF-8 bytes)
    line = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    good = json.dumps({"id": "good", "text": "Fine text."}).encode()
    out = list(read_jsonl_source(line + b"\n" + good + b"\n", "t.jsonl", 10_000))
    assert out[-1] == Document(id="good", text="Fine text.", source="t.jsonl:2", title="t",
                               sha256=out[-1].sha256)
    for item in out:
        if isinstance(item, InputError):
            assert _one_line(str(item)), str(item)
            assert item.source in ("t.jsonl", "t.jsonl:1")
        else:
            assert isinstance(item, Document)
            assert document_problem(item.text, id=item.id, title=item.title, metadata=item.metadata) is None
            assert item.text.strip()
    first = out[0]
    if isinstance(first, Document):  # accepted: every field as written, the id as a string
        assert first.text == text and first.metadata == {key: value}
        assert first.id == (str(doc_id) if doc_id is not None else first.id)


@given(st.text(alphabet=st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=30))
def test_checks_never_raise_and_messages_are_one_line(value):
    for check in (id_problem, text_problem, title_problem):
        problem = check(value)
        assert problem is None or _one_line(problem)
    problem = metadata_problem({value: value})
    assert problem is None or _one_line(problem)
    if id_problem(value) is None:
        assert all(unicodedata.category(c)[0] != "C" for c in value) and value == value.strip()
