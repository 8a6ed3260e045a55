"""Text normalisation before the models, offsets back into the original, and the language warning."""

from __future__ import annotations

import json
import subprocess
import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.config import Settings
from kg.documents import make_document
from kg.language import language_warning
from kg.normalize import normalize_for_models
from kg.pipeline import Pipeline
from kg.config import REPO_ROOT
from tests.datasets import DATA, needs_datasets

ROOT = REPO_ROOT

UKRAINIAN = (
    "Тарас Шевченко народився 1814 року в селі Моринці на Київщині. Він був поетом, художником і "
    "мислителем. Його збірка «Кобзар» стала основою сучасної української літератури. Шевченко навчався "
    "в Петербурзькій академії мистецтв і помер у Санкт-Петербурзі в 1861 році."
)
RUSSIAN = (
    "Лев Толстой родился в 1828 году в Ясной Поляне. Он был одним из самых известных русских писателей. "
    "Его романы «Война и мир» и «Анна Каренина» переведены на многие языки. Толстой умер в 1910 году на "
    "станции Астапово."
)
GERMAN = (
    "Angela Merkel ist eine deutsche Politikerin der CDU. Sie war von 2005 bis 2021 Bundeskanzlerin der "
    "Bundesrepublik Deutschland. Merkel wurde in Hamburg geboren und wuchs in der DDR auf, wo sie Physik an "
    "der Universität Leipzig studierte."
)


# --- the mapping, rule by rule ---

def test_clean_text_is_returned_as_is_with_identity_map():
    for text in ("Tim Cook is the chief executive of Apple.", "Café Müller in Zürich, naïve façade.", ""):
        norm = normalize_for_models(text)
        assert norm.is_identity and norm.text is text
        assert norm.to_original(0, len(text)) == (0, len(text))


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u200e"])
def test_invisible_characters_are_removed(invisible):
    text = f"{invisible}Ap{invisible}ple{invisible} Inc"
    norm = normalize_for_models(text)
    assert norm.text == "Apple Inc"
    # "Apple" maps to the original word, the removed character inside included, those outside not
    s, e = norm.to_original(0, 5)
    assert text[s:e] == f"Ap{invisible}ple"


@pytest.mark.parametrize("space", ["\u00a0", "\u202f", "\u2007", "\u2003", "\u3000"])
def test_unicode_spaces_become_plain_spaces_one_for_one(space):
    text = f"Tim{space}Cook"
    norm = normalize_for_models(text)
    assert norm.text == "Tim Cook"
    assert norm.to_original(0, 8) == (0, 8) and norm.to_original(3, 4) == (3, 4)


def test_decomposed_accents_compose_and_map_to_the_whole_sequence():
    text = "Marti\u0301nez"
    norm = normalize_for_models(text)
    assert norm.text == "Martínez" == unicodedata.normalize("NFC", text)
    assert text[slice(*norm.to_original(4, 5))] == "i\u0301"
    assert norm.to_original(0, len(norm.text)) == (0, len(text))
    assert text[slice(*norm.to_original(5, 8))] == "nez"


def test_composition_reaches_across_a_removed_character():
    norm = normalize_for_models("Jose\u200b\u0301 Rizal")
    assert norm.text == "José Rizal"
    assert norm.to_original(0, 4) == (0, 6)


def test_hangul_jamo_compose():
    norm = normalize_for_models("\u1100\u1161\u11a8 x")
    assert norm.text == "각 x" and norm.to_original(0, 1) == (0, 3)


@pytest.mark.parametrize("emoji", ["👨", "👨\u200d👩\u200d👧", "👍🏽", "🇺🇸", "❤\ufe0f", "👍👍", "™"])
def test_each_emoji_cluster_becomes_one_space(emoji):
    text = f"Tim Cook{emoji}Apple"
    norm = normalize_for_models(text)
    assert norm.text == "Tim Cook Apple"
    assert text[slice(*norm.to_original(8, 9))] == emoji


def test_stray_variation_selector_and_keycap_are_removed():
    assert normalize_for_models("1\ufe0f\u20e3 Apple").text == "1 Apple"


def test_span_mapping_edges():
    text = "\u200bAp\u200bple\u200b"
    norm = normalize_for_models(text)
    assert norm.text == "Apple"
    assert norm.to_original(0, 5) == (1, 7)  # the removed characters at the edges are left out
    assert norm.to_original(2, 2) == (4, 4)  # an empty span sits before its character
    assert norm.to_original(5, 5) == (7, 7)
    with pytest.raises(ValueError, match="outside the normalised text"):
        norm.to_original(3, 6)
    with pytest.raises(ValueError, match="outside the normalised text"):
        norm.to_original(3, 2)


# --- properties on random messy text ---

_PIECES = st.sampled_from([
    "a", "Z", "i", " ", ".", "7", "é", "e\u0301", "i\u0301", "n\u0303", "\u0301", "\u0323\u0302",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u00a0", "\u202f", "\u2007",
    "👨", "👩", "\u200d👧", "🏽", "\ufe0f", "🇺", "🇸", "™", "\u1100", "\u1161", "\u11a8", "Ж",
])
messy_text = st.lists(_PIECES, max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(messy_text, st.data())
def test_every_span_maps_back_to_whole_original_characters(text, data):
    norm = normalize_for_models(text)
    n = len(norm.text)
    cells = [norm.char_to_original(i) for i in range(n)]
    # each character's original span is real, and they follow one another in order; several
    # characters share one span when NFC gives more than one ("Z" + two accents: "Ẓ" + U+0302)
    for (a, b), (c, d) in zip(cells, cells[1:]):
        assert a < b and ((a, b) == (c, d) or b <= c)
    covered = {j for a, b in cells for j in range(a, b)}
    # what no character maps to was removed: invisible characters only
    assert all(unicodedata.category(text[j]) in ("Cf", "Mn", "Me") for j in range(len(text)) if j not in covered)
    start = data.draw(st.integers(0, n))
    end = data.draw(st.integers(start, n))
    os_, oe = norm.to_original(start, end)
    assert 0 <= os_ <= oe <= len(text)
    # never inside a multi-codepoint cluster
    for a, b in cells:
        assert not a < os_ < b and not a < oe < b
    if start < end:
        assert (os_, oe) == (cells[start][0], cells[end - 1][1])
        whole = (start == 0 or cells[start - 1] != cells[start]) and (end == n or cells[end] != cells[end - 1])
        if whole:  # the original slice normalises to the normalised slice
            assert normalize_for_models(text[os_:oe]).text == norm.text[start:end]


@settings(max_examples=400, deadline=None)
@given(messy_text)
def test_normalising_is_idempotent(text):
    once = normalize_for_models(text).text
    twice = normalize_for_models(once)
    assert twice.text == once and twice.is_identity
    assert unicodedata.is_normalized("NFC", once)


# --- the language warning (no models) ---

def test_language_warning_names_a_non_latin_script():
    for text, script in ((UKRAINIAN, "Cyrillic"), (RUSSIAN, "Cyrillic"),
                         ("Η Αθήνα είναι η πρωτεύουσα της Ελλάδας.", "Greek"),
                         ("東京は日本の首都であり、世界最大の都市圏の一つです。", "CJK")):
        warning = language_warning(text)
        assert warning and script in warning and "English only" in warning


def test_language_warning_flags_latin_script_non_english():
    warning = language_warning(GERMAN)
    assert warning and "does not look like English" in warning


def test_short_or_english_text_gets_no_warning():
    assert language_warning("Tim Cook works for Apple.") is None
    assert language_warning("Angela Merkel ist Politikerin.") is None  # too short to tell
    assert language_warning("Він народився.") is None  # too few letters
    for line in (ROOT / "samples" / "wikipedia_passages.jsonl").read_text().splitlines():
        assert language_warning(json.loads(line)["text"]) is None


@needs_datasets
def test_musique_english_corpus_gets_no_warning_and_russian_ukrainian_data_do():
    corpus = json.loads((DATA / "musique_subset" / "musique_train_corpus.json").read_text())
    questions = json.loads((DATA / "musique_subset" / "musique_train.json").read_text())
    english = [d["text"] for d in corpus] + [p["paragraph_text"] for q in questions for p in q["paragraphs"]]
    assert [t for t in english if language_warning(t)] == []
    russian = sorted((DATA / "nerel" / "NEREL-v1.1" / "dev").glob("*.txt"))[:20]
    ukrainian = sorted((DATA / "ner-uk" / "v2.0" / "data").glob("*/*.txt"))[:20]
    assert russian and ukrainian
    for path in russian + ukrainian:
        assert "Cyrillic" in language_warning(path.read_text(encoding="utf-8")), path


# --- the real pipeline ---

@pytest.fixture(scope="module")
def pipeline():
    return Pipeline.from_settings(Settings())


def _extract(pipeline, text):
    result = pipeline.extract([make_document(text)])[0]
    return result, [m for ms in result.mentions for m in ms]


def _assert_cites_original(result):
    text = result.doc.text
    for chunk, ms, rels in zip(result.chunks, result.mentions, result.relations):
        assert text[chunk.start:chunk.end] == chunk.text
        assert all(chunk.start <= s < e <= chunk.end for s, e in chunk.sentences)
        for m in ms:
            assert text[m.start:m.end] == m.text and chunk.start <= m.start < m.end <= chunk.end
        for r in rels:
            assert (r.start, r.end) in chunk.sentences or (r.start, r.end) == (chunk.start, chunk.end)


def _found(mentions, type_):
    return {(m.text, m.name) for m in mentions if m.type == type_}


def test_zero_width_space_inside_a_word(pipeline):
    plain = "Tim Cook is the chief executive of Apple."
    assert ("Apple", "") in _found(_extract(pipeline, plain)[1], "Organization")  # the models find it clean
    result, mentions = _extract(pipeline, plain.replace("Apple", "Ap\u200bple"))
    assert ("Ap\u200bple", "Apple") in _found(mentions, "Organization")
    _assert_cites_original(result)


def test_bom_inside_a_word(pipeline):
    plain = "Angela Merkel visited Berlin in May."
    assert ("Berlin", "") in _found(_extract(pipeline, plain)[1], "Location")
    result, mentions = _extract(pipeline, plain.replace("Berlin", "Ber\ufefflin"))
    assert ("Ber\ufefflin", "Berlin") in _found(mentions, "Location")
    _assert_cites_original(result)


def test_nbsp_keeps_a_name_one_person(pipeline):
    result, mentions = _extract(pipeline, "Tim\u00a0Cook is the chief executive of Apple.")
    assert _found(mentions, "Person") == {("Tim\u00a0Cook", "Tim Cook")}
    _assert_cites_original(result)


def test_decomposed_accent_stays_in_the_name(pipeline):
    plain = "Carlos Martínez works for Google in Madrid."
    assert ("Carlos Martínez", "") in _found(_extract(pipeline, plain)[1], "Person")
    decomposed = unicodedata.normalize("NFD", plain)
    result, mentions = _extract(pipeline, decomposed)
    assert ("Carlos Marti\u0301nez", "Carlos Martínez") in _found(mentions, "Person")
    _assert_cites_original(result)


def test_emoji_is_not_part_of_the_entity(pipeline):
    result, mentions = _extract(pipeline, "I met Tim Cook 👨 at Apple.")
    assert _found(mentions, "Person") == {("Tim Cook", "")}
    _assert_cites_original(result)


def test_messy_document_cites_the_source_exactly(pipeline):
    text = (
        "\ufeffTim\u00a0Cook 👍🏽 is the chief executive of Ap\u200bple. Carlos Marti\u0301nez works for "
        "Google in Madrid 🇪🇸.\n\nAngela Merkel visited Ber\ufefflin in May. Apple is based in Cupertino."
    )
    doc = make_document(text, id="messy")
    result = pipeline.extract([doc])[0]
    assert result.doc is doc and result.doc.sha256 == make_document(text).sha256
    assert sum(len(rs) for rs in result.relations) >= 1
    _assert_cites_original(result)
    names = {m.name or m.text for ms in result.mentions for m in ms}
    assert {"Tim Cook", "Apple", "Carlos Martínez", "Berlin"} <= names
    assert result.warnings == []


def test_english_samples_give_no_warning_and_other_languages_do(pipeline):
    docs = [make_document(json.loads(line)["text"])
            for line in (ROOT / "samples" / "wikipedia_passages.jsonl").read_text().splitlines()]
    assert all(r.warnings == [] for r in pipeline.extract(docs))
    for text in (UKRAINIAN, RUSSIAN):
        (result,) = pipeline.extract([make_document(text)])
        assert len(result.warnings) == 1 and "Cyrillic" in result.warnings[0]
        _assert_cites_original(result)


def test_ingest_reports_warnings_per_document(pipeline, store):
    pipeline.store = store
    report = pipeline.ingest([make_document(RUSSIAN, id="ru"), make_document("Tim Cook works for Apple.", id="en")],
                             progress=False)
    assert report.ok and report.ingested == 2
    assert len(report.warnings) == 1 and report.warnings[0].startswith("ru: most letters are in Cyrillic")


def test_cli_extract_warns_on_stderr_and_exits_zero(tmp_path):
    f = tmp_path / "uk.txt"
    f.write_text(UKRAINIAN, encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "kg.cli", "extract", "--json", str(f)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "kg: warning: most letters are in Cyrillic script" in out.stderr
    assert set(json.loads(out.stdout)) == {"entities", "relations"}
