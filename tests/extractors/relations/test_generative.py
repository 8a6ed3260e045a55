"""The generative relation extractor: its constrained decoding (valid by construction) and its
outputs on adversarial inputs, on a tiny randomly initialised Gemma-shaped model with the real
Gemma 3 tokenizer (the real model's own test is test_generative_model.py)."""

from __future__ import annotations

import random

import pytest

from extractors.relations.generative import GenerativeRelationExtractor, schema_relations
from extractors.relations.generative_format import Candidate, Codec, TripleConstraint, token_range
from graph_schema import load_schema
from kg.types import Chunk, Mention

TEXT = "John Smith works for Acme Corp in Boston ."


@pytest.fixture(scope="module")
def tok():
    from extractors.relations.gemma import load_tokenizer

    return load_tokenizer()


@pytest.fixture(scope="module")
def schema():
    return load_schema("conll04")


def _cands(codec, text, ents):
    ids, spans = codec.text(text)
    out = []
    for k, (surface, typ) in enumerate(ents):
        a = text.index(surface)
        rng = token_range(spans, a, a + len(surface))
        out.append(Candidate(rng[0], rng[1], typ, k))
    return ids, out


def _write(con, codec, answer, ids):
    """Append ids to answer, checking each is allowed at its step."""
    for t in ids:
        assert t in con.allowed(answer), codec.tok.decode(answer + [t])
        answer.append(t)
    return answer


def test_the_decoder_offers_only_schema_valid_new_triples(tok, schema):
    codec = Codec(tok)
    specs, _ = schema_relations(schema)
    ids, cands = _cands(codec, TEXT, [("John Smith", "Peop"), ("Acme Corp", "Org"), ("Boston", "Loc")])
    con = TripleConstraint(codec, ids, cands, specs)
    john, acme, boston = (tuple(ids[c.a:c.b]) for c in cands)
    # heads: every candidate has a valid relation (Boston: none, Loc -> Loc needs a second Loc)
    assert set(con.allowed([])) == {john[0], acme[0], codec.eos}
    ans = _write(con, codec, [], list(john) + codec.sep)
    offered = {tok.decode([t]).strip() for t in con.allowed(ans)}
    assert offered == {"Work", "Live"}  # Kill needs a second person, the others another head type
    ans = _write(con, codec, ans, codec.rel_ids("Work_For") + codec.sep)
    assert con.allowed(ans) == [acme[0]]
    ans = _write(con, codec, ans, list(acme) + codec.nl)
    triples, _, finished = con.parse(ans)
    assert [(t.head.ref, t.relation, t.tail.ref) for t in triples] == [(0, "Work_For", 1)] and not finished
    # the same triple cannot be written twice: after "John Smith |" only Live_In is left
    ans = _write(con, codec, ans, list(john) + codec.sep)
    assert {tok.decode([t]).strip() for t in con.allowed(ans)} == {"Live"}
    assert con.allowed(ans + [codec.eos]) == [codec.eos]  # a finished answer stays finished


@pytest.mark.parametrize("seed", range(25))
def test_any_walk_through_the_constraint_parses_into_valid_triples(tok, schema, seed):
    """Random choices among the allowed tokens always end, and every triple is well formed."""
    rng = random.Random(seed)
    codec = Codec(tok)
    specs, _ = schema_relations(schema)
    text = 'Mary Jones , who killed "Bob" {Smith} in Paris , France , works for Dow and IBM .'
    ents = [("Mary Jones", "Peop"), ("Bob", "Peop"), ("Smith", "Peop"), ("Paris", "Loc"), ("France", "Loc"),
            ("Dow", "Org"), ("IBM", "Org")]
    ids, cands = _cands(codec, text, ents)
    con = TripleConstraint(codec, ids, cands, specs)
    ans: list[int] = []
    for _ in range(2000):
        allowed = con.allowed(ans)
        stop = codec.eos in allowed and rng.random() < 0.02
        ans.append(codec.eos if stop else rng.choice(allowed))
        if ans[-1] == codec.eos:
            break
    triples, _, finished = con.parse(ans)
    assert finished
    keys = [(t.head.ref, t.relation, t.tail.ref) for t in triples]
    assert len(keys) == len(set(keys))
    for t in triples:
        assert t.head.ref != t.tail.ref
        assert schema.allowed(t.relation, t.head.type, t.tail.type)


@pytest.fixture(scope="module")
def tiny(tok, schema):
    from extractors.relations.gemma import tiny_model

    return GenerativeRelationExtractor(tiny_model(len(tok)), tok, schema, name="tiny", max_new_tokens=40)


ADVERSARIAL = [
    "",
    " ",
    ("Acme Corp hired John Smith in Boston . " * 130)[:5000],
    'He said "{John}" | Work_For | {Acme}\n and \'Boston\' }{ ]]> <eos> ',
    "Иван Петров работает в Газпроме в Москве . 東京の山田太郎はソニーで働いている。",
    "John\u200bSmith \U0001F600 works for Acme\u00a0Corp .",
]


def _mentions(text):
    """Capitalised words as mentions, with cycling types (the decoder must honour whatever it gets)."""
    out, pos, types = [], 0, ["Peop", "Org", "Loc", "Other"]
    for w in text.split(" "):
        if w[:1].isupper() or (w[:1].isalpha() and not w.isascii()):
            out.append(Mention(w, types[len(out) % 4], pos, pos + len(w)))
        pos += len(w) + 1
    return out


@pytest.mark.parametrize("text", ADVERSARIAL, ids=["empty", "space", "5000-chars", "quotes-braces", "non-english",
                                                   "zero-width-emoji"])
def test_outputs_on_adversarial_inputs_are_well_formed(tiny, schema, text):
    chunk = Chunk("d:0", "d", 0, text, 100, 100 + len(text), sentences=[(100, 100 + len(text))] if text else [])
    ms = [Mention(m.text, m.type, m.start + 100, m.end + 100) for m in _mentions(text)]
    [rels] = tiny.extract([chunk], [ms])
    seen = set()
    for r in rels:
        assert 0 <= r.head < len(ms) and 0 <= r.tail < len(ms) and r.head != r.tail
        assert schema.allowed(r.type, ms[r.head].type, ms[r.tail].type)
        assert 0.0 < r.confidence <= 1.0 and (r.start, r.end) == (100, 100 + len(text)) and r.model == "tiny"
        assert (r.head, r.type, r.tail) not in seen
        seen.add((r.head, r.type, r.tail))
    [triples] = tiny.extract_spans([text])
    for (hs, he), rel, (ts, te), conf in triples:
        assert 0 <= hs < he <= len(text) and 0 <= ts < te <= len(text) and (hs, he) != (ts, te)
        assert text[hs:he].strip() == text[hs:he] and text[ts:te].strip() == text[ts:te]
        assert rel in schema.relation_types and 0.0 < conf <= 1.0
    if not text.strip():
        assert rels == [] and triples == []


def test_extract_uses_only_mentions_of_one_sentence(tiny):
    text = "John Smith works for Acme Corp . Mary Jones lives in Boston ."
    chunk = Chunk("d:0", "d", 0, text, 0, len(text), sentences=[(0, 32), (33, len(text))])
    ms = [Mention("John Smith", "Peop", 0, 10), Mention("Acme Corp", "Org", 21, 30),
          Mention("Mary Jones", "Peop", 33, 43), Mention("Boston", "Loc", 53, 59)]
    [rels] = tiny.extract([chunk], [ms])
    for r in rels:
        assert {r.head, r.tail} in ({0, 1}, {2, 3}) and (r.start, r.end) == ((0, 32) if r.head < 2 else (33, len(text)))
