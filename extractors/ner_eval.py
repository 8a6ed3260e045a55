"""NER evaluation: a CoNLL-2003 reader and strict span-level scoring.

Scoring is the CoNLL convention: a predicted entity counts only when its
character start, end and type all equal a gold entity's (an off-by-one span or
a wrong type is both a false positive and a false negative). Micro P/R/F1 over
all entities, plus P/R/F1 per gold/predicted type.

Zero-shot scoring of OntoNotes models (the stock en_core_web_sm) on CoNLL-2003
maps their labels with ONTONOTES_TO_CONLL2003; labels it does not list (DATE,
CARDINAL, MONEY, ...) are dropped before scoring. The mapping is a choice, not
part of either annotation scheme: the two guidelines disagree at the edges
(e.g. CoNLL tags nationalities such as "German" MISC, OntoNotes NORP; OntoNotes
excludes a leading "the" from some names), so a zero-shot number is a lower
bound on what the same model reaches once trained on CoNLL labels.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from extractors.datasets import DatasetError, Example, SpanAnn, tokens_to_text

ONTONOTES_TO_CONLL2003: dict[str, str] = {
    "PERSON": "PER",
    "ORG": "ORG",
    "GPE": "LOC", "LOC": "LOC", "FAC": "LOC",
    "NORP": "MISC", "EVENT": "MISC", "PRODUCT": "MISC", "WORK_OF_ART": "MISC", "LAW": "MISC", "LANGUAGE": "MISC",
}

# The same zero-shot mapping onto CoNLL04's types (graph_schema/conll04.yaml).
ONTONOTES_TO_CONLL04: dict[str, str] = {
    "PERSON": "Peop",
    "ORG": "Org",
    "GPE": "Loc", "LOC": "Loc", "FAC": "Loc",
    "NORP": "Other", "EVENT": "Other", "PRODUCT": "Other", "WORK_OF_ART": "Other", "LAW": "Other",
    "LANGUAGE": "Other",
}


def read_conll2003(path: str | Path) -> list[Example]:
    """CoNLL-2003 columns (token POS chunk NER, NER in IOB1) -> one Example per sentence.

    Sentences end at blank lines; -DOCSTART- lines are skipped. Tokens are joined
    with single spaces and entities become character spans of that text. Both
    IOB1 (I- opens an entity unless it continues one of the same type; B- only
    splits two adjacent same-type entities) and IOB2 tags are read correctly.
    Example ids are "<file name>:<line of the sentence's first token>".
    """
    path = Path(path)
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    first_line = 0

    def flush() -> None:
        if not tokens:
            return
        text, spans = tokens_to_text(tokens)
        ents: list[SpanAnn] = []
        cur: list | None = None  # [type, first token, last token]
        for i, tag in enumerate(tags + ["O"]):
            if tag == "O":
                kind, typ = "O", ""
            else:
                kind, typ = tag.split("-", 1)
            continues = cur is not None and kind == "I" and typ == cur[0]
            if cur is not None and not continues:
                ents.append(SpanAnn(f"e{len(ents)}", spans[cur[1]][0], spans[cur[2]][1], cur[0]))
                cur = None
            if kind == "O":
                continue
            if continues:
                cur[2] = i
            else:
                cur = [typ, i, i]
        out.append(Example(f"{path.name}:{first_line}", text, ents))
        tokens.clear()
        tags.clear()

    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            cols = line.split()
            if not cols:
                flush()
                continue
            if cols[0] == "-DOCSTART-":
                flush()
                continue
            if len(cols) < 2:
                raise DatasetError(f"{path}:{n}: expected 'token POS chunk NER' columns, got {line.strip()!r}")
            tag = cols[-1]
            if not (tag == "O" or (len(tag) > 2 and tag[:2] in ("I-", "B-"))):
                raise DatasetError(f"{path}:{n}: {tag!r} is not an IOB tag (O, I-TYPE or B-TYPE)")
            if not tokens:
                first_line = n
            tokens.append(cols[0])
            tags.append(tag)
    flush()
    return out


@dataclass
class TypeScore:
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int

    @property
    def support(self) -> int:
        return self.tp + self.fn


def _score(tp: int, fp: int, fn: int) -> TypeScore:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return TypeScore(p, r, f, tp, fp, fn)


@dataclass
class NerReport:
    model: str
    sentences: int
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    seconds: float = 0.0  # wall time of the NER pass alone
    sentences_per_second: float = 0.0
    label_map: dict[str, str] | None = None
    snapped: bool = False  # predictions mapped onto the dataset's whitespace tokens

    def to_json(self) -> dict:
        d = asdict(self)
        for k, v in self.per_type.items():
            d["per_type"][k]["support"] = v.support
        return d

    def format(self) -> str:
        lines = [
            f"model: {self.model}",
            f"sentences: {self.sentences}   {self.sentences_per_second:.0f} sentences/s ({self.seconds:.1f}s)",
        ]
        if self.snapped:
            lines.append("predictions mapped onto the dataset's whitespace tokens")
        if self.label_map:
            lines.append("labels mapped (zero-shot): " + ", ".join(f"{k}->{v}" for k, v in self.label_map.items()))
        lines.append(f"{'type':<10} {'P':>6} {'R':>6} {'F1':>6} {'gold':>6} {'pred':>6}")
        for t, s in sorted(self.per_type.items()):
            lines.append(f"{t:<10} {100*s.precision:6.2f} {100*s.recall:6.2f} {100*s.f1:6.2f} "
                         f"{s.tp + s.fn:6d} {s.tp + s.fp:6d}")
        lines.append(f"{'micro':<10} {100*self.precision:6.2f} {100*self.recall:6.2f} {100*self.f1:6.2f} "
                     f"{self.tp + self.fn:6d} {self.tp + self.fp:6d}")
        return "\n".join(lines)


    def markdown(self) -> str:
        rows = ["| type | P | R | F1 | gold | predicted |", "|---|---|---|---|---|---|"]
        for t, s in sorted(self.per_type.items()):
            rows.append(f"| {t} | {100*s.precision:.2f} | {100*s.recall:.2f} | {100*s.f1:.2f} | {s.tp + s.fn} | "
                        f"{s.tp + s.fp} |")
        rows.append(f"| **micro** | **{100*self.precision:.2f}** | **{100*self.recall:.2f}** | "
                    f"**{100*self.f1:.2f}** | {self.tp + self.fn} | {self.tp + self.fp} |")
        return "\n".join(rows)


Span = tuple[int, int, str]


def score_spans(gold: Iterable[Iterable[Span]], pred: Iterable[Iterable[Span]]) -> tuple[TypeScore, dict[str, TypeScore]]:
    """Strict micro and per-type P/R/F1 of (start, end, type) spans, sentence by sentence."""
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        gs, ps = set(g), set(p)
        for s in gs | ps:
            c = counts.setdefault(s[2], [0, 0, 0])
            if s in gs and s in ps:
                c[0] += 1
            elif s in ps:
                c[1] += 1
            else:
                c[2] += 1
    tp = sum(c[0] for c in counts.values())
    fp = sum(c[1] for c in counts.values())
    fn = sum(c[2] for c in counts.values())
    return _score(tp, fp, fn), {t: _score(*c) for t, c in counts.items()}


def _ner_only(nlp) -> list[str]:
    """Pipes to disable so only ner (and a tok2vec it listens to) runs."""
    keep = {"ner"}
    for name, proc in nlp.pipeline:
        if "ner" in getattr(proc, "listening_components", []):
            keep.add(name)
    return [p for p in nlp.pipe_names if p not in keep]


def snap_to_tokens(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to whole whitespace-delimited tokens.

    For datasets whose text is their tokens joined by spaces (CoNLL04,
    CoNLL-2003): a gold entity always covers whole dataset tokens, so a
    prediction is mapped onto those tokens the way token-level scorers do
    ("Kosovo" inside the dataset token "Kosovo." becomes "Kosovo.").
    """
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def eval_ner(model, examples: Sequence[Example], label_map: dict[str, str] | None = None,
             batch_size: int = 256, snap: bool = False) -> NerReport:
    """Run a spaCy pipeline's NER over examples and score it strictly against their entities.

    model: a loaded spaCy Language, a package name or a pipeline path.
    label_map: raw model label -> gold type; when given, labels it does not list
    are dropped. None compares raw labels with gold types as they are.
    snap: map predictions onto whitespace tokens first (snap_to_tokens), for
    datasets built from tokens; the match stays exact on those tokens.
    """
    from extractors.transformer_ner import TransformerEntityExtractor, is_token_ner_model

    if isinstance(model, (str, Path)) and is_token_ner_model(model):
        model = TransformerEntityExtractor.load(model)
    if isinstance(model, TransformerEntityExtractor):
        return _eval_token_ner(model, examples, snap)
    if isinstance(model, (str, Path)):
        from extractors.ner import load_spacy

        name = str(model)
        nlp = load_spacy(name)
    else:
        nlp = model
        name = str(nlp.meta.get("name", "pipeline"))
    if "ner" not in nlp.pipe_names:
        from extractors.ner import ModelLoadError

        raise ModelLoadError(f"spaCy model {name!r} has no 'ner' component")
    preds: list[list[Span]] = []
    t0 = time.perf_counter()
    with nlp.select_pipes(disable=_ner_only(nlp)):
        for ex, doc in zip(examples, nlp.pipe((ex.text for ex in examples), batch_size=batch_size)):
            spans = []
            for ent in doc.ents:
                label = ent.label_
                if label_map is not None:
                    label = label_map.get(label)
                    if label is None:
                        continue
                s, e = snap_to_tokens(ex.text, ent.start_char, ent.end_char) if snap else (ent.start_char, ent.end_char)
                spans.append((s, e, label))
            preds.append(spans)
    seconds = time.perf_counter() - t0
    return _report(name, examples, preds, seconds, label_map, snap)


def _report(name: str, examples: Sequence[Example], preds: list[list[Span]], seconds: float,
            label_map: dict[str, str] | None, snap: bool) -> NerReport:
    gold = [[(e.start, e.end, e.type) for e in ex.entities] for ex in examples]
    micro, per_type = score_spans(gold, preds)
    return NerReport(
        model=name, sentences=len(examples), precision=micro.precision, recall=micro.recall, f1=micro.f1,
        tp=micro.tp, fp=micro.fp, fn=micro.fn, per_type=per_type, seconds=seconds,
        sentences_per_second=len(examples) / seconds if seconds > 0 else 0.0, label_map=label_map, snapped=snap,
    )


def _eval_token_ner(model, examples: Sequence[Example], snap: bool) -> NerReport:
    """eval_ner for a TransformerEntityExtractor: its own types are compared with the gold types."""
    texts = [ex.text for ex in examples]
    model.predict_texts(texts[:8])  # warm-up, not timed
    t0 = time.perf_counter()
    raw = model.predict_texts(texts)
    seconds = time.perf_counter() - t0
    preds = [[(*(snap_to_tokens(ex.text, s, e) if snap else (s, e)), t) for s, e, t, _ in spans]
             for ex, spans in zip(examples, raw)]
    return _report(model.name, examples, preds, seconds, None, snap)
