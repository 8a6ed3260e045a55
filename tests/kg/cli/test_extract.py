"""`kg extract` is a dry run with an exact JSON shape; run as a real subprocess."""

import json
import subprocess
import sys

TEXT = "Tim Cook is the chief executive of Apple. He lives in Palo Alto, California."


def run_kg(*args, input=None, env=None):
    return subprocess.run([sys.executable, "-m", "kg.cli", *args], input=input, capture_output=True,
                          text=True, timeout=300, env=env)


def test_extract_json_shape_and_offsets(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text(TEXT)
    out = run_kg("extract", "--json", str(f))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data) == {"entities", "relations"}
    ids = set()
    for e in data["entities"]:
        assert set(e) == {"id", "text", "type", "start", "end"}
        assert TEXT[e["start"]:e["end"]] == e["text"]
        ids.add(e["id"])
    assert {"Tim Cook", "Apple"} <= {e["text"] for e in data["entities"]}
    for r in data["relations"]:
        assert set(r) == {"head", "relation", "tail", "confidence", "start", "end"}
        assert r["head"] in ids and r["tail"] in ids and 0 <= r["confidence"] <= 1
        assert 0 <= r["start"] < r["end"] <= len(TEXT)
    by_id = {e["id"]: e["text"] for e in data["entities"]}
    facts = {(by_id[r["head"]], r["relation"], by_id[r["tail"]]) for r in data["relations"]}
    assert ("Tim Cook", "WORKS_FOR", "Apple") in facts


def test_extract_stdin_and_bad_input(tmp_path):
    out = run_kg("extract", "--json", "-", input=TEXT)
    assert out.returncode == 0 and json.loads(out.stdout)["entities"]
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00\x00garbage")
    out = run_kg("extract", str(bad))
    assert out.returncode == 1
    assert str(bad) in out.stderr and "Traceback" not in out.stderr


def test_bom_stays_so_offsets_match_the_raw_file(tmp_path):
    f = tmp_path / "bom.txt"
    f.write_bytes(b"\xef\xbb\xbf" + TEXT.encode("utf-8"))
    out = run_kg("extract", "--json", str(f))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    raw_text = f.read_bytes().decode("utf-8")  # the BOM is character 0
    assert data["entities"]
    for e in data["entities"]:
        assert raw_text[e["start"]:e["end"]] == e["text"]
    # one character after where the same text without a BOM has it
    apple = next(e for e in data["entities"] if e["text"] == "Apple")
    assert apple["start"] == TEXT.index("Apple") + 1


def test_text_output_names_the_relation_extractor(tmp_path):
    import os

    out = run_kg("extract", "-", input=TEXT, env={**os.environ, "KG_RELATION_MODEL": "dep"})
    assert out.returncode == 0, out.stderr
    assert "relations (relation extractor: dep-baseline):" in out.stdout
