"""A generative relation extractor: Gemma 3 270M with a LoRA adapter writes the triples.

It reads a sentence and the schema's relations (names with their head and tail types) in the
prompt and writes one `head | relation | tail` line per triple (generative_format.py), so it can
follow a schema it was not trained on. Decoding is constrained: the subject and object can only be
candidate spans of the sentence (the mentions the pipeline gives, or in span mode any run of
tokens), the relation only a schema name whose types the pair satisfies, so every output parses.
Greedy, batched, with the KV cache (transformers' generate).

Confidence of a triple: the probability of its tokens under the constrained (renormalised)
distribution, i.e. P(this triple next | the answer so far, the constraint).

Artifact layout: config.json (format, base, training record), adapter_config.json +
adapter_model.safetensors (peft LoRA), MODEL_CARD.md.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Sequence

from extractors.encoder.base import WEIGHTS_DIR
from extractors.relations.generative_format import (Candidate, Codec, RelationSpec, TripleConstraint,
                                                    span_candidates, token_range)
from extractors.relations.marker import mention_type
from graph_schema import Schema
from kg.errors import ModelLoadError
from kg.types import Chunk, Mention, Relation

FORMAT = "kg-generative-relations/1"
DEFAULT_NAME = "relations-generative"


def default_generative_path() -> Path | None:
    """extractors/weights/relations-generative when it is installed, else None."""
    p = WEIGHTS_DIR / DEFAULT_NAME
    return p if is_generative_model(p) else None


def is_generative_model(path: str | Path) -> bool:
    cfg = Path(path) / "config.json"
    try:
        return cfg.exists() and json.loads(cfg.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, json.JSONDecodeError):
        return False


def schema_relations(schema: Schema) -> tuple[list[RelationSpec], dict[str, str]]:
    """The schema's relations as the prompt states them, and each entity type's description."""
    specs = [RelationSpec(r.name, tuple(r.head), tuple(r.tail)) for r in schema.relation_types.values()]
    describe = {name: (t.description or name) for name, t in schema.entity_types.items()}
    return specs, describe


class GenerativeRelationExtractor:
    """RelationExtractor backed by a causal LM (see module doc); schema: the one in the prompt."""

    def __init__(self, model, tokenizer, schema: Schema, name: str = "generative", batch_size: int = 8,
                 max_new_tokens: int = 96, device: str = "cpu"):
        self.model = model
        self.codec = Codec(tokenizer)
        self.schema = schema
        self.specs, self.describe = schema_relations(schema)
        self.relations = [s.name for s in self.specs]
        self.name = name
        self.batch_size = batch_size
        self.max_new_tokens = max_new_tokens
        self.device = device
        self.threshold = 0.0  # every constrained triple is kept; confidence ranks them
        self.temperature = 1.0
        self.precision = "fp32"

    @classmethod
    def load(cls, path: str | Path, schema: Schema, device: str = "cpu", **kw) -> "GenerativeRelationExtractor":
        from extractors.relations.gemma import load_base_model, load_tokenizer

        path = Path(path)
        if not is_generative_model(path):
            raise ModelLoadError(f"no generative relation model at {path} (needs config.json of format {FORMAT})")
        from peft import PeftModel

        model = PeftModel.from_pretrained(load_base_model(), str(path)).eval().to(device)
        return cls(model, load_tokenizer(), schema, name=path.resolve().name, device=device, **kw)

    # --- inference

    def type_of(self, m: Mention) -> str | None:
        return mention_type(self.schema, m)

    def extract(self, chunks: Sequence[Chunk], mentions: Sequence[Sequence[Mention]]) -> list[list[Relation]]:
        """Relations per chunk between typed mentions of one sentence (the whole chunk when it has
        no sentences); start/end: the sentence's document offsets."""
        out: list[list[Relation]] = [[] for _ in chunks]
        jobs, where = [], []
        for ci, (chunk, ms) in enumerate(zip(chunks, mentions)):
            for s, e in chunk.sentences or [(chunk.start, chunk.end)]:
                inside = [(mi, self.type_of(m)) for mi, m in enumerate(ms) if s <= m.start and m.end <= e]
                inside = [(mi, t) for mi, t in inside if t is not None]
                if len(inside) < 2:
                    continue
                text = chunk.text[s - chunk.start: e - chunk.start]
                ids, spans = self.codec.text(text)
                cands = []
                for mi, t in inside:
                    rng = token_range(spans, ms[mi].start - s, ms[mi].end - s)
                    if rng is not None:
                        cands.append(Candidate(rng[0], rng[1], t, mi))
                jobs.append((ids, cands))
                where.append((ci, s, e))
        for (ci, s, e), triples in zip(where, self.generate(jobs)):
            for h, rel, t, conf in triples:
                out[ci].append(Relation(h.ref, t.ref, rel, round(conf, 4), s, e, self.name))
        return out

    def extract_spans(self, texts: Sequence[str], specs: Sequence[RelationSpec] | None = None,
                      describe: dict[str, str] | None = None
                      ) -> list[list[tuple[tuple[int, int], str, tuple[int, int], float]]]:
        """Span mode (no mentions): per text, (head char span, relation, tail char span, confidence);
        heads and tails are any runs of up to SPAN_MAX_TOKENS tokens, relations any name of specs
        (default: the schema's). The prompt states the specs' types; spans have none to check."""
        specs = list(self.specs if specs is None else specs)
        free = [RelationSpec(s.name) for s in specs]
        jobs, spans_of = [], []
        for text in texts:
            ids, spans = self.codec.text(text)
            jobs.append((ids, span_candidates(spans)))
            spans_of.append(spans)
        out = []
        for spans, triples in zip(spans_of, self.generate(jobs, specs, free, describe)):
            out.append([((spans[h.a][0], spans[h.b - 1][1]), rel, (spans[t.a][0], spans[t.b - 1][1]), conf)
                        for h, rel, t, conf in triples])
        return out

    def generate(self, jobs: list[tuple[list[int], list[Candidate]]], specs: list[RelationSpec] | None = None,
                 constrain: list[RelationSpec] | None = None, describe: dict[str, str] | None = None
                 ) -> list[list[tuple[Candidate, str, Candidate, float]]]:
        """Constrained greedy decoding of (text token ids, candidates) jobs, batched by prompt length.
        specs: the relations the prompt lists (default: the schema's); constrain: the same relations
        as the decoder checks them (default: specs)."""
        import torch

        specs = self.specs if specs is None else specs
        constrain = specs if constrain is None else constrain
        describe = self.describe if describe is None else describe
        results: list[list] = [[] for _ in jobs]
        work = []
        for i, (ids, cands) in enumerate(jobs):
            con = TripleConstraint(self.codec, ids, cands, constrain)
            if con.tails_possible():
                work.append((i, self.codec.prompt(specs, describe, ids), con))
        work.sort(key=lambda w: len(w[1]))
        for k in range(0, len(work), self.batch_size):
            batch = work[k: k + self.batch_size]
            L = max(len(p) for _, p, _ in batch)
            pad = self.codec.tok.pad_token_id or 0
            input_ids = torch.tensor([[pad] * (L - len(p)) + p for _, p, _ in batch], device=self.device)
            mask = torch.tensor([[0] * (L - len(p)) + [1] * len(p) for _, p, _ in batch], device=self.device)
            step = _ConstrainedStep([c for _, _, c in batch], L)
            with torch.inference_mode():
                gen = self.model.generate(
                    input_ids=input_ids, attention_mask=mask, max_new_tokens=self.max_new_tokens, do_sample=False,
                    logits_processor=[step], pad_token_id=pad, eos_token_id=self.codec.eos,
                    top_k=None, top_p=None, temperature=None)
            answers = gen[:, L:]
            logp = torch.stack(step.logp, 1) if step.logp else torch.zeros(len(batch), 0)  # [B, T]
            for row, (i, _, con) in enumerate(batch):
                ans = answers[row].tolist()
                triples, _, _ = con.parse(ans)
                for tr in triples:
                    a, b = tr.steps
                    conf = math.exp(float(logp[row, a:b].sum()))
                    results[i].append((tr.head, tr.relation, tr.tail, conf))
        return results


class _ConstrainedStep:
    """A logits processor: masks each row to the tokens its TripleConstraint allows, and records the
    log-probability of the greedy choice under that masked distribution (so no [B, vocab] scores
    are kept per step)."""

    def __init__(self, constraints: list[TripleConstraint], prompt_len: int):
        self.cons = constraints
        self.L = prompt_len
        self.logp: list = []

    def __call__(self, input_ids, scores):
        import torch

        masked = torch.full_like(scores, float("-inf"))
        for row, con in enumerate(self.cons):
            allowed = torch.tensor(con.allowed(input_ids[row, self.L:].tolist()), device=scores.device)
            masked[row, allowed] = scores[row, allowed]
        self.logp.append(torch.log_softmax(masked.float(), -1).max(-1).values)
        return masked
