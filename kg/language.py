"""A cheap, deterministic check that a text is English, the only language the models know.

Two signals, no dependencies:
- script: when more than half of the letters (and at least MIN_LETTERS of them)
  are not Latin, the most common script is named (from the first word of the
  letters' Unicode names: CYRILLIC, GREEK, ARABIC, CJK, ...);
- function words, for Latin-script text of at least MIN_WORDS words: it is
  flagged when at least MIN_OTHER_WORD_SHARE of its words are very common words
  of other languages ("der", "les", "que", "och", ...) and that share is over
  twice the share of common English ones ("the", "of", "and", ...).
  A low English share alone is no evidence: English tables and lists (infoboxes,
  squads, results) have next to no function words either. Measured: English
  prose has 0.2-0.6 English function words and under 0.06 of the others; in
  the English corpora (samples/, MuSiQue, Re-DocRED, CoNLL04, CoNLL-2003,
  WebNLG; 32,000 texts) one passes the rule: a CoNLL-2003 line of golf scores
  with Afrikaans names ("Schalk van der Merwe", 0.11 others, no English).
  German, French, Spanish, Italian, Portuguese, Dutch, Swedish, Polish,
  Finnish, Turkish and Indonesian passages have 0.14-0.41 others against
  0-0.11 English.
Short texts are flagged only for a non-Latin script.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

MIN_LETTERS = 20
MIN_WORDS = 12
MIN_OTHER_WORD_SHARE = 0.10

ENGLISH_FUNCTION_WORDS = frozenset(
    "the of and in to a an is was are were be been has have had for on at by with from as "
    "that this which who it its he she his her they their not but or".split()
)
# Very common words of other Latin-script languages (French, German, Spanish, Portuguese, Italian,
# Dutch, Scandinavian, Polish, Czech/Slovak, Croatian/Slovene, Romanian, Catalan, Turkish,
# Indonesian/Malay, Vietnamese, Finnish, Hungarian). Left out: English homographs ("in", "is",
# "to", "as", "do", "no", "war") and single letters, which initials and "e.g." make up in English.
OTHER_FUNCTION_WORDS = frozenset(
    "le la les des du de et est une un dans pour par sur qui que pas avec sont au aux il elle ce cette ont été "
    "der die das und ist nicht mit von den dem ein eine einen zu auf für sich wurde sind im auch es er sie dass "
    "bei nach aus "
    "el los las del en por con para se su sus al lo como fue más pero "
    "os da do dos das em um uma não com são foi na "
    "di della che è sono nel alla dei gli per "
    "het een dat op te niet zijn voor werd ook aan maar naar "
    "och att det som är av för på med til og ikke har var "
    "się nie jest że jak po od przez oraz jego jej ich który była był został została gdzie także roku "
    "je ve jako jsou byl byla pro také která sa ako "
    "za su koji kao ali bio "
    "și în cu pe este care din pentru nu să "
    "els amb és va "
    "ve bir bu için ile olarak çok olan daha gibi "
    "yang dan di ini itu dengan untuk dari dalam tidak adalah pada ke akan oleh "
    "của và là các những được trong có một cho không người này với đã "
    "ja oli että ei hän mutta kun joka ovat myös tai "
    "az és hogy egy meg van volt ez csak már mint".split()
) - ENGLISH_FUNCTION_WORDS
# Unicode name prefixes that are not the script's usual English name
_SCRIPT_NAMES = {"CJK": "CJK (Chinese/Japanese)", "HIRAGANA": "Japanese kana", "KATAKANA": "Japanese kana",
                 "HANGUL": "Hangul (Korean)"}
_WORD = re.compile(r"[^\W\d_]+")
_UNRELIABLE = "the models support English only, so entities and relations will be unreliable"


def _script(letter: str) -> str:
    words = unicodedata.name(letter, "UNKNOWN").split()
    if words[0] in ("FULLWIDTH", "HALFWIDTH") and len(words) > 1:
        words = words[1:]
    return _SCRIPT_NAMES.get(words[0], words[0].title())


def language_warning(text: str) -> str | None:
    """A one-line warning when `text` does not look like English, else None."""
    scripts: Counter[str] = Counter()
    for c, n in Counter(text).items():  # distinct characters only: cheap on long texts
        if c.isalpha():
            scripts["Latin" if c.isascii() else _script(c)] += n
    letters = sum(scripts.values())
    if letters < MIN_LETTERS:
        return None
    if scripts["Latin"] < letters / 2:
        # the most common non-Latin script; ties go to the name first in the alphabet, for determinism
        script = min((s for s in scripts if s != "Latin"), key=lambda s: (-scripts[s], s))
        return f"most letters are in {script} script: {_UNRELIABLE}"
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return None
    english = sum(w in ENGLISH_FUNCTION_WORDS for w in words) / len(words)
    other = sum(w in OTHER_FUNCTION_WORDS for w in words) / len(words)
    if other >= MIN_OTHER_WORD_SHARE and other > 2 * english:
        return (f"the text does not look like English ({english:.0%} of its words are common English words, "
                f"{other:.0%} common words of other languages): {_UNRELIABLE}")
    return None
