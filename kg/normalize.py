"""Text normalisation for the models, with a map back to the original offsets.

The NER and relation models were trained on clean text: invisible characters
inside a word, exotic spaces, decomposed accents or emoji make them cut,
split or garble entities. `normalize_for_models` cleans a text for them, and
`NormalizedText.to_original` maps any span of the clean text back to the
original, so every citation still quotes the source exactly.

Rules, in this order:
1. Invisible format characters are removed: zero-width space, non-joiner and
   joiner (U+200B..U+200D), word joiner U+2060, BOM / zero-width no-break space
   U+FEFF (anywhere, not only at the start), soft hyphen U+00AD, the other
   invisible controls (bidi marks and embeddings U+200E, U+200F, U+202A..U+202E,
   U+2066..U+2069, invisible operators U+2061..U+2064, U+180E, U+FFF9..U+FFFB,
   tag characters U+E0000..U+E007F), and variation selectors (U+FE00..U+FE0F)
   or the keycap U+20E3 left over outside an emoji.
2. Each emoji / pictographic symbol cluster becomes one space (a space, not
   nothing, so "Apple👍Google" stays two words). A cluster is a maximal run of
   symbols of category So, skin-tone modifiers (U+1F3FB..U+1F3FF) and
   regional-indicator letters (flags), with what joins or decorates them:
   ZWJ U+200D, variation selectors, tag characters and combining marks.
   So "👨‍👩‍👧", "👍🏽", "🇺🇸" and "👍👍" each become a single space.
   Category So also holds text symbols such as ©, ®, ™ and °: they become a
   space too, which keeps them out of entity names ("Apple™").
3. Unicode space separators (category Zs: NBSP U+00A0, U+202F, U+2007, the
   en/em spaces, ...) become a plain space, one for one.
4. The rest is composed to NFC: a base letter and its combining accents
   ("i" + U+0301) become one character ("í") mapped to the whole original
   sequence.

Every character of the normalised text maps to a whole span of the original:
one character, a composed sequence, or an emoji cluster. Removed characters
map to nothing, so a span never starts or ends on them and never inside a
multi-codepoint cluster. Texts that need none of this (the common case) come
back as they are with an identity map, after one scan.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from dataclasses import dataclass, field

# removed wherever they are (rule 1)
_INVISIBLE = frozenset(
    "\u00ad\u180e\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2061\u2062\u2063\u2064\u2066\u2067\u2068\u2069\ufeff\ufff9\ufffa\ufffb\u20e3"
)
_ZWJ = "\u200d"


def _is_invisible(c: str) -> bool:
    return c in _INVISIBLE or "\ufe00" <= c <= "\ufe0f" or "\U000e0000" <= c <= "\U000e007f"


def _is_emoji(c: str) -> bool:
    """A pictographic symbol that starts or extends an emoji cluster."""
    return (
        unicodedata.category(c) == "So"
        or "\U0001f3fb" <= c <= "\U0001f3ff"  # skin tones are Sk
        or "\U0001f1e6" <= c <= "\U0001f1ff"  # regional indicators (flags)
    )


def _decorates_emoji(c: str) -> bool:
    """Joins or modifies the emoji before it: ZWJ, variation selectors, tags, combining marks."""
    return _is_invisible(c) or unicodedata.category(c).startswith("M")


def _needs_work(c: str) -> bool:
    """Whether a non-ASCII character is changed by some rule (NFC is checked separately)."""
    return _is_invisible(c) or _is_emoji(c) or unicodedata.category(c) == "Zs"


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


@dataclass(frozen=True)
class NormalizedText:
    """A normalised text and the map from its characters back to the original.

    The map is a list of pieces in normalised order. A piece starting at
    normalised offset `piece_starts[k]` either maps character for character
    (`linear`) onto the original from `orig_starts[k]`, or maps every one of its
    characters onto the whole original span `orig_starts[k]:orig_ends[k]`
    (a composed sequence or an emoji cluster). No pieces: the identity.
    """

    text: str
    original: str
    piece_starts: list[int] = field(default_factory=list, repr=False)
    orig_starts: list[int] = field(default_factory=list, repr=False)
    orig_ends: list[int] = field(default_factory=list, repr=False)
    linear: list[bool] = field(default_factory=list, repr=False)

    @property
    def is_identity(self) -> bool:
        return not self.piece_starts

    def char_to_original(self, i: int) -> tuple[int, int]:
        """The original span (end exclusive) that normalised character i came from."""
        if not 0 <= i < len(self.text):
            raise ValueError(f"offset {i} is outside the normalised text (length {len(self.text)})")
        if self.is_identity:
            return i, i + 1
        k = bisect.bisect_right(self.piece_starts, i) - 1
        if self.linear[k]:
            o = self.orig_starts[k] + i - self.piece_starts[k]
            return o, o + 1
        return self.orig_starts[k], self.orig_ends[k]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span covering normalised text[start:end], whole original characters only."""
        if not 0 <= start <= end <= len(self.text):
            raise ValueError(f"span {start}:{end} is outside the normalised text (length {len(self.text)})")
        if self.is_identity:
            return start, end
        if start == end:  # an empty span sits before the character at `start`
            o = self.char_to_original(start)[0] if start < len(self.text) else (
                self.char_to_original(start - 1)[1] if start else 0)
            return o, o
        return self.char_to_original(start)[0], self.char_to_original(end - 1)[1]


def normalize_for_models(text: str) -> NormalizedText:
    """Apply the module's rules to `text`; see the module docstring."""
    runs = [m.span() for m in _NON_ASCII.finditer(text)]
    if not runs or (
        unicodedata.is_normalized("NFC", text)
        and not any(_needs_work(c) for s, e in runs for c in text[s:e])
    ):
        return NormalizedText(text, text)
    builder = _Builder(text)
    pos = 0
    for s, e in runs:
        # the ASCII character before a run may be the base of its combining accents
        window = max(s - 1, pos)
        builder.copy(pos, window)
        builder.rewrite(window, e)
        pos = e
    builder.copy(pos, len(text))
    return builder.result()


class _Builder:
    """Accumulates the normalised text and its piece map."""

    def __init__(self, original: str):
        self.original = original
        self.parts: list[str] = []
        self.length = 0  # of the normalised text so far
        self.piece_starts: list[int] = []
        self.orig_starts: list[int] = []
        self.orig_ends: list[int] = []
        self.linear: list[bool] = []

    def _emit(self, out: str, o_start: int, o_end: int, linear: bool) -> None:
        if not out:
            return
        if linear and self.linear and self.linear[-1] and self.orig_ends[-1] == o_start:
            self.orig_ends[-1] = o_end  # extends the previous one-for-one piece
        else:
            self.piece_starts.append(self.length)
            self.orig_starts.append(o_start)
            self.orig_ends.append(o_end)
            self.linear.append(linear)
        self.parts.append(out)
        self.length += len(out)

    def copy(self, start: int, end: int) -> None:
        """Original text[start:end], unchanged."""
        self._emit(self.original[start:end], start, end, True)

    def rewrite(self, start: int, end: int) -> None:
        """Normalise original text[start:end]."""
        kept = self._clean(start, end)
        # group kept characters into NFC segments: a starter and what composes or reorders with it
        i = 0
        while i < len(kept):
            j, seg = i + 1, kept[i][0]
            while j < len(kept) and self._joins(seg, kept[j][0]):
                seg += kept[j][0]
                j += 1
            out = unicodedata.normalize("NFC", seg)
            o_start, o_end = kept[i][1], kept[j - 1][2]
            self._emit(out, o_start, o_end, len(out) == 1 and o_end - o_start == 1)
            i = j

    @staticmethod
    def _joins(seg: str, c: str) -> bool:
        if unicodedata.combining(c):
            return True
        if c.isascii() or unicodedata.is_normalized("NFC", seg + c):
            return False
        # a starter that composes with what precedes it (Hangul jamo, some Indic vowel signs)
        return unicodedata.normalize("NFC", seg + c) != (
            unicodedata.normalize("NFC", seg) + unicodedata.normalize("NFC", c))

    def _clean(self, start: int, end: int) -> list[tuple[str, int, int]]:
        """Rules 1-3: the kept characters of text[start:end], each with its original span."""
        text, kept = self.original, []
        i = start
        while i < end:
            c = text[i]
            if _is_emoji(c):
                j = i + 1
                while j < end and (_is_emoji(text[j]) or _decorates_emoji(text[j])):
                    j += 1
                kept.append((" ", i, j))
                i = j
                continue
            if not _is_invisible(c):
                kept.append((" " if c != " " and unicodedata.category(c) == "Zs" else c, i, i + 1))
            i += 1
        return kept

    def result(self) -> NormalizedText:
        return NormalizedText("".join(self.parts), self.original, self.piece_starts, self.orig_starts,
                              self.orig_ends, self.linear)
