"""A guard for user-supplied read-only Cypher, checked before the query reaches the server.

Analysts send arbitrary read-only Cypher (`kg query`, POST /query). Two things are refused here:

* LOAD CSV. It is a read to the server, but it makes the server open files and URLs
  (server-side request forgery). A regex on the raw text is defeated by comments
  (`LOAD/**/CSV`, `LOAD//x` + newline + `CSV`), so the query is tokenized and the refusal is
  "the word LOAD followed by the word CSV", with comments and whitespace dropped. Words inside
  strings and backtick-quoted names are data: `RETURN 'LOAD CSV' AS x` is allowed.

* Deep nesting. FalkorDB's Cypher parser takes time exponential in expression nesting depth,
  and the query timeout does not cover parsing. Measured with FalkorDB 4.16, `RETURN ((((1))))`
  at depth 12 takes 0.008 s, 16 takes 0.12 s, 22 takes 8 s (each level doubles), and a 2 KB
  query pinned a CPU for over 7 minutes. Nested lists, maps, CASE and chains of unary minus or
  NOT double the same way; a long flat expression (`1+1+...`, 160 terms) stays fast.

The nesting score, kept deliberately simple:

* a frame opens at each `(`, `[`, `{` and at each CASE keyword; it closes at the matching
  bracket or END;
* each frame also holds a count of prefix operators (NOT, unary `-`, unary `+`) still waiting
  for their operand. A `-`/`+` is unary when the token before it is not an operand (a number,
  string, backtick name, closing bracket, END, or a word that is not one of EXPRESSION_KEYWORDS);
* an operand (one not directly followed by an opening bracket, so that `- f(...)` waits for the
  `)`) resolves the pending prefix operators of its frame; a frame that closes is an operand for
  the frame around it. So `NOT a AND NOT b` and `-1 + -2` never accumulate, while
  `- - - 1` and `- (- (- 1))` do;
* score = open frames + pending prefix operators over all open frames. A query is refused as soon
  as the score exceeds the limit (12 by default, where the parser takes about 10 ms);
* nests side by side cost one after the other (200 of depth 12 in a 4,800-character query took
  1.5 s), so each opening past depth 6 adds 2^(depth - 6) to a work budget worth 8 nests at the
  depth limit (about 80 ms of parsing), and a query over budget is refused too.

Whether a word is a keyword is decided from the text around it only: a word after `.` or `$`
(a property or parameter name) or before `:` (a map key) is a plain name. The score may be off by
one where a keyword is used as a variable name; chains cannot hide behind that, since every
operator after the first one in a chain follows an operator.

A closing bracket that does not match the innermost open bracket is refused as malformed (it would
otherwise let frames be closed here that the parser still has open); CASE frames left open by
a bracket (a label spelt `CASE`, or a missing END) are closed with it. Unclosed brackets at the end
are left for the server to report.
"""

from __future__ import annotations

from dataclasses import dataclass

from kg.errors import QueryRefused

MAX_QUERY_CHARS = 20_000
MAX_NESTING = 12
CHEAP_DEPTH = 6  # nesting up to here costs the parser well under a millisecond
WORK_NESTS = 8  # side-by-side nests at the full depth limit allowed in one query (~10 ms each)

# After these words an expression starts, so a following `-`/`+` is unary.
EXPRESSION_KEYWORDS = frozenset({
    "RETURN", "WITH", "WHERE", "AND", "OR", "XOR", "NOT", "CASE", "WHEN", "THEN", "ELSE",
    "IN", "CONTAINS", "STARTS", "ENDS", "DISTINCT", "UNWIND", "SKIP", "LIMIT", "BY", "SET",
    "DELETE", "YIELD", "AS",
})

_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {")": "(", "]": "[", "}": "{"}
# Operators of two characters are one token. `-` and `+` are always tokens of their own, so
# `--1` is two unary minus signs (as the parser sees it) and the `-` of an arrow `<-` is unary.
_MULTI_PUNCT = ("..", "<>", "<=", ">=", "=~")


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "number", "string", "name" (backtick-quoted), "punct"
    text: str  # for "string" and "name", the decoded value; otherwise the source text
    start: int  # offset in the query


def _where(cypher: str, offset: int) -> str:
    line = cypher.count("\n", 0, offset) + 1
    column = offset - (cypher.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def _refuse_malformed(cypher: str, what: str, offset: int) -> QueryRefused:
    return QueryRefused(f"query refused: {what} starting at {_where(cypher, offset)}; the query is malformed")


def tokenize(cypher: str) -> list[Token]:
    """Cypher as tokens, comments and whitespace dropped. Raises QueryRefused on an unterminated
    string, backtick name or block comment."""
    tokens: list[Token] = []
    i, n = 0, len(cypher)
    while i < n:
        c = cypher[i]
        if c.isspace():
            i += 1
        elif cypher.startswith("//", i):
            end = cypher.find("\n", i)
            i = n if end < 0 else end + 1
        elif cypher.startswith("/*", i):
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise _refuse_malformed(cypher, "an unterminated /* comment", i)
            i = end + 2
        elif c in "'\"":
            value, i_next = _read_string(cypher, i)
            tokens.append(Token("string", value, i))
            i = i_next
        elif c == "`":
            value, i_next = _read_backtick_name(cypher, i)
            tokens.append(Token("name", value, i))
            i = i_next
        elif c.isdigit():
            j = _number_end(cypher, i)
            tokens.append(Token("number", cypher[i:j], i))
            i = j
        elif c.isalpha() or c == "_":
            j = i + 1
            while j < n and (cypher[j].isalnum() or cypher[j] == "_"):
                j += 1
            tokens.append(Token("word", cypher[i:j], i))
            i = j
        else:
            op = next((p for p in _MULTI_PUNCT if cypher.startswith(p, i)), c)
            tokens.append(Token("punct", op, i))
            i += len(op)
    return tokens


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}


def _read_string(cypher: str, start: int) -> tuple[str, int]:
    quote, i, parts = cypher[start], start + 1, []
    while i < len(cypher):
        c = cypher[i]
        if c == "\\":
            if i + 1 >= len(cypher):
                break
            # other escapes (\u0041) are kept as written: here only where the string ends matters
            parts.append(_ESCAPES.get(cypher[i + 1], cypher[i:i + 2]))
            i += 2
        elif c == quote:
            return "".join(parts), i + 1
        else:
            parts.append(c)
            i += 1
    raise _refuse_malformed(cypher, "an unterminated string", start)


def _read_backtick_name(cypher: str, start: int) -> tuple[str, int]:
    i, parts = start + 1, []
    while i < len(cypher):
        if cypher[i] == "`":
            if cypher.startswith("``", i):  # an escaped backtick inside the name
                parts.append("`")
                i += 2
                continue
            return "".join(parts), i + 1
        parts.append(cypher[i])
        i += 1
    raise _refuse_malformed(cypher, "an unterminated `quoted name`", start)


def _number_end(cypher: str, i: int) -> int:
    """End of a number literal: 12, 0x1F, 1.5, 1e-3, 2.5E+10. `1..3` (a range) is 1, `..`, 3."""
    n = len(cypher)
    j = i + 1
    while j < n and (cypher[j].isalnum() or cypher[j] == "_"):
        if cypher[j] in "eE" and j + 1 < n and cypher[j + 1] in "+-" and cypher[i:j].isdigit():
            j += 1  # exponent sign
        j += 1
    if j + 1 < n and cypher[j] == "." and cypher[j + 1].isdigit():
        j += 1
        while j < n and (cypher[j].isalnum() or cypher[j] == "_"):
            if cypher[j] in "eE" and j + 1 < n and cypher[j + 1] in "+-":
                j += 1
            j += 1
    return j


def _is_name(tokens: list[Token], k: int) -> bool:
    """A word used as a name, never a keyword: a property (`n.end`), a parameter (`$limit`) or a
    map key (`{case: 1}`)."""
    before = tokens[k - 1].text if k > 0 and tokens[k - 1].kind == "punct" else ""
    after = tokens[k + 1].text if k + 1 < len(tokens) and tokens[k + 1].kind == "punct" else ""
    return before in (".", "$") or after == ":"


def check_read_only_query(cypher: str, *, max_chars: int = MAX_QUERY_CHARS, max_depth: int = MAX_NESTING) -> None:
    """Raise QueryRefused (one line: what and why) unless cypher is fit to send to the server as a
    user's read-only query. See the module docstring for the rules."""
    if len(cypher) > max_chars:
        raise QueryRefused(f"query refused: it is {len(cypher):,} characters long, more than the limit of "
                           f"{max_chars:,} (setting KG_QUERY_MAX_CHARS)")
    tokens = tokenize(cypher)
    # stack[0] is the query itself; each entry is [opener ("(", "[", "{", "CASE"), pending prefix ops]
    stack: list[list] = [["", 0]]
    pending_total = 0
    previous_is_operand = False
    # nests side by side cost one after the other: budget about WORK_NESTS nests at the depth limit
    parse_work, work_limit = 0, WORK_NESTS * 2 ** max(0, max_depth - CHEAP_DEPTH)

    def resolve_pending(k: int) -> None:
        nonlocal pending_total
        following = tokens[k + 1].text if k + 1 < len(tokens) else ""
        if following not in _OPENERS:  # `f(`, `n[`, `exists {`: the closing bracket is the operand
            pending_total -= stack[-1][1]
            stack[-1][1] = 0

    def close_frame() -> None:
        nonlocal pending_total
        pending_total -= stack.pop()[1]

    for k, tok in enumerate(tokens):
        if tok.kind == "word" and tok.text.upper() == "LOAD" and k + 1 < len(tokens) \
                and tokens[k + 1].kind == "word" and tokens[k + 1].text.upper() == "CSV":
            raise QueryRefused("query refused: LOAD CSV is not allowed in read-only queries "
                               "(it makes the database server read files and URLs)")
        upper = tok.text.upper() if tok.kind == "word" and not _is_name(tokens, k) else ""
        opens = tok.kind == "punct" and tok.text in _OPENERS or upper == "CASE"
        prefix_op = upper == "NOT" or (tok.kind == "punct" and tok.text in "-+" and not previous_is_operand)

        if opens:
            stack.append([upper or tok.text, 0])
            previous_is_operand = False
        elif prefix_op:
            stack[-1][1] += 1
            pending_total += 1
            previous_is_operand = False
        elif tok.kind == "punct" and tok.text in _CLOSERS:
            while stack[-1][0] == "CASE":  # a CASE without END, or a label spelt CASE
                close_frame()
            if stack[-1][0] != _CLOSERS[tok.text]:
                open_bracket = stack[-1][0]
                what = f"`{tok.text}` that closes no open bracket" if not open_bracket else \
                    f"`{tok.text}` where `{_OPENERS[open_bracket]}` was expected"
                raise QueryRefused(f"query refused: a {what} at {_where(cypher, tok.start)}; the query is malformed")
            close_frame()
            resolve_pending(k)
            previous_is_operand = True
        elif upper == "END" and stack[-1][0] == "CASE":
            close_frame()
            resolve_pending(k)
            previous_is_operand = True
        elif tok.kind == "punct":
            previous_is_operand = False
        elif upper in EXPRESSION_KEYWORDS:
            previous_is_operand = False
        else:  # a number, string, backtick name, or a word that is a name or a non-expression keyword
            resolve_pending(k)
            previous_is_operand = True

        depth = len(stack) - 1 + pending_total
        if (opens or prefix_op) and depth > CHEAP_DEPTH:
            parse_work += 2 ** (depth - CHEAP_DEPTH)
            if parse_work > work_limit:
                raise QueryRefused(f"query refused: too many deeply nested expressions side by side (the "
                                   f"nesting limit is {max_depth}, setting KG_QUERY_MAX_DEPTH); the database's "
                                   "parser slows down exponentially with nesting: split the query")
        if depth > max_depth:
            raise QueryRefused(f"query refused: expressions nested {depth} deep at {_where(cypher, tok.start)}, "
                               f"more than the limit of {max_depth} (setting KG_QUERY_MAX_DEPTH); "
                               "the database's parser slows down exponentially with nesting")
