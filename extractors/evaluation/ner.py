"""NER evaluation: strict span-level scoring of a spaCy pipeline or a token tagger.

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
from typing import Sequence

from extractors.datasets import Example
from extractors.entities.spacy import load_spacy
from extractors.entities.tagger import TransformerEntityExtractor, is_token_ner_model
from extractors.evaluation.metrics import Span, TypeScore, score_spans, snap_to_tokens
from kg.errors import ModelLoadError

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


def label_map_for(nlp, dataset_types: set[str], dataset: str) -> dict[str, str] | None:
    """The zero-shot OntoNotes map when the model predicts OntoNotes labels the data does not use."""
    labels = set(nlp.get_pipe("ner").labels)
    if dataset_types <= labels or "PERSON" not in labels:  # the model knows the data's types, or isn't OntoNotes
        return None
    if dataset == "conll2003" or dataset_types <= {"PER", "ORG", "LOC", "MISC"}:
        return dict(ONTONOTES_TO_CONLL2003)
    if dataset == "conll04" or dataset_types <= {"Peop", "Org", "Loc", "Other"}:
        return dict(ONTONOTES_TO_CONLL04)
    return None


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


def _ner_only(nlp) -> list[str]:
    """Pipes to disable so only ner (and a tok2vec it listens to) runs."""
    keep = {"ner"}
    for name, proc in nlp.pipeline:
        if "ner" in getattr(proc, "listening_components", []):
            keep.add(name)
    return [p for p in nlp.pipe_names if p not in keep]


def eval_ner(model, examples: Sequence[Example], label_map: dict[str, str] | None = None,
             batch_size: int = 256, snap: bool = False) -> NerReport:
    """Run a spaCy pipeline's NER over examples and score it strictly against their entities.

    model: a loaded spaCy Language, a package name or a pipeline path.
    label_map: raw model label -> gold type; when given, labels it does not list
    are dropped. None compares raw labels with gold types as they are.
    snap: map predictions onto whitespace tokens first (snap_to_tokens), for
    datasets built from tokens; the match stays exact on those tokens.
    """
    if isinstance(model, (str, Path)) and is_token_ner_model(model):
        model = TransformerEntityExtractor.load(model)
    if isinstance(model, TransformerEntityExtractor):
        return _eval_token_ner(model, examples, snap)
    if isinstance(model, (str, Path)):
        name = str(model)
        nlp = load_spacy(name)
    else:
        nlp = model
        name = str(nlp.meta.get("name", "pipeline"))
    if "ner" not in nlp.pipe_names:
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


def evaluate_ner_model(model: str, examples: Sequence[Example], dataset: str = "", snap: bool = False) -> NerReport:
    """eval_ner for a model reference: a kg-token-ner directory, or a spaCy pipeline whose OntoNotes
    labels are mapped zero-shot onto the data's types when it lacks them (label_map_for; the
    report's label_map says so). dataset: the named dataset the examples come from ("" for a file)."""
    if is_token_ner_model(model):
        report = eval_ner(TransformerEntityExtractor.load(model), examples, snap=snap)
    else:
        nlp = load_spacy(str(model))
        if "ner" not in nlp.pipe_names:
            raise ModelLoadError(f"spaCy model {model!r} has no 'ner' component")
        types = {e.type for ex in examples for e in ex.entities}
        report = eval_ner(nlp, examples, label_map=label_map_for(nlp, types, dataset), snap=snap)
    report.model = str(model)
    return report
