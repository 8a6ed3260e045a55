"""Input reading: every bad input becomes one clear refusal; good inputs still come through."""

import io
import json

import pytest

from kg.documents import InputError, make_document, read_inputs

LIMIT = 1_000_000


def _read(paths, stdin=None):
    return list(read_inputs([str(p) for p in paths], LIMIT, stdin=stdin))


def test_document_id_is_stable_content_hash():
    a, b = make_document("Same text."), make_document("Same text.")
    assert a.id == b.id and a.id.startswith("doc-") and a.sha256 == b.sha256
    assert make_document("Other text.").id != a.id
    assert make_document("x", id="given").id == "given"


def test_txt_md_dir_and_stdin(tmp_path):
    (tmp_path / "a.txt").write_text("Alpha text.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# Beta\n\nBeta text.")
    (tmp_path / "ignored.bin").write_bytes(b"\x00\x01")
    docs = _read([tmp_path]) + _read(["-"], stdin=io.BytesIO(b"From stdin."))
    assert [d.text for d in docs] == ["Alpha text.", "# Beta\n\nBeta text.", "From stdin."]
    assert docs[2].source == "stdin"


def test_bad_inputs_are_refused_with_file_named(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Good text.")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Café".encode("latin-1"))
    big = tmp_path / "big.txt"
    big.write_text("word " * 300_000)  # 1.5 MB > the 1 MB limit used here
    out = _read([empty, binary, latin1, big, good, tmp_path / "missing.txt"])
    errors = [o for o in out if isinstance(o, InputError)]
    docs = [o for o in out if not isinstance(o, InputError)]
    assert [d.text for d in docs] == ["Good text."]
    msgs = {e.source: e.message for e in errors}
    assert "empty" in msgs[str(empty)]
    assert "binary" in msgs[str(binary)]
    assert "UTF-8" in msgs[str(latin1)]
    assert "limit" in msgs[str(big)]
    assert "no such file" in msgs[str(tmp_path / "missing.txt")]
    assert all("\n" not in str(e) for e in errors)


def test_jsonl_lines_are_checked_one_by_one(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_text("\n".join([
        json.dumps({"id": "d1", "text": "First.", "metadata": {"lang": "en"}}),
        "{not json",
        json.dumps({"id": "d3"}),
        json.dumps({"text": "Fourth.", "metadata": "oops"}),
        json.dumps({"text": "Fifth."}),
    ]))
    out = _read([f])
    docs = [o for o in out if not isinstance(o, InputError)]
    errors = [o for o in out if isinstance(o, InputError)]
    assert [d.id for d in docs] == ["d1", make_document("Fifth.").id]
    assert docs[0].metadata == {"lang": "en"}
    assert [e.source for e in errors] == [f"{f}:2", f"{f}:3", f"{f}:4"]
    assert "invalid JSON" in errors[0].message


def _split(out):
    return ([o for o in out if not isinstance(o, InputError)], [o for o in out if isinstance(o, InputError)])


def test_bad_ids_titles_metadata_and_text_in_jsonl_are_refused_by_line(tmp_path):
    f = tmp_path / "docs.jsonl"
    lines = [
        json.dumps({"id": "bad\u0001id", "text": "Angela Merkel lives in Berlin."}),
        json.dumps({"id": "good", "text": "Angela Merkel lives in Berlin."}),
        json.dumps({"id": "x", "text": "a\ud800b"}),  # json.dumps writes the lone surrogate as \ud800
        json.dumps({"id": "t", "text": "T.", "title": "two\nlines"}),
        json.dumps({"id": "m", "text": "M.", "metadata": {"k\u0000": 1}}),
        json.dumps({"id": True, "text": "B."}),
        json.dumps({"id": 42, "text": "Numbered."}),
        '{"id": "n", "text": "N.", "metadata": {"x": NaN}}',
        '{"id": "big", "text": "' + "B." + '", "metadata": {"n": ' + "9" * 5000 + "}}",
        "[" * 100_000 + "]" * 100_000,
    ]
    f.write_text("\n".join(lines))
    docs, errors = _split(_read([f]))
    assert [d.id for d in docs] == ["good", "42"]
    assert {e.source: e.message for e in errors} == {
        f"{f}:1": '"id" contains a control character (U+0001) at position 3',
        f"{f}:3": '"text" contains a lone surrogate (U+D800) at position 1',
        f"{f}:4": '"title" contains a control character (U+000A) at position 3',
        f"{f}:5": '"metadata" key "k\\u0000" contains a control character (U+0000) at position 1',
        f"{f}:6": '"id" must be a string, not a boolean',
        f"{f}:8": '"metadata"["x"] is nan, not a finite number',
        f"{f}:9": "invalid JSON (Exceeds the limit (4300 digits) for integer string conversion)",
        f"{f}:10": "invalid JSON (nested too deeply)",
    }


def test_jsonl_lines_split_on_newline_only(tmp_path):
    f = tmp_path / "docs.jsonl"
    # raw U+2028, U+0085 and U+000C are legal inside JSON strings; CRLF line ends are fine
    first = json.dumps({"id": "a", "text": "One\u2028two\x85three."}, ensure_ascii=False)
    f.write_bytes((first + "\r\n" + "{broken\r\n" + json.dumps({"id": "c", "text": "Three."}) + "\r\n").encode())
    docs, errors = _split(_read([f]))
    assert [d.text for d in docs] == ["One\u2028two\x85three.", "Three."]
    assert [e.source for e in errors] == [f"{f}:2"]


def test_a_line_of_bad_utf8_costs_that_line_only(tmp_path):
    f = tmp_path / "docs.jsonl"
    f.write_bytes(b'{"id": "a", "text": "Caf\xe9"}\n{"id": "b", "text": "Fine."}\n')
    docs, errors = _split(_read([f]))
    assert [d.id for d in docs] == ["b"]
    assert [e.source for e in errors] == [f"{f}:1"] and "UTF-8" in errors[0].message


def test_same_id_with_other_text_is_refused_across_files(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"id": "d1", "text": "First version."}) + "\n")
    b.write_text(json.dumps({"id": "d1", "text": "First version."}) + "\n"
                 + json.dumps({"id": "d1", "text": "Second version."}) + "\n")
    out = _read([a, b])
    docs, errors = _split(out)
    # the same text again is a plain duplicate (the pipeline counts it unchanged)
    assert [(d.id, d.text) for d in docs] == [("d1", "First version."), ("d1", "First version.")]
    assert len(errors) == 1 and errors[0].source == f"{b}:2"
    assert errors[0].message == f'"id" "d1" is used again with different text (first at {a}:1)'


def test_bom_stays_in_text_files_and_is_framing_in_jsonl(tmp_path):
    txt = tmp_path / "bom.txt"
    txt.write_bytes(b"\xef\xbb\xbfAngela Merkel lives in Berlin.")
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "j", "text": "Text."}).encode() + b"\n")
    only_bom = tmp_path / "only_bom.txt"
    only_bom.write_bytes(b"\xef\xbb\xbf \n")
    docs, errors = _split(_read([txt, jsonl, only_bom]))
    assert docs[0].text == txt.read_bytes().decode("utf-8")
    assert docs[0].text[0] == "\ufeff" and docs[0].text.index("Berlin") == 24
    assert (docs[1].id, docs[1].text) == ("j", "Text.")
    assert [e.source for e in errors] == [str(only_bom)] and "empty" in errors[0].message


def test_size_message_gives_the_real_size(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2_500_000)
    big_jsonl = tmp_path / "big.jsonl"
    big_jsonl.write_bytes(b"x" * 5_000_000)
    _, errors = _split(_read([big, big_jsonl]))
    assert [e.message for e in errors] == [
        "is 2.5 MB, over the 1.0 MB limit (KG_MAX_FILE_BYTES); split it",
        # a .jsonl file is streamed, of any size; a line is refused once it passes the limit
        "is over the 4.0 MB limit for a .jsonl line (4 x KG_MAX_FILE_BYTES); split it",
    ]
    assert errors[1].source == f"{big_jsonl}:1"
    just_over = tmp_path / "just_over.txt"
    just_over.write_bytes(b"x" * (LIMIT + 1))
    assert _read([just_over])[0].message == (
        "is 1,000,001 bytes, over the 1,000,000 byte limit (KG_MAX_FILE_BYTES); split it")
    # a pipe has no size to report
    piped = _read(["-"], stdin=io.BytesIO(b"x" * 2_000_000))
    assert piped[0].message == "is over the 1.0 MB limit (KG_MAX_FILE_BYTES); split it"


def test_nul_late_in_a_text_file_and_odd_file_names(tmp_path):
    late_nul = tmp_path / "late.txt"
    late_nul.write_bytes(b"a" * 9000 + b"\x00")
    odd = tmp_path / "two\nlines.txt"
    odd.write_text("Fine text.")
    _, errors = _split(_read([late_nul, odd, tmp_path / ("n" * 300)]))
    assert errors[0].message == "the text contains a NUL character (U+0000) at position 9000; only text is accepted"
    assert "the file name contains a control character (U+000A)" in errors[1].message
    assert str(errors[1]).startswith(str(tmp_path / "two\\u000alines.txt"))  # still one line
    assert "cannot be read" in errors[2].message


def test_make_document_refuses_what_the_store_cannot_take():
    with pytest.raises(ValueError, match=r'"id" contains a control character \(U\+0001\)'):
        make_document("Text.", id="a\x01")
    with pytest.raises(ValueError, match="lone surrogate"):
        make_document("a\udc80")
    with pytest.raises(ValueError, match='"id" is empty'):
        make_document("Text.", id="")


def test_jsonl_is_streamed_and_a_long_line_costs_that_line_only(tmp_path):
    path = tmp_path / "long.jsonl"
    with path.open("wb") as f:
        f.write(json.dumps({"id": "a", "text": "First."}).encode() + b"\n")
        f.write(b'{"id": "b", "text": "' + b"x" * (4 * LIMIT) + b'"}\n')  # over 4 x the limit, as raw JSON
        f.write(json.dumps({"id": "c", "text": "Third."}).encode() + b"\r\n")
    items = iter(read_inputs([str(path)], LIMIT))
    first = next(items)  # a lazy reader: the first line comes before the rest is read
    assert (first.id, first.text) == ("a", "First.")
    docs, errors = _split(list(items))
    assert [(d.id, d.text) for d in docs] == [("c", "Third.")]
    assert [(e.source, e.message) for e in errors] == [
        (f"{path}:2", "is over the 4.0 MB limit for a .jsonl line (4 x KG_MAX_FILE_BYTES); split it")]
