from kg.chunking import SentenceChunker
from kg.documents import make_document

TEXT = (
    "Tim Cook is the chief executive of Apple. He lives in Palo Alto, California.\n\n"
    "Apple was founded by Steve Jobs in 1976. It is based in Cupertino. IBM is in Armonk."
)


def test_chunks_keep_offsets_and_whole_sentences():
    doc = make_document(TEXT)
    chunks = SentenceChunker(chunk_chars=100).chunk_document(doc)
    assert len(chunks) >= 2
    for i, c in enumerate(chunks):
        assert c.id == f"{doc.id}:{i}" and c.index == i
        assert TEXT[c.start:c.end] == c.text
        assert c.sentences and c.sentences[0][0] == c.start and c.sentences[-1][1] == c.end
        for s, e in c.sentences:
            assert TEXT[e - 1] in ".!?"  # no chunk cuts a sentence here
    # every sentence lands in exactly one chunk, in order
    sents = [s for c in chunks for s in c.sentences]
    assert sents == sorted(sents) and len(sents) == 5


def test_overlong_sentence_is_cut():
    text = "word " * 3000
    chunks = SentenceChunker(chunk_chars=200).chunk_document(make_document(text))
    assert all(c.end - c.start <= 800 for c in chunks)
    assert all(text[c.start:c.end] == c.text for c in chunks)
