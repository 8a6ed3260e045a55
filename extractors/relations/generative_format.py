"""The generative extractor's text format and its constrained decoding (no torch here).

Prompt and answer are assembled from token ids, never from re-tokenised strings, so that what
the model is trained to write and what the decoder allows are the same token sequences:

    <bos> "Relations: Work_For (Person, Organization); Live_In (Person, Location)\\nText:" TEXT "\\nTriples:\\n"
    HEAD " |" " Work_For" " |" TAIL "\\n"   ... one line per triple ...   <eos>

TEXT is the sentence's own tokens; HEAD and TAIL are slices of them (the tokens covering a span),
so a subject or object can only be a span of the input. The decoder (`TripleConstraint`) walks a
trie of the allowed continuations at each step: a head from the candidates, then a relation named
in the prompt whose head/tail types the pair satisfies, then a tail, then a new line or <eos>.
A triple already written cannot be written again, so generation always ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

SPAN_MAX_TOKENS = 10  # span mode: the longest subject/object, in tokens


@dataclass(frozen=True)
class RelationSpec:
    """A relation as the prompt states it; head/tail: the allowed entity types (empty: any)."""

    name: str
    head: tuple[str, ...] = ()
    tail: tuple[str, ...] = ()

    def label(self, describe: dict[str, str]) -> str:
        if not self.head and not self.tail:
            return self.name
        h = "/".join(describe.get(t, t) for t in self.head) or "any"
        t = "/".join(describe.get(t, t) for t in self.tail) or "any"
        return f"{self.name} ({h}, {t})"

    def allows(self, head_type: str | None, tail_type: str | None) -> bool:
        return (not self.head or head_type in self.head) and (not self.tail or tail_type in self.tail)


@dataclass
class Candidate:
    """A span the decoder may write as a subject or object: token range [a, b) of the text."""

    a: int
    b: int
    type: str | None = None
    ref: int = -1  # the caller's index (mention or entity), -1 in span mode


@dataclass
class Codec:
    """Token ids of the fixed pieces, from the tokenizer (see the module doc)."""

    tok: object
    bos: int = field(init=False)
    eos: int = field(init=False)
    sep: list[int] = field(init=False)
    nl: list[int] = field(init=False)

    def __post_init__(self):
        self.bos, self.eos = self.tok.bos_token_id, self.tok.eos_token_id
        self.sep = self.ids(" |")
        self.nl = self.ids("\n")
        self._cache: dict[str, list[int]] = {}

    def ids(self, s: str) -> list[int]:
        return list(self.tok(s, add_special_tokens=False)["input_ids"])

    def cached(self, s: str) -> list[int]:
        if s not in self._cache:
            self._cache[s] = self.ids(s)
        return self._cache[s]

    def text(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The text's tokens and their character spans (spaces excluded: a space token's is empty)."""
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = []
        for a, b in enc["offset_mapping"]:
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            spans.append((a, b))
        return list(enc["input_ids"]), spans

    def prompt(self, relations: Sequence[RelationSpec], describe: dict[str, str], text_ids: list[int]) -> list[int]:
        head = "Relations: " + "; ".join(r.label(describe) for r in relations) + "\nText:"
        return [self.bos] + self.cached(head) + text_ids + self.cached("\nTriples:\n")

    def rel_ids(self, name: str) -> list[int]:
        return self.cached(" " + name)

    def answer(self, text_ids: list[int], triples: Sequence[tuple[Candidate, str, Candidate]]) -> list[int]:
        out: list[int] = []
        for h, rel, t in triples:
            out += text_ids[h.a:h.b] + self.sep + self.rel_ids(rel) + self.sep + text_ids[t.a:t.b] + self.nl
        return out + [self.eos]


def token_range(spans: list[tuple[int, int]], start: int, end: int) -> tuple[int, int] | None:
    """The tokens covering characters [start, end), or None when no token does."""
    toks = [i for i, (a, b) in enumerate(spans) if b > start and a < end and b > a]
    return (toks[0], toks[-1] + 1) if toks else None


def span_candidates(spans: list[tuple[int, int]], max_len: int = SPAN_MAX_TOKENS) -> list[Candidate]:
    """Span mode: every run of up to max_len tokens that starts and ends on a visible token."""
    n = len(spans)
    return [Candidate(a, b) for a in range(n) if spans[a][0] < spans[a][1]
            for b in range(a + 1, min(n, a + max_len) + 1) if spans[b - 1][0] < spans[b - 1][1]]


class _Trie:
    """Token sequences -> payloads; `step` follows one token."""

    def __init__(self):
        self.root: dict = {}

    def add(self, seq: Sequence[int], payload) -> None:
        node = self.root
        for t in seq:
            node = node.setdefault(t, {})
        node.setdefault(None, []).append(payload)


@dataclass
class Triple:
    head: Candidate
    relation: str
    tail: Candidate
    steps: tuple[int, int] = (0, 0)  # the answer positions [start, end) that wrote it


class TripleConstraint:
    """The allowed next tokens of one answer, and its parse (see the module doc).

    Candidates with the same tokens are one choice; the first whose type fits is taken. A
    relation is offered after a head only if some tail completes it with a new triple, and a
    head only if some relation does. Candidates are grouped by their set of types, so that span
    mode (thousands of untyped spans) costs no more than one group.
    """

    def __init__(self, codec: Codec, text_ids: list[int], candidates: list[Candidate],
                 relations: Sequence[RelationSpec]):
        self.codec = codec
        self.cands = candidates
        self.rels = list(relations)
        self.by_key: dict[tuple, list[int]] = {}
        for i, c in enumerate(candidates):
            self.by_key.setdefault(tuple(text_ids[c.a:c.b]), []).append(i)
        self.sig = {k: frozenset(candidates[i].type for i in v) for k, v in self.by_key.items()}
        groups: dict[frozenset, list[tuple]] = {}
        for k, g in self.sig.items():
            groups.setdefault(g, []).append(k)
        self.groups = groups
        # (head group, relation) -> the tail groups whose types fit
        self.fits = {(g, r): [tg for tg in groups if any(spec.allows(h, t) for h in g for t in tg)]
                     for g in groups for r, spec in enumerate(self.rels)}
        self._tails: dict[tuple, list[tuple]] = {}
        self._tries: dict = {}

    def tails_possible(self) -> bool:
        """Whether any triple can be written at all (else there is nothing to generate)."""
        return any(self._count(hk, r) for hk in self.by_key for r in range(len(self.rels)))

    def tails(self, hk: tuple, r: int) -> list[tuple]:
        """The tail keys that complete (head, relation) under the type constraints."""
        if (hk, r) not in self._tails:
            self._tails[(hk, r)] = [tk for g in self.fits[(self.sig[hk], r)] for tk in self.groups[g] if tk != hk]
        return self._tails[(hk, r)]

    def _count(self, hk: tuple, r: int) -> int:
        n = sum(len(self.groups[g]) for g in self.fits[(self.sig[hk], r)])
        return n - (self.sig[hk] in self.fits[(self.sig[hk], r)])

    def pick(self, hk: tuple, r: int, tk: tuple) -> tuple[Candidate, Candidate]:
        """The head and tail candidates a written (head, relation, tail) stands for."""
        spec = self.rels[r]
        for h in self.by_key[hk]:
            for t in self.by_key[tk]:
                if spec.allows(self.cands[h].type, self.cands[t].type):
                    return self.cands[h], self.cands[t]
        raise AssertionError("the decoder only offers allowed pairs")

    def _trie(self, key, items) -> _Trie:
        if key not in self._tries:
            trie = _Trie()
            for seq, payload in items():
                trie.add(seq, payload)
            self._tries[key] = trie
        return self._tries[key]

    def parse(self, answer: Sequence[int]) -> tuple[list[Triple], set[int], bool]:
        """(complete triples, allowed next tokens, finished) for an answer prefix."""
        c = self.codec
        sep, nl = tuple(c.sep), tuple(c.nl)
        triples: list[Triple] = []
        done: dict[tuple, set] = {}  # (head key, relation) -> tail keys written
        pos, n = 0, len(answer)
        while True:
            # a head is closed once every (relation, tail) it allows is written
            closed = frozenset(hk for hk in {k for k, _ in done}
                               if sum(len(v) for (k, _), v in done.items() if k == hk)
                               >= sum(self._count(hk, r) for r in range(len(self.rels))))
            heads = self._trie(("h", closed), lambda: (
                (hk + sep, hk) for hk in self.by_key
                if hk not in closed and any(self._count(hk, r) for r in range(len(self.rels)))))
            if pos == n:  # at a triple's start
                return triples, (set(heads.root) - {None}) | {c.eos}, False
            if answer[pos] == c.eos:
                return triples, set(), True
            start = pos
            hk, pos, allowed = _walk(heads.root, answer, pos)
            if hk is None:
                return triples, allowed, False
            full = frozenset(r for r in range(len(self.rels)) if len(done.get((hk, r), ())) >= self._count(hk, r))
            rels = self._trie(("r", hk, full), lambda: (
                (tuple(c.rel_ids(self.rels[r].name)) + sep, r) for r in range(len(self.rels))
                if r not in full and self._count(hk, r)))
            r, pos, allowed = _walk(rels.root, answer, pos)
            if r is None:
                return triples, allowed, False
            written = frozenset(done.get((hk, r), ()))
            tails = self._trie(("t", hk, r, written), lambda: (
                (tk + nl, tk) for tk in self.tails(hk, r) if tk not in written))
            tk, pos, allowed = _walk(tails.root, answer, pos)
            if tk is None:
                return triples, allowed, False
            h, t = self.pick(hk, r, tk)
            triples.append(Triple(h, self.rels[r].name, t, (start, pos)))
            done.setdefault((hk, r), set()).add(tk)

    def allowed(self, answer: Sequence[int]) -> list[int]:
        """The tokens the decoder may write next (<eos> alone once the answer is finished)."""
        _, allowed, finished = self.parse(answer)
        return sorted(allowed) if not finished and allowed else [self.codec.eos]


def _walk(root: dict, answer: Sequence[int], pos: int):
    """Follow the answer from pos through a trie: (payload, next pos, _) when a key was completed,
    else (None, pos, the allowed next tokens; empty after a token the trie lacks, which constrained
    generation never writes)."""
    node = root
    while True:
        if None in node:
            return node[None][0], pos, set()
        if pos == len(answer):
            return None, pos, set(node)
        nxt = node.get(answer[pos])
        if nxt is None:
            return None, pos, set()
        node, pos = nxt, pos + 1
