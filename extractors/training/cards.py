"""Model cards (MODEL_CARD.md) of every trained artifact: marker relation models, transformer
taggers, spaCy NER pipelines and weight averages, with what `kg eval` adds to them."""

from __future__ import annotations

import json
from pathlib import Path

from extractors.datasets import DATASETS, NER_DATASETS, parse_dataset_spec, parse_ner_spec
from extractors.entities.tagger import is_token_ner_model
from extractors.evaluation.relations import results_markdown
from extractors.relations.generative import FORMAT as GENERATIVE_FORMAT
from extractors.training.spacy_ner import STRATEGY_NOTES, TrainResult


# --------------------------------------------------------------------------- relation models


def write_relation_card(out: Path, config: dict) -> Path:
    """MODEL_CARD.md of a marker relation artifact, from its config.json (training, dev scores and
    the `kg eval relations --update-card` results it records)."""
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
    if results:
        lines += ["", "## Evaluation (`kg eval relations`)", ""]
        for key in sorted(results):
            lines += [results[key]["markdown"], ""]
    out.mkdir(parents=True, exist_ok=True)
    path = out / "MODEL_CARD.md"
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def record_relation_eval(model_dir: Path, res: dict, command: str) -> Path:
    """Store a `kg eval relations` result in the artifact's config.json (one entry per dataset
    split) and rewrite its model card with it."""
    cfg_path = model_dir / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    e2e = res.get("end_to_end")
    if "triples" in res:  # span-mode scores of a generative model (extractors/evaluation/generative.py)
        from extractors.evaluation.generative import triples_markdown

        entry = {"command": command, "f1": res["triples"]["f1"], "markdown": triples_markdown(res, command),
                 "sentences_per_second": res["speed"]["sentences_per_second"]}
    else:
        entry = {"command": command, "gold_entities_f1": res["gold_entities"]["f1"],
                 "end_to_end_f1": e2e["f1"] if e2e else None, "ner_model": res.get("ner_model"),
                 "sentences_per_second": res["gold_entities_speed"]["sentences_per_second"],
                 "markdown": results_markdown(res, command)}
    cfg.setdefault("eval_results", {})[res["dataset"]] = entry
    cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if cfg.get("format") == GENERATIVE_FORMAT:
        from extractors.training.generative import write_generative_card

        return write_generative_card(model_dir, cfg)
    return write_relation_card(model_dir, cfg)


# --------------------------------------------------------------------------- weight averages


def training_lines(tr: dict) -> list[str]:
    """Model-card lines for an averaged artifact's "## Training" section."""
    lines = [f"Uniform weight average of {len(tr['averaged_from'])} fine-tuning runs that share --seed "
             f"{tr.get('seed')} (so the same initial weights) and differ in learning rate or batch order "
             "(extractors/training/averaging.py). Reproduce: train each run, then average:", "", "```"]
    lines += [a["command"] or f"({a['model']}: see its config.json)" for a in tr["averaged_from"]]
    lines += [tr.get("command") or "(see config.json)"]
    if tr.get("calibration_command"):
        lines.append(tr["calibration_command"])
    return lines + ["```", ""]


# --------------------------------------------------------------------------- NER models


def write_tagger_card(out: Path, config: dict, sources: list[str], dev_sources: list[str] | None,
                      train, dev, dev_report) -> Path:
    """MODEL_CARD.md of a kg-token-ner artifact (trained, or averaged when train is None);
    `kg eval ner --card` adds the test section. sources, dev_sources: the data specs of the
    training (or averaging) run."""
    tr = config["training"]
    lines = [
        f"# {out.name}", "",
        f"Transformer NER trained with `kg train ner --arch transformer` (extractors/entities/tagger.py): "
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
        f"- train: {', '.join(f'`{s}`' for s in sources)}" + (
            f" ({len(train)} texts, {sum(len(ex.entities) for ex in train)} entities)" if train else ""),
        f"- dev: {', '.join(f'`{s}`' for s in dev_sources)} ({len(dev)} texts)" if dev else "- dev: none (last epoch kept)",
        *[f"- licence: {x}" for x in _licences(sources, dev_sources)], "",
        "## Training", "",
    ]
    if "averaged_from" in tr:
        lines += training_lines(tr)
    else:
        lines += [
            f"epochs {tr['epochs']} (best on dev: {tr['best_epoch']}), encoder lr {tr['lr']}, head lr {tr['head_lr']}, "
            f"batch {tr['batch_size']}, warm-up {tr['warmup']}, dropout {tr['dropout']}, seed {tr['seed']}, "
            f"device {tr['device']}. Reproduce:", "",
            "```", tr["command"], "```", "",
        ]
    return _write_card(out, lines, dev_sources, dev_report)


LICENCES = {
    "conll04": "CoNLL04 (Roth & Yih 2004; SpERT split): research use only",
    "conll2003": "CoNLL-2003 English (Reuters RCV1 text): research use only",
}
TEST_HEADER = "## Test results"


def write_spacy_ner_card(result: TrainResult, sources: list[str], dev_sources: list[str] | None, train, dev,
                         dev_report, command: str) -> Path:
    """MODEL_CARD.md in the trained pipeline's directory; `kg eval ner --card` adds the test section.
    sources, dev_sources: the data specs; command: the `kg train ner` line that reproduces it."""
    out = Path(result.out_dir)
    run = result.settings
    licences = _licences(sources, dev_sources)
    n_ents = sum(len(ex.entities) for ex in train)
    lines = [
        f"# {out.name}", "",
        f"spaCy NER pipeline trained with `kg train ner` (extractors/training/spacy_ner.py, spaCy's own training "
        f"loop). Base: `{run['base']}`; strategy `{run['strategy']}`: {STRATEGY_NOTES[run['strategy']]}", "",
        f"- components: {', '.join(result.pipe_names)}; labels: {', '.join(result.labels)}",
        f"- size: {result.size_bytes / 1e6:.1f} MB",
        "- use: `spacy.load(DIR)`, or `KG_SPACY_MODEL=DIR` with a schema that maps its labels "
        "(graph_schema/conll04.yaml for CoNLL04 types)", "",
        "## Data", "",
        f"- train: {', '.join(f'`{s}`' for s in sources)} ({len(train)} sentences, {n_ents} entities); "
        f"{result.alignment['train'].summary()}",
        f"- dev: {', '.join(f'`{s}`' for s in dev_sources)} ({len(dev)} sentences); "
        f"{result.alignment['dev'].summary()}" if dev else "- dev: none (last checkpoint kept)",
        *[f"- licence: {x}" for x in licences], "",
        "## Training", "",
        f"epochs <= {run['epochs']}, max steps {run['max_steps'] or 'none'}, patience {run['patience']} steps, dev "
        f"evaluated every {run['eval_frequency']} steps (model-best by entity F1), dropout {run['dropout']}, "
        f"learn rate {run['learn_rate']}, seed {run['seed']}, span alignment `{run['alignment_mode']}`; "
        f"{result.seconds / 60:.0f} min on one CPU thread. Reproduce:", "",
        "```", command, "```", "",
    ]
    return _write_card(out, lines, dev_sources, dev_report)


def _licences(sources: list[str], dev_sources: list[str] | None) -> list[str]:
    """One licence line per distinct training/dev source of a `kg train ner` run."""
    names = []
    for spec in list(sources) + list(dev_sources or []):
        name, split = parse_ner_spec(spec, "")
        names.append(name if split or name in NER_DATASETS else f"`{name}` (your JSONL; check its licence)")
    return [LICENCES.get(n, n) for n in dict.fromkeys(names)]


def _write_card(out: Path, lines: list[str], dev_sources: list[str] | None, dev_report) -> Path:
    """Append the dev section and the test placeholder to a card's lines; write MODEL_CARD.md."""
    if dev_report is not None:
        lines += ["## Dev results", "",
                  _match_note(dev_report) + f" `kg eval ner --dataset {dev_sources[0]} --model {out}`:", "",
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
    if is_token_ner_model(model_dir):
        import torch

        return f"{torch.get_num_threads()} torch threads, CPU"
    return "spaCy, one CPU thread"


def add_ner_test_to_card(model_dir: Path, report, dataset: str) -> Path:
    """Replace the test section of an NER model's MODEL_CARD.md with this report's scores."""
    path = Path(model_dir) / "MODEL_CARD.md"
    text = path.read_text(encoding="utf-8") if path.exists() else f"# {Path(model_dir).name}\n\n"
    head = text.split(TEST_HEADER)[0].rstrip() + "\n\n"
    section = [TEST_HEADER, "",
               "Reported once for this model (never used for any choice). " + _match_note(report) +
               f" `kg eval ner --dataset {dataset} --model {model_dir}`; {report.sentences_per_second:.0f} "
               f"sentences/s ({_threads_note(model_dir)}):", "", report.markdown(), ""]
    path.write_text(head + "\n".join(section), encoding="utf-8")
    return path
