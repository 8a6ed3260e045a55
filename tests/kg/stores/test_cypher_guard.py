"""The guard on users' read-only Cypher: the tokenizer, the LOAD CSV refusal, the nesting limit,
and the guard in FalkorDBStore.query on a real embedded server."""

from __future__ import annotations

import re

import pytest

from kg.errors import QueryRefused, StoreError
from kg.stores.cypher_guard import MAX_NESTING, MAX_QUERY_CHARS, check_read_only_query, tokenize


def kinds_and_texts(cypher: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(cypher)]


# ------------------------------------------------------------------ tokenizer

def test_tokenizer_reads_strings_with_escaped_quotes():
    assert kinds_and_texts(r"RETURN 'it\'s', " + r'"say \"hi\"", ' + r"'back\\'") == [
        ("word", "RETURN"), ("string", "it's"), ("punct", ","), ("string", 'say "hi"'), ("punct", ","),
        ("string", "back\\"),
    ]


def test_tokenizer_keeps_quotes_of_the_other_kind_and_comment_marks_inside_strings():
    assert kinds_and_texts("""RETURN "it's // not /* a comment" """) == [
        ("word", "RETURN"), ("string", "it's // not /* a comment")]


def test_tokenizer_reads_backtick_names_with_escaped_backticks():
    assert kinds_and_texts("MATCH (n:`my label`) RETURN n.`we``ird`") == [
        ("word", "MATCH"), ("punct", "("), ("word", "n"), ("punct", ":"), ("name", "my label"), ("punct", ")"),
        ("word", "RETURN"), ("word", "n"), ("punct", "."), ("name", "we`ird"),
    ]


def test_tokenizer_drops_both_comment_kinds():
    assert kinds_and_texts("RETURN /* a\nblock */ 1 // to the end of the line\n AS x") == [
        ("word", "RETURN"), ("number", "1"), ("word", "AS"), ("word", "x")]
    assert kinds_and_texts("RETURN 1 // the last line has no newline") == [("word", "RETURN"), ("number", "1")]


def test_tokenizer_reads_numbers_and_ranges():
    assert kinds_and_texts("RETURN 0x1F, 1e-3, 2.5E+10, 7") == [
        ("word", "RETURN"), ("number", "0x1F"), ("punct", ","), ("number", "1e-3"), ("punct", ","),
        ("number", "2.5E+10"), ("punct", ","), ("number", "7")]
    assert kinds_and_texts("[*1..3]") == [
        ("punct", "["), ("punct", "*"), ("number", "1"), ("punct", ".."), ("number", "3"), ("punct", "]")]


def test_tokenizer_reads_operators():
    assert [t.text for t in tokenize("a<>b<=c>=d=~e")] == ["a", "<>", "b", "<=", "c", ">=", "d", "=~", "e"]
    # minus signs are always single tokens: `--1` is two unary minus signs to the parser
    assert [t.text for t in tokenize("(a)-->(b)")] == ["(", "a", ")", "-", "-", ">", "(", "b", ")"]


@pytest.mark.parametrize("cypher, what", [
    ("RETURN 'no end", "unterminated string"),
    ('RETURN "no end\\"', "unterminated string"),
    ("RETURN 'ends in a backslash\\", "unterminated string"),
    ("MATCH (n:`no end) RETURN n", "unterminated `quoted name`"),
    ("RETURN 1 /* no end", "unterminated /* comment"),
])
def test_tokenizer_refuses_unterminated_strings_names_and_comments(cypher, what):
    with pytest.raises(QueryRefused, match=re.escape(what)) as e:
        tokenize(cypher)
    assert "malformed" in str(e.value) and "line 1, column" in str(e.value)


def test_refusals_say_where_on_a_later_line():
    with pytest.raises(QueryRefused, match="line 2, column 8"):
        check_read_only_query("MATCH (n)\nRETURN 'oops")


# ------------------------------------------------------------------ LOAD CSV

@pytest.mark.parametrize("cypher", [
    "LOAD CSV FROM 'https://example.com/x.csv' AS r RETURN r",
    "LOAD/**/CSV FROM 'https://example.com/x.csv' AS r RETURN r",
    "LOAD//x\nCSV FROM 'https://example.com/x.csv' AS r RETURN r",
    "load  /* a */ /* b */ csv FROM 'https://example.com/x.csv' AS r RETURN r",
    "LOAD\tCSV FROM 'https://example.com/x.csv' AS r RETURN r",
    "LoAd\r\n  cSv WITH HEADERS FROM 'file:///etc/passwd' AS r RETURN r",
    "MATCH (n) WITH n LOAD CSV FROM n.url AS r RETURN r",
])
def test_load_csv_is_refused_whatever_separates_the_words(cypher):
    with pytest.raises(QueryRefused, match="LOAD CSV is not allowed in read-only queries"):
        check_read_only_query(cypher)


@pytest.mark.parametrize("cypher", [
    "RETURN 'LOAD CSV' AS x",
    'RETURN "LOAD CSV FROM \'https://example.com\'" AS x',
    "MATCH (n:`LOAD`) RETURN n",
    "MATCH (n:`LOAD CSV`) RETURN n",
    "MATCH (n) RETURN n.loaded, n.csv",
    "MATCH (n) RETURN n.load AS load  // LOAD CSV in a comment\n",
    "RETURN 1 /* LOAD CSV */ AS x",
    "MATCH (load) RETURN load",
])
def test_harmless_look_alikes_of_load_csv_are_allowed(cypher):
    check_read_only_query(cypher)


# ------------------------------------------------------------------ length

def test_a_query_over_the_length_limit_is_refused_with_the_setting_named():
    long = "RETURN 1 AS x" + " " * MAX_QUERY_CHARS
    with pytest.raises(QueryRefused, match=r"20,013 characters long.*limit of 20,000.*KG_QUERY_MAX_CHARS"):
        check_read_only_query(long)
    check_read_only_query(long[:MAX_QUERY_CHARS])
    with pytest.raises(QueryRefused, match="limit of 10"):
        check_read_only_query("RETURN 1 AS x", max_chars=10)


# ------------------------------------------------------------------ nesting

def nested(construct: str, depth: int) -> str:
    inner = {
        "parentheses": lambda d: "(" * d + "1" + ")" * d,
        "lists": lambda d: "[" * d + "1" + "]" * d,
        "maps": lambda d: "{a: " * d + "1" + "}" * d,
        "unary minus": lambda d: "- " * d + "1",
        "unary minus unspaced": lambda d: "-" * d + "1",
        "unary plus": lambda d: "+ " * d + "1",
        "NOT": lambda d: "NOT " * d + "true",
        "CASE": lambda d: "CASE WHEN true THEN " * d + "1" + " END" * d,
        "function calls": lambda d: "abs(" * d + "1" + ")" * d,
    }[construct](depth)
    return f"RETURN {inner} AS x"


CONSTRUCTS = ["parentheses", "lists", "maps", "unary minus", "unary minus unspaced", "unary plus", "NOT",
              "CASE", "function calls"]


def test_the_issue_query_is_refused():
    cypher = "RETURN " + "(" * 22 + "1" + ")" * 22 + " AS x"
    with pytest.raises(QueryRefused, match=r"nested 13 deep.*limit of 12.*KG_QUERY_MAX_DEPTH") as e:
        check_read_only_query(cypher)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("construct", CONSTRUCTS)
def test_each_nesting_construct_counts(construct):
    with pytest.raises(QueryRefused, match="nested 13 deep"):
        check_read_only_query(nested(construct, 13))
    with pytest.raises(QueryRefused, match="nested 13 deep"):
        check_read_only_query(nested(construct, 30))
    check_read_only_query(nested(construct, MAX_NESTING))
    check_read_only_query(nested(construct, 6))


@pytest.mark.parametrize("construct", CONSTRUCTS)
def test_the_depth_limit_is_a_keyword_argument(construct):
    check_read_only_query(nested(construct, 13), max_depth=13)
    with pytest.raises(QueryRefused, match="nested 4 deep.*limit of 3"):
        check_read_only_query(nested(construct, 4), max_depth=3)


@pytest.mark.parametrize("inner", [
    "-(" * 7 + "1" + ")" * 7,  # a minus and a bracket per level: 14
    "- abs(" * 7 + "1" + ")" * 7,  # the call's word does not stand in for the minus's operand
    "NOT (" * 7 + "true" + ")" * 7,
    "[{a: (" * 5 + "1" + ")}]" * 5,
    "- CASE WHEN true THEN " * 7 + "1" + " END" * 7,
])
def test_mixed_constructs_add_up(inner):
    with pytest.raises(QueryRefused, match="nested 1[34] deep"):
        check_read_only_query(f"RETURN {inner} AS x")


@pytest.mark.parametrize("cypher", [
    "RETURN " + " AND ".join(["NOT a"] * 40),
    "RETURN " + " + ".join(["-1"] * 40),
    "RETURN " + " - ".join(["-(1)"] * 40),
    "RETURN " + "+".join(["1"] * 160),
    "RETURN " + ", ".join(["((((((1))))))"] * 50),  # many nests side by side, each 6 deep
    "RETURN 1" + " - 1" * 40,
])
def test_sequential_uses_do_not_accumulate(cypher):
    check_read_only_query(cypher)


def test_a_binary_minus_after_an_operand_is_not_counted():
    # after `x`, `)` and END a minus is binary: twelve brackets and nothing else is allowed
    check_read_only_query("RETURN " + "(" * 11 + "x - 1" + ")" * 11 + " - (2) AS y")
    check_read_only_query("RETURN " + "(" * 11 + "(x) - 1" + ")" * 11 + " AS y")
    check_read_only_query("RETURN " + "(" * 11 + "CASE WHEN a THEN 1 END - 1" + ")" * 11 + " AS y")
    with pytest.raises(QueryRefused, match="nested 13 deep"):
        check_read_only_query("RETURN " + "(" * 12 + "- 1" + ")" * 12 + " AS y")


def test_keywords_used_as_names_do_not_open_or_close_frames():
    # a property or map key called end/case is a name, not the CASE keyword
    cypher = "RETURN " + "(" * 11 + "{end: n.end, case: n.case}" + ")" * 11 + " AS y"
    check_read_only_query(cypher)
    # n.end closes no CASE frame: the CASE below is still open at the inner bracket
    with pytest.raises(QueryRefused, match="nested 13 deep"):
        check_read_only_query("RETURN CASE WHEN n.end THEN " + "(" * 12 + "1" + ")" * 12 + " END AS y")


@pytest.mark.parametrize("cypher, message", [
    ("RETURN (1]", "a `]` where `)` was expected at line 1, column 10"),
    ("RETURN 1)", "a `)` that closes no open bracket"),
    ("RETURN [(1])", "a `]` where `)` was expected"),
])
def test_mismatched_brackets_are_refused(cypher, message):
    with pytest.raises(QueryRefused, match=re.escape(message)):
        check_read_only_query(cypher)


def test_brackets_comments_and_strings_hold_no_nesting():
    check_read_only_query("RETURN '" + "(" * 30 + "' AS x // " + "[" * 30 + "\n /* " + "{" * 30 + " */")
    check_read_only_query("MATCH (n:`" + "(" * 30 + "`) RETURN n")


ANALYST_QUERIES = [
    """MATCH (h:Entity)-[r]->(t:Entity)
       RETURN h.name AS head, type(r) AS relation, t.name AS tail, r.confidence AS confidence
       ORDER BY confidence DESC, head LIMIT 10""",
    """MATCH (a:Entity {type: 'Person'})-[:WORKS_FOR]->(o:Entity)
       WHERE NOT (a.x = 1 OR a.y = 2) AND o.name STARTS WITH 'A'
       RETURN o.name, count(DISTINCT a) AS people ORDER BY people DESC SKIP 0 LIMIT 20""",
    """MATCH (a:Entity)
       WITH a, size([(a)-->(b) | b]) AS out_degree, size([(a)<--(b) | b]) AS in_degree
       WHERE out_degree + in_degree > 2
       RETURN a.name, [x IN a.aliases WHERE x <> a.name | toLower(x)] AS aliases, out_degree""",
    """MATCH (c:Chunk)-[m:MENTIONS]->(e:Entity)
       RETURN e.name,
              CASE WHEN e.mentions > 10 THEN 'many' WHEN e.mentions > 1 THEN 'some' ELSE 'one' END AS how_often,
              CASE e.type WHEN 'Person' THEN -1 WHEN 'Org' THEN +1 ELSE 0 END AS sign,
              {name: e.name, span: [m.start, m.end]} AS info""",
    """MATCH p = (a:Entity {id: $id})-[*1..3]-(b:Entity)
       WHERE all(n IN nodes(p) WHERE n.mentions > 0) AND NOT exists((b)-[:SAME_AS]->())
       RETURN [n IN nodes(p) | n.name] AS names, length(p) AS hops
       ORDER BY hops LIMIT 5""",
    """UNWIND $ids AS id
       MATCH (e:Entity {id: id})
       OPTIONAL MATCH (e)-[r]-(o:Entity)
       RETURN id, collect(DISTINCT {type: type(r), other: coalesce(o.name, '-')})[0..5] AS neighbours,
              round(avg(coalesce(r.confidence, 0.0)) * 100) / 100.0 AS mean_confidence""",
]


@pytest.mark.parametrize("cypher", ANALYST_QUERIES)
def test_realistic_analyst_queries_are_allowed(cypher):
    check_read_only_query(cypher)


# ------------------------------------------------------------------ in the store

def test_store_refuses_load_csv_bypasses_before_the_server_sees_them(store):
    for cypher in ["LOAD/**/CSV FROM 'https://example.com/x.csv' AS r RETURN r",
                   "LOAD//x\nCSV FROM 'https://example.com/x.csv' AS r RETURN r"]:
        with pytest.raises(QueryRefused, match="LOAD CSV is not allowed"):
            store.query(cypher)


def test_store_refuses_the_deeply_nested_query(store):
    with pytest.raises(QueryRefused, match="KG_QUERY_MAX_DEPTH"):
        store.query("RETURN " + "(" * 22 + "1" + ")" * 22 + " AS x")


def test_store_still_answers_allowed_queries(store):
    assert store.query("RETURN 'LOAD CSV' AS x") == [{"x": "LOAD CSV"}]
    assert store.query("RETURN " + "(" * 12 + "1" + ")" * 12 + " AS x") == [{"x": 1}]
    assert store.query("RETURN - - - 1 AS x, NOT NOT true AS y // LOAD CSV\n") == [{"x": -1, "y": True}]
    assert store.query("RETURN $s AS s", {"s": "LOAD CSV FROM 'x'"}) == [{"s": "LOAD CSV FROM 'x'"}]


def test_internal_writes_are_not_subject_to_the_guard(store):
    # read_only=False is the store's own callers, not users: no LOAD CSV check, no depth limit
    deep = "(" * 14 + "1" + ")" * 14
    assert store.query(f"CREATE (n:Probe {{v: {deep}, note: 'x'}}) RETURN n.v AS v", read_only=False) == [{"v": 1}]
    with pytest.raises(StoreError) as e:  # the server tries to open the file: it was sent
        store.query("LOAD CSV FROM 'file:///nonexistent/kg-guard-test.csv' AS r RETURN r", read_only=False)
    assert not isinstance(e.value, QueryRefused) and "nonexistent" in str(e.value)


def test_many_deep_nests_side_by_side_are_refused():
    nest = "(" * 12 + "1" + ")" * 12
    check_read_only_query("RETURN " + " + ".join([nest] * 4))  # a few are fine
    with pytest.raises(QueryRefused, match="side by side"):
        check_read_only_query("RETURN " + " + ".join([nest] * 200))
    shallow = "(" * 5 + "1" + ")" * 5
    check_read_only_query("RETURN " + " + ".join([shallow] * 500))  # shallow nests cost nothing
