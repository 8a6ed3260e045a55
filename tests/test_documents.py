"""Input reading: every bad input becomes one clear refusal; good inputs still come through."""

import io
import json

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
