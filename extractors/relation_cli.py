"""`kg train relations` and `kg eval relations`.

    kg train relations --data conll04:train --schema graph_schema/conll04.yaml --dev conll04:dev \\
        --out extractors/weights/relations-conll04
    kg eval relations --dataset conll04 --split test [--model DIR] [--ner MODEL] [--json]

User errors (missing file, malformed JSONL, unknown dataset or type) end in one
line on stderr and exit code 2.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from extractors.cli_errors import err as _err
from extractors.cli_errors import guarded


def _note(msg: str) -> None:
    print(f"kg: note: {msg}", file=sys.stderr)


def _user_errors():
    from extractors.datasets import DatasetError
    from extractors.relation_model import TrainingError

    return (DatasetError, TrainingError)


_guarded = guarded(_user_errors)


def register(train_sub, eval_sub) -> None:
    """Add the 'relations' subcommands; each sets args.func(args) -> exit code."""
    from extractors.model_average import DATA_SEED_HELP

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
    p.set_defaults(func=_guarded(cmd_train))

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
    p.set_defaults(func=_guarded(cmd_calibrate))

    p = eval_sub.add_parser(
        "relations", aliases=["relation"], help="strict micro-F1 of a relation model, gold and NER entities",
        description="Strict relation F1 (head span+type, tail span+type and relation must match), with gold "
                    "entities and end to end with a spaCy NER model, plus the relation step's speed.",
    )
    p.add_argument("--dataset", required=True, metavar="NAME|PATH",
                   help="conll04, re-docred, webnlg_star (optionally NAME:SPLIT) or a JSONL file")
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
    p.add_argument("--update-card", action="store_true",
                   help="also record these results in the model's MODEL_CARD.md (one section per dataset split)")
    p.set_defaults(func=_guarded(cmd_eval))


# --------------------------------------------------------------------------- train


def cmd_train(args) -> int:
    from extractors.datasets import load_dataset
    from extractors.relation_model import train_relation_model
    from kg.config import get_settings
    from graph_schema import load_schema

    settings = get_settings()
    schema = load_schema(args.schema or settings.schema_path)
    train = [ex for spec in args.data for ex in load_dataset(spec, "train", schema)]
    dev = [ex for spec in args.dev for ex in load_dataset(spec, "dev", schema)] if args.dev else None
    if not train:
        _err("no training examples")
        return 2
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    command = _train_command(args)
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
    write_model_card(Path(args.out), summary["config"])
    size = (Path(args.out) / "model.safetensors").stat().st_size / 1e6
    print(f"saved {args.out} ({size:.1f} MB); " + (
        f"dev F1 {summary['dev']['f1'] * 100:.2f} (gold entities) at threshold {summary['threshold']:.2f}"
        if "dev" in summary else "no dev set"))
    return 0


def cmd_calibrate(args) -> int:
    from extractors.datasets import load_dataset
    from extractors.relation_model import artifact_schema, recalibrate_artifact

    model_dir = Path(args.model)
    schema = artifact_schema(model_dir)
    dev = [ex for spec in args.dev for ex in load_dataset(spec, "dev", schema)]
    if not dev:
        _err("no dev examples")
        return 2
    cal = recalibrate_artifact(model_dir, dev, args.precision)
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    command = " ".join(shlex.quote(str(p)) for p in ["kg", "train", "calibration", "--model", args.model, "--dev",
                                                      *args.dev, *(["--precision", args.precision] if args.precision else [])])
    cfg.setdefault("training", {})["calibration_command"] = command
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_model_card(model_dir, cfg)
    m = cal["dev"]
    print(f"{model_dir}: {cal['precision']}; temperature {cal['temperature']:.3f} (dev ECE {cal['dev_ece_before']:.4f} -> "
          f"{cal['dev_ece_after']:.4f}); threshold {cal['threshold']:.2f}: dev P {m['precision'] * 100:.2f} "
          f"R {m['recall'] * 100:.2f} F1 {m['f1'] * 100:.2f}")
    return 0


def _train_command(args) -> str:
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


def write_model_card(out: Path, config: dict, test: dict | None = None) -> Path:
    """MODEL_CARD.md from the artifact's config (and, when given, test-set results)."""
    from extractors.datasets import DATASETS, parse_dataset_spec
    from extractors.model_average import training_lines

    tr = config.get("training", {})
    names = []
    for spec in tr.get("data", []) + tr.get("dev", []):
        name, _ = parse_dataset_spec(spec)
        if name not in names:
            names.append(name)
    lic = []
    for n in names:
        if n in DATASETS:
            lic.append(f"- **{n}**: {DATASETS[n]['licence']}")
        else:
            lic.append(f"- `{n}`: your own data; check its licence")
    restrict = ""
    if "webnlg_star" in names:
        restrict = ("\n**Licence warning:** this model was trained on WebNLG (CC BY-NC-SA 4.0). That licence "
                    "forbids commercial use and requires share-alike, so this model is for non-commercial "
                    "use unless you retrain it without WebNLG.\n")
    if "conll04" in names:
        restrict += ("\nCoNLL04 is distributed for research use; check its terms before any commercial use.\n")
    dm = config.get("dev_metrics", {})
    lines = [
        f"# {config.get('name')}", "",
        f"Relation classifier: {config['base_model']} ({config['num_layers']} layers) fine-tuned with typed entity "
        "markers; one forward pass per sentence, every schema-allowed ordered entity pair scored from its marker "
        "states. Sigmoid per relation, temperature-calibrated on dev.", "",
        f"- schema: `{config['schema']['name']}`; relations: {', '.join(config['relations'])}",
        f"- temperature {config.get('temperature')}, decision threshold {config.get('threshold')} (both fitted on dev)",
        (f"- inference in {config.get('precision', 'fp32')} on CPU (temperature and threshold were fitted for it). "
         "Sentences are batched only with others of the same padded length; in int8 the encoder's linear maps use "
         "one scale per token and exact integer sums, so a sentence's encoder states are bit-identical whatever "
         "its batch-mates, and its scores differ by under 1e-6 (the small fp32 pair head); confidences are "
         "rounded to 4 decimals"),
        "- stored: transformer layers + marker embeddings + head in fp16 safetensors; the frozen word embeddings "
        f"come from the `{config['base_package']}` package (Apache-2.0).", "",
        "## Training data and licences", "",
        "Train: " + ", ".join(f"`{s}`" for s in tr.get("data", [])) + "; dev: "
        + (", ".join(f"`{s}`" for s in tr.get("dev", [])) or "none"), "",
        *lic, restrict,
        "Re-DocRED has no public train split here: its 500 revised dev documents are split by sha1(title) mod 10 "
        "(0-7 train, 8 validation, 9 test), sentence-level (see extractors/datasets.py: from_docred)."
        if "re-docred" in names else "", "",
        "## Training", "",
        *(training_lines(tr) if "averaged_from" in tr else [
            f"epochs {tr.get('epochs')} (best on dev: {tr.get('best_epoch')}), lr {tr.get('lr')} (encoder) / "
            f"{tr.get('head_lr')} (head), batch {tr.get('batch_size')}, warm-up {tr.get('warmup')}, dropout "
            f"{tr.get('dropout')}, entity noise {tr.get('entity_noise', 0.0)}, seed {tr.get('seed')}, "
            f"device {tr.get('device')}.", "",
            "Reproduce:", "", "```", tr.get("command") or "(see config.json)",
            *([tr["calibration_command"]] if tr.get("calibration_command") else []), "```", ""]),
        "## Dev results (gold entities, strict)", "",
    ]
    if dm:
        lines += [f"micro P {dm['precision'] * 100:.2f} / R {dm['recall'] * 100:.2f} / F1 {dm['f1'] * 100:.2f}; "
                  f"macro F1 {dm['macro_f1'] * 100:.2f}; calibration ECE {dm['ece_before']:.4f} -> "
                  f"{dm['ece_after']:.4f}", "", "| relation | P | R | F1 | gold |", "|---|---|---|---|---|"]
        for r, v in dm["per_relation"].items():
            lines.append(f"| {r} | {v['precision'] * 100:.1f} | {v['recall'] * 100:.1f} | {v['f1'] * 100:.1f} | {v['gold']} |")
    else:
        lines.append("no dev set was given")
    results = dict(config.get("eval_results", {}))
    if test:
        results[test["dataset"]] = test
    if results:
        lines += ["", "## Evaluation (`kg eval relations`)", ""]
        for key in sorted(results):
            lines += [results[key]["markdown"], ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- eval


def _default_model(dataset: str) -> Path:
    from extractors.datasets import parse_dataset_spec
    from extractors.relation_model import WEIGHTS_DIR

    name, _ = parse_dataset_spec(dataset)
    return WEIGHTS_DIR / ("relations-conll04" if name == "conll04" else "relations-default")


def _chunks(examples):
    from kg.types import Chunk

    return [Chunk(id=f"eval:{i}", doc_id=f"eval{i}", index=0, text=ex.text, start=0, end=len(ex.text),
                  sentences=[(0, len(ex.text))]) for i, ex in enumerate(examples)]


def _pred_sets(model, mentions, relations):
    from extractors.relation_model import relation_key

    out = []
    for ms, rels in zip(mentions, relations):
        keys = set()
        for r in rels:
            h, t = ms[r.head], ms[r.tail]
            sym = model.schema.relation_types[r.type].symmetric
            keys.add(relation_key((h.start, h.end, model._type_of(h)), (t.start, t.end, model._type_of(t)), r.type, sym))
        out.append(keys)
    return out


def _timed_extract(model, chunks, mentions):
    model.extract(chunks[:8], mentions[:8])  # warm-up, not timed
    t0 = time.perf_counter()
    rels = model.extract(chunks, mentions)
    return rels, time.perf_counter() - t0


def snap_to_tokens(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a span to whole whitespace-delimited tokens (for datasets whose text is their tokens
    joined by spaces: gold entities cover whole tokens, and token-level scorers see predictions so)."""
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return start, end


def evaluate(model, examples, ner=None, snap: bool = False) -> dict:
    """Scores of a MarkerRelationExtractor on examples: strict micro/macro F1 with gold entities
    and, given a spaCy entity extractor, end to end. snap: widen NER spans to whole whitespace
    tokens first (token-built datasets)."""
    from extractors.relation_model import gold_sets, prf, score_sets
    from kg.types import Mention

    schema = model.schema
    chunks = _chunks(examples)
    gold = gold_sets(examples, schema)
    gold_mentions = [[Mention(ex.text[e.start:e.end], e.type, e.start, e.end, chunks[i].id)
                      for e in ex.entities] for i, ex in enumerate(examples)]
    rels, secs = _timed_extract(model, chunks, gold_mentions)
    res = {"sentences": len(examples), "gold_relations": sum(map(len, gold)),
           "gold_entities": score_sets(gold, _pred_sets(model, gold_mentions, rels), model.relations),
           "gold_entities_speed": {"seconds": secs, "sentences_per_second": len(examples) / secs if secs else None}}
    if ner is not None:
        t0 = time.perf_counter()
        ner_mentions = ner.extract(chunks)
        ner_secs = time.perf_counter() - t0
        if snap:
            for ex, ms in zip(examples, ner_mentions):
                for m in ms:
                    m.start, m.end = snap_to_tokens(ex.text, m.start, m.end)
                    m.text = ex.text[m.start:m.end]
        g_ents = [{(e.start, e.end, e.type) for e in ex.entities} for ex in examples]
        p_ents = [{(m.start, m.end, model._type_of(m)) for m in ms} for ms in ner_mentions]
        rels, secs = _timed_extract(model, chunks, ner_mentions)
        res["end_to_end"] = score_sets(gold, _pred_sets(model, ner_mentions, rels), model.relations)
        res["end_to_end_speed"] = {"seconds": secs, "sentences_per_second": len(examples) / secs if secs else None,
                                   "ner_seconds": ner_secs}
        res["ner"] = prf(sum(len(a & b) for a, b in zip(g_ents, p_ents)), sum(map(len, p_ents)), sum(map(len, g_ents)))
    return res


def _fmt(m: dict) -> str:
    return f"{m['precision'] * 100:6.2f} {m['recall'] * 100:6.2f} {m['f1'] * 100:6.2f}"


def format_report(res: dict) -> str:
    lines = [f"dataset {res['dataset']} ({res['sentences']} sentences, {res['gold_relations']} relations); "
             f"model {res['model']} (threshold {res['threshold']:.2f}, temperature {res['temperature']:.3f})", "",
             f"{'strict micro':<34} {'P':>6} {'R':>6} {'F1':>6}  macro-F1"]
    g = res["gold_entities"]
    lines.append(f"{'gold entities':<34} {_fmt(g)}  {g['macro_f1'] * 100:6.2f}")
    e = res.get("end_to_end")
    if e:
        lines.append(f"{'end-to-end (NER: ' + Path(res['ner_model']).name + ')':<34} {_fmt(e)}  {e['macro_f1'] * 100:6.2f}")
        lines.append(f"{'NER spans only':<34} {_fmt(res['ner'])}")
    else:
        lines.append(f"{'end-to-end':<34} skipped: {res.get('end_to_end_skipped', 'no NER model')}")
    lines += ["", f"{'per relation':<16} {'gold':>5}  {'P':>6} {'R':>6} {'F1':>6}" + ("  | end-to-end P R F1" if e else "")]
    for r, v in g["per_relation"].items():
        row = f"{r:<16} {v['gold']:>5}  {_fmt(v)}"
        if e:
            row += "  | " + _fmt(e["per_relation"][r])
        lines.append(row)
    sp = res["gold_entities_speed"]["sentences_per_second"]
    lines += ["", f"relation step: {sp:.0f} sentences/s with gold entities"
              + (f", {res['end_to_end_speed']['sentences_per_second']:.0f} sentences/s with NER entities" if e else "")
              + f" ({res['threads']} torch threads, {res.get('precision', 'fp32')})"]
    return "\n".join(lines)


def results_markdown(res: dict, command: str) -> str:
    """A model-card section for one `kg eval relations` result."""
    g, e = res["gold_entities"], res.get("end_to_end")
    sp = res["gold_entities_speed"]["sentences_per_second"]
    lines = [f"### {res['dataset']} ({res['sentences']} sentences, {res['gold_relations']} relations)", "",
             "```", command, "```", "", "| setting | P | R | micro-F1 | macro-F1 |", "|---|---|---|---|---|",
             f"| gold entities | {g['precision'] * 100:.2f} | {g['recall'] * 100:.2f} | {g['f1'] * 100:.2f} | "
             f"{g['macro_f1'] * 100:.2f} |"]
    if e:
        n = res["ner"]
        lines += [f"| end-to-end, NER `{Path(res['ner_model']).name}` | {e['precision'] * 100:.2f} | "
                  f"{e['recall'] * 100:.2f} | {e['f1'] * 100:.2f} | {e['macro_f1'] * 100:.2f} |",
                  f"| (NER spans alone) | {n['precision'] * 100:.2f} | {n['recall'] * 100:.2f} | {n['f1'] * 100:.2f} | |"]
    lines += ["", "| relation | gold | P | R | F1 |" + (" e2e P | e2e R | e2e F1 |" if e else ""),
              "|---|---|---|---|---|" + ("---|---|---|" if e else "")]
    for r, v in g["per_relation"].items():
        row = f"| {r} | {v['gold']} | {v['precision'] * 100:.1f} | {v['recall'] * 100:.1f} | {v['f1'] * 100:.1f} |"
        if e:
            w = e["per_relation"][r]
            row += f" {w['precision'] * 100:.1f} | {w['recall'] * 100:.1f} | {w['f1'] * 100:.1f} |"
        lines.append(row)
    lines += ["", f"Relation step: {sp:.0f} sentences/s with gold entities"
              + (f", {res['end_to_end_speed']['sentences_per_second']:.0f} with NER entities" if e else "")
              + f" ({res['threads']} torch threads, {res.get('precision', 'fp32')} inference; wall clock on the "
              "machine that ran it)."]
    return "\n".join(lines)


def _eval_command(args) -> str:
    parts = ["kg", "eval", "relations", "--dataset", args.dataset, "--split", args.split]
    for flag, value in (("--model", args.model), ("--ner", args.ner), ("--threshold", args.threshold),
                        ("--precision", args.precision)):
        if value is not None:
            parts += [flag, value]
    if args.no_e2e:
        parts.append("--no-e2e")
    if args.threads:
        parts += ["--threads", args.threads]
    return " ".join(shlex.quote(str(p)) for p in parts)


def cmd_eval(args) -> int:
    import torch

    from extractors.datasets import DATASETS, load_dataset, parse_dataset_spec
    from extractors.ner import ModelLoadError, default_conll04_ner, load_entity_extractor
    from extractors.relation_model import WEIGHTS_DIR, MarkerRelationExtractor, artifact_schema
    from kg.config import get_settings

    if args.threads:
        torch.set_num_threads(args.threads)
    model_dir = Path(args.model) if args.model else _default_model(args.dataset)
    if not args.model and not (model_dir / "config.json").exists():
        raise ModelLoadError(f"no relation model at {model_dir}: train one with `kg train relations` or pass --model DIR")
    schema = artifact_schema(model_dir)  # read the data before the (slower) model load: errors come fast
    examples = load_dataset(args.dataset, args.split, schema)
    model = MarkerRelationExtractor.load(model_dir, device=args.device, threshold=args.threshold,
                                         precision=args.precision)
    if not examples:
        _err(f"{args.dataset}: no examples")
        return 2
    name, split = parse_dataset_spec(args.dataset, args.split)
    ner, ner_path, skipped = None, None, None
    if not args.no_e2e:
        if args.ner:
            ner_path = args.ner
        elif name == "conll04":
            found = default_conll04_ner()
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
        cfg_path = model_dir / "config.json"
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        e2e = res.get("end_to_end")
        cfg.setdefault("eval_results", {})[res["dataset"]] = {
            "command": _eval_command(args), "gold_entities_f1": res["gold_entities"]["f1"],
            "end_to_end_f1": e2e["f1"] if e2e else None, "ner_model": res.get("ner_model"),
            "sentences_per_second": res["gold_entities_speed"]["sentences_per_second"],
            "markdown": results_markdown(res, _eval_command(args)),
        }
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_model_card(model_dir, cfg)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(format_report(res))
    return 0
