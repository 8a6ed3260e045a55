"""Weight averaging of fine-tuned artifacts (a "uniform model soup", Wortsman et al. 2022).

Fine-tuning runs that start from the same weights - the same base model and the same --seed,
so the same freshly initialised head - but differ in learning rate or batch order (--data-seed)
stay in one basin of the loss: the mean of their weights is a model, often better than each
run, and it costs one model at inference (an ensemble would cost one per run). Runs with
different seeds start from different heads and their mean is not a model (CoNLL04 dev: NER span
F1 81.6 against 83-84 for each of three seeds), so `average_artifacts` refuses them.

Works for both artifact formats (relation classifier, token NER). A relation average must be
recalibrated on dev (`--dev`): the runs' temperatures and thresholds do not carry over.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Sequence

from extractors.cli_errors import guarded
from extractors.ner import ModelLoadError

DATA_SEED_HELP = ("order of the training batches (default: --seed). Runs with one --seed and different "
                  "--data-seed or --lr start from the same weights, so `kg train average` can average them")

# config entries that must agree for two artifacts' weights to mean the same thing
_MUST_MATCH = ("format", "base_model", "num_layers", "max_length", "entity_types", "relations", "tags",
               "spacy_features", "mlp_hidden", "schema")


def _read_config(path: Path) -> dict:
    cfg = path / "config.json"
    if not cfg.is_file():
        raise ModelLoadError(f"no model at {path} (needs config.json and model.safetensors)")
    try:
        return json.loads(cfg.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{cfg}: invalid JSON ({e.msg})") from None


def average_artifacts(dirs: Sequence[str | Path], out: str | Path, command: str = "") -> dict:
    """Write the uniform weight average of same-shaped artifacts (same format, base, types and
    training seed) to `out`; returns its config. Dev metrics, calibration and test results of
    the runs are dropped: they do not describe the average."""
    from extractors.relation_model import read_artifact, save_state

    dirs = [Path(d) for d in dirs]
    if len(dirs) < 2:
        raise ModelLoadError("averaging needs at least two models")
    for d in dirs:  # a missing or unreadable model fails here, with its own message
        _read_config(d)
    arts = [read_artifact(d, _read_config(dirs[0]).get("format"), "model") for d in dirs]
    first = arts[0][0]
    for d, (cfg, state) in zip(dirs[1:], arts[1:]):
        for key in _MUST_MATCH:
            if cfg.get(key) != first.get(key):
                raise ModelLoadError(f"{d}: its {key!r} differs from {dirs[0]}'s; only models of one kind average")
        if cfg.get("training", {}).get("seed") != first.get("training", {}).get("seed"):
            raise ModelLoadError(f"{d}: trained with --seed {cfg.get('training', {}).get('seed')}, {dirs[0]} with "
                                 f"{first.get('training', {}).get('seed')}; runs from different seeds start from "
                                 "different heads and their average is not a model")
        if state.keys() != arts[0][1].keys() or any(state[k].shape != arts[0][1][k].shape for k in state):
            raise ModelLoadError(f"{d}: its weights do not have {dirs[0]}'s shapes")
    state = {k: sum(s[k] for _, s in arts) / len(arts) if v.is_floating_point() else v
             for k, v in arts[0][1].items()}
    config = {k: v for k, v in first.items() if k not in ("dev_metrics", "eval_results")}
    if "temperature" in config:  # a relation model: uncalibrated until `--dev` / `kg train calibration`
        config.update(temperature=1.0, threshold=0.5)
    config["name"] = Path(out).name
    tr0 = first.get("training", {})
    config["training"] = {
        "data": tr0.get("data", []), "dev": tr0.get("dev", []), "seed": tr0.get("seed"),
        "command": command,
        "averaged_from": [{"model": str(d), "command": c.get("training", {}).get("command", ""),
                           "lr": c.get("training", {}).get("lr"),
                           "data_seed": c.get("training", {}).get("data_seed"), "best_epoch": c.get("training", {}).get("best_epoch")}
                          for d, (c, _) in zip(dirs, arts)],
    }
    save_state(state, config, out, first["format"])
    return config


def training_lines(tr: dict) -> list[str]:
    """Model-card lines for an averaged artifact's "## Training" section."""
    lines = [f"Uniform weight average of {len(tr['averaged_from'])} fine-tuning runs that share --seed "
             f"{tr.get('seed')} (so the same initial weights) and differ in learning rate or batch order "
             "(extractors/model_average.py). Reproduce: train each run, then average:", "", "```"]
    lines += [a["command"] or f"({a['model']}: see its config.json)" for a in tr["averaged_from"]]
    lines += [tr.get("command") or "(see config.json)"]
    if tr.get("calibration_command"):
        lines.append(tr["calibration_command"])
    return lines + ["```", ""]


# --------------------------------------------------------------------------- CLI


def register(train_sub) -> None:
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
    p.set_defaults(func=_guarded(cmd_average))


def _user_errors():
    from extractors.datasets import DatasetError

    return (ModelLoadError, DatasetError)


_guarded = guarded(_user_errors)


def cmd_average(args) -> int:
    from extractors.relation_model import FORMAT as RELATION_FORMAT

    if any(Path(m).resolve() == Path(args.out).resolve() for m in args.models):
        raise ModelLoadError("--out must not be one of --models (it would be overwritten)")
    command = " ".join(shlex.quote(str(x)) for x in ["kg", "train", "average", "--models", *args.models,
                                                       "--out", args.out])
    config = average_artifacts(args.models, args.out, command)
    out = Path(args.out)
    print(f"saved {out}: the average of {len(args.models)} models")
    if config["format"] == RELATION_FORMAT:
        return _finish_relations(args, out, config)
    return _finish_ner(args, out, config)


def _finish_relations(args, out: Path, config: dict) -> int:
    from extractors import relation_cli

    if not args.dev:
        print("kg: note: no --dev: temperature 1 and threshold 0.5 (run `kg train calibration`)", file=sys.stderr)
        relation_cli.write_model_card(out, config)
        return 0
    return relation_cli.cmd_calibrate(argparse.Namespace(model=str(out), dev=args.dev, precision=args.precision))


def _finish_ner(args, out: Path, config: dict) -> int:
    from extractors import ner_cli

    dev = [ex for spec in args.dev for ex in ner_cli.load_examples(spec, "dev")] if args.dev else None
    card_args = argparse.Namespace(data=config["training"]["data"], dev=args.dev)
    dev_report = ner_cli._dev_report(card_args, out, dev)
    card = ner_cli.write_transformer_card(out, config, card_args, None, dev, dev_report)
    if dev_report is not None:
        print(f"dev (strict spans): P {100 * dev_report.precision:.2f} R {100 * dev_report.recall:.2f} "
              f"F1 {100 * dev_report.f1:.2f}; model card {card}")
    return 0
