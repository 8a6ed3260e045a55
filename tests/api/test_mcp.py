"""The MCP server (api/mcp.py) driven by the official SDK's own clients: over stdio, launching
`.venv/bin/kg mcp` on a data dir holding a few ingested documents, and over streamable HTTP,
mounted in a small FastAPI app exactly as api/main.py mounts it, under a real uvicorn."""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest
import uvicorn
from fastapi import FastAPI
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from api.mcp import MAX_QUESTION_CHARS, Backend, http_app
from kg.config import REPO_ROOT, Settings
from kg.documents import make_document

KG = REPO_ROOT / ".venv" / "bin" / "kg"
KEY = "mcp-test-key-7c1e"
READ_TOOLS = {"retrieve", "cypher", "get_entity", "neighbourhood", "search_entities"}
WRITE_TOOLS = {"add_documents", "delete_document"}
DOCS = {
    "news/1": "Tim Cook works for Apple in Cupertino. Apple Inc. is based in Cupertino, California. "
              "Cook joined Apple in 1998.",
    "news/2": "Angela Merkel lives in Berlin. Merkel was educated at Leipzig University.",
    "news/3": "Satya Nadella works for Microsoft. Microsoft is based in Redmond.",
}
NEW_DOC = ("mcp/new", "Marisol Quintero founded Zorbleflax Industries in Reykjavik. "
                      "Zorbleflax Industries is based in Reykjavik, Iceland.")
NEW_QUESTION = "Who founded Zorbleflax Industries?"


def _settings(data_dir: Path, **kw) -> Settings:
    return Settings(data_dir=data_dir, **kw)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A data dir with DOCS ingested by the real pipeline; the store is closed again (so its
    server stops), and the pipeline's models are kept for the HTTP app."""
    from kg.pipeline import Pipeline
    from kg.stores.factory import open_store

    data_dir = tmp_path_factory.mktemp("mcp") / "data"
    settings = _settings(data_dir)
    with open_store(settings) as store:
        pipeline = Pipeline.from_settings(settings, store)
        report = pipeline.ingest([make_document(t, id=i, title=f"Story {i}") for i, t in DOCS.items()], progress=False)
        assert report.ingested == len(DOCS)
        # an ingested entity to look for, read from the store (not assumed)
        row = store.query("MATCH (e:Entity)-[:MENTIONED_IN]->(:Chunk) WITH e, count(*) AS n "
                          "RETURN e.id AS id, e.name AS name ORDER BY n DESC, e.id LIMIT 1")[0]
    pipeline.store = None
    return {"data_dir": data_dir, "pipeline": pipeline, "entity_id": row["id"], "entity_name": row["name"]}


def _embedded_server_running(data_dir: Path) -> bool:
    from kg.stores.falkordb.server import FalkorDBServer

    return FalkorDBServer(data_dir).is_running()


def _text(result) -> str:
    return "".join(c.text for c in result.content if c.type == "text")


async def _stdio_session(data_dir: Path, env: dict[str, str], work, errlog_path: Path):
    """Launch `kg mcp`, initialize, run `work(session)`, disconnect; return what work returned."""
    params = StdioServerParameters(command=str(KG), args=["mcp"], cwd=str(data_dir.parent),
                                   env={"KG_DATA_DIR": str(data_dir), **env})
    with errlog_path.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)


def _run_stdio(corpus, tmp_path, env, work):
    errlog = tmp_path / "kg-mcp.stderr"
    try:
        return anyio.run(_stdio_session, corpus["data_dir"], env, work, errlog)
    except BaseException:
        print(errlog.read_text() if errlog.exists() else "(no stderr)")
        raise


# ---------------------------------------------------------------------------- stdio, read tools


@pytest.fixture(scope="module")
def read_session(corpus, tmp_path_factory):
    """One stdio session with KG_API_KEY configured but not given: the tool list, then each read
    tool called with good and bad input. Tests below check the answers."""
    name, eid = corpus["entity_name"], corpus["entity_id"]

    async def work(session: ClientSession) -> dict:
        out = {"tools": (await session.list_tools()).tools}
        call = session.call_tool
        out["retrieve"] = await call("retrieve", {"question": "Where is Apple based?", "k": 3})
        out["retrieve_long"] = await call("retrieve", {"question": "why " * MAX_QUESTION_CHARS})
        out["retrieve_blank"] = await call("retrieve", {"question": "   "})
        out["cypher"] = await call("cypher", {"query": "MATCH (d:Document) RETURN d.id AS id ORDER BY id"})
        out["cypher_params"] = await call("cypher", {"query": "MATCH (d:Document {id: $id}) RETURN d.title AS t",
                                                     "params": {"id": "news/2"}})
        out["cypher_rows"] = await call("cypher", {"query": "UNWIND range(1, 10) AS i RETURN i", "max_rows": 3})
        out["cypher_write"] = await call("cypher", {"query": "CREATE (:Entity {id: 'x', name: 'Intruder'})"})
        out["cypher_bad"] = await call("cypher", {"query": "MATCH (n RETURN n"})
        out["cypher_after"] = await call("cypher", {"query": "MATCH (e:Entity {name: 'Intruder'}) RETURN count(e) AS n"})
        out["search"] = await call("search_entities", {"query": name})
        out["get_entity"] = await call("get_entity", {"entity_id": eid})
        out["get_unknown"] = await call("get_entity", {"entity_id": "no-such-entity"})
        out["neighbourhood"] = await call("neighbourhood", {"entity_id": eid, "depth": 2})
        out["neighbourhood_unknown"] = await call("neighbourhood", {"entity_id": "no-such-entity"})
        out["neighbourhood_deep"] = await call("neighbourhood", {"entity_id": eid, "depth": 99})
        out["unknown_argument"] = await call("search_entities", {"query": "Apple", "colour": "red"})
        out["add_without_key"] = await call("add_documents", {"documents": [{"text": "Bob works for Acme."}]})
        out["no_such_tool"] = await call("drop_everything", {})
        out["server_running_during"] = _embedded_server_running(corpus["data_dir"])
        return out

    out = _run_stdio(corpus, tmp_path_factory.mktemp("read"), {"KG_API_KEY": KEY}, work)
    out["server_running_after"] = _embedded_server_running(corpus["data_dir"])
    return out


def test_without_the_key_only_the_read_tools_are_listed(read_session):
    tools = {t.name: t for t in read_session["tools"]}
    assert set(tools) == READ_TOOLS
    for t in tools.values():  # written for an LLM to choose: a description and a closed schema
        assert len(t.description) > 100 and t.input_schema["type"] == "object"
        assert t.input_schema["additionalProperties"] is False and t.input_schema["required"]
    assert tools["retrieve"].input_schema["properties"]["question"]["maxLength"] == MAX_QUESTION_CHARS


def test_write_tools_are_refused_without_the_key(read_session):
    r = read_session["add_without_key"]
    assert r.is_error and "KG_API_KEY" in _text(r)


def test_retrieve_passages_and_citations_quote_the_source(read_session):
    r = read_session["retrieve"]
    assert not r.is_error, _text(r)
    data = r.structured_content
    assert data["passages"] and len(data["passages"]) <= 3
    for p in data["passages"]:
        assert p["text"] == DOCS[p["doc_id"]][p["start"]:p["end"]]
    assert data["passages"][0]["doc_id"] == "news/1"  # the Apple story answers it
    for f in data["facts"]:
        for c in f["citations"]:
            assert c["quote"] == DOCS[c["doc_id"]][c["start"]:c["end"]]
    text = _text(r)  # what the model reads: numbered passages with their document, and entity ids
    assert "[1]" in text and "news/1" in text and "Cupertino" in text
    assert all(f"id={e['id']}" in text for e in data["entities"])


def test_retrieve_refuses_an_over_long_or_empty_question(read_session):
    for key in ("retrieve_long", "retrieve_blank"):
        r = read_session[key]
        assert r.is_error
    assert f"over the {MAX_QUESTION_CHARS} limit" in _text(read_session["retrieve_long"])
    assert len(_text(read_session["retrieve_long"])) < 300  # the question is not echoed back
    assert "empty" in _text(read_session["retrieve_blank"])


def test_cypher_reads_rows_with_params_and_a_row_limit(read_session):
    r = read_session["cypher"]
    assert not r.is_error, _text(r)
    assert [row["id"] for row in r.structured_content["rows"]] == sorted(DOCS)
    assert json.loads(_text(r)) == r.structured_content
    assert read_session["cypher_params"].structured_content["rows"] == [{"t": "Story news/2"}]
    limited = read_session["cypher_rows"].structured_content
    assert limited == {"rows": [{"i": 1}, {"i": 2}, {"i": 3}], "truncated": True}


def test_cypher_refuses_a_write_with_a_clear_tool_error(read_session):
    r = read_session["cypher_write"]
    assert r.is_error and r.structured_content is None
    message = _text(r)
    assert message.startswith("cypher: ") and "\n" not in message and "read-only" in message.lower()
    assert read_session["cypher_after"].structured_content["rows"] == [{"n": 0}]  # nothing was written
    bad = read_session["cypher_bad"]
    assert bad.is_error and _text(bad).startswith("cypher: ")


def test_search_entities_finds_an_ingested_entity(read_session, corpus):
    r = read_session["search"]
    assert not r.is_error, _text(r)
    best = r.structured_content["entities"][0]
    assert best["id"] == corpus["entity_id"] and best["name"] == corpus["entity_name"] and best["score"] == 1.0


def test_get_entity_gives_mentions_that_quote_the_source(read_session, corpus):
    r = read_session["get_entity"]
    assert not r.is_error, _text(r)
    detail = r.structured_content
    assert detail["id"] == corpus["entity_id"] and detail["mentions"]
    for m in detail["mentions"]:
        assert m["text"] == DOCS[m["doc_id"]][m["start"]:m["end"]] and m["snippet"] in DOCS[m["doc_id"]]
    for rel in detail["relations"]:
        assert corpus["entity_id"] in (rel["head_id"], rel["tail_id"])
        for s in rel["sources"]:
            assert s["quote"] == DOCS[s["doc_id"]][s["start"]:s["end"]]


def test_neighbourhood_holds_the_entity_and_its_relations(read_session, corpus):
    r = read_session["neighbourhood"]
    assert not r.is_error, _text(r)
    data = r.structured_content
    ids = {e["id"] for e in data["entities"]}
    assert corpus["entity_id"] in ids
    for rel in data["relations"]:
        assert rel["head_id"] in ids and rel["tail_id"] in ids and rel["head"] and rel["tail"]
    # the relations around it are the ones get_entity lists
    around = {(x["head_id"], x["relation"], x["tail_id"]) for x in read_session["get_entity"].structured_content["relations"]}
    assert around <= {(x["head_id"], x["relation"], x["tail_id"]) for x in data["relations"]}


def test_bad_input_is_a_tool_error_not_a_crash(read_session):
    for key, expected in [("get_unknown", "no entity with id"), ("neighbourhood_unknown", "no entity with id"),
                          ("neighbourhood_deep", '"depth"'), ("unknown_argument", "colour"),
                          ("no_such_tool", "no tool named")]:
        r = read_session[key]
        assert r.is_error and expected in _text(r), (key, _text(r))
    assert read_session["search"].is_error is False  # the server answered on after each


def test_the_embedded_store_server_stops_when_the_client_disconnects(read_session):
    assert read_session["server_running_during"]  # kg mcp started it for this data dir
    assert not read_session["server_running_after"]


# ---------------------------------------------------------------------------- stdio, write tools


@pytest.mark.parametrize("env", [
    {"KG_API_KEY": KEY, "KG_MCP_API_KEY": "wrong-key"},
    {"KG_MCP_API_KEY": KEY},  # given, but the server has no key configured
])
def test_write_tools_are_absent_unless_the_key_is_configured_and_given(corpus, tmp_path, env):
    async def work(session: ClientSession):
        names = {t.name for t in (await session.list_tools()).tools}
        refused = await session.call_tool("delete_document", {"doc_id": "news/1"})
        return names, refused

    names, refused = _run_stdio(corpus, tmp_path, env, work)
    assert names == READ_TOOLS
    assert refused.is_error and "write access" in _text(refused)
    assert not _embedded_server_running(corpus["data_dir"])


def test_with_the_key_add_documents_and_delete_document_change_what_retrieve_returns(corpus, tmp_path):
    doc_id, text = NEW_DOC

    async def work(session: ClientSession) -> dict:
        out = {"tools": {t.name for t in (await session.list_tools()).tools}}
        ask = {"question": NEW_QUESTION, "k": 3}
        out["before"] = await session.call_tool("retrieve", ask)
        out["add"] = await session.call_tool("add_documents", {"documents": [
            {"id": doc_id, "text": text, "title": "Zorbleflax", "metadata": {"topic": "test"}}]})
        out["add_again"] = await session.call_tool("add_documents", {"documents": [{"id": doc_id, "text": text}]})
        out["add_bad_id"] = await session.call_tool("add_documents", {"documents": [{"id": " padded ", "text": "x"}]})
        out["after_add"] = await session.call_tool("retrieve", ask)
        out["delete"] = await session.call_tool("delete_document", {"doc_id": doc_id})
        out["delete_again"] = await session.call_tool("delete_document", {"doc_id": doc_id})
        out["after_delete"] = await session.call_tool("retrieve", ask)
        return out

    out = _run_stdio(corpus, tmp_path, {"KG_API_KEY": KEY, "KG_MCP_API_KEY": KEY}, work)
    assert out["tools"] == READ_TOOLS | WRITE_TOOLS
    for key in ("before", "add", "add_again", "after_add", "delete", "after_delete"):
        assert not out[key].is_error, (key, _text(out[key]))

    def doc_ids(result) -> list[str]:
        return [p["doc_id"] for p in result.structured_content["passages"]]

    assert doc_id not in doc_ids(out["before"])
    assert out["add"].structured_content["ingested"] == 1 and out["add"].structured_content["document_ids"] == [doc_id]
    assert out["add_again"].structured_content["unchanged"] == 1  # the same document again changes nothing
    assert out["add_bad_id"].is_error and "document 0" in _text(out["add_bad_id"])
    top = out["after_add"].structured_content["passages"][0]
    assert top["doc_id"] == doc_id and top["text"] == text[top["start"]:top["end"]]
    assert out["delete"].structured_content["found"] is True and out["delete"].structured_content["chunks"] >= 1
    assert out["delete_again"].is_error and "no document with id" in _text(out["delete_again"])
    assert doc_id not in doc_ids(out["after_delete"])
    assert not _embedded_server_running(corpus["data_dir"])


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_closes_the_store_and_stops_its_server(corpus, signum):
    """A client that gives up (or Ctrl-C in a terminal) signals kg mcp while stdin is still open."""
    env = {**os.environ, "KG_DATA_DIR": str(corpus["data_dir"])}
    proc = subprocess.Popen([str(KG), "mcp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            cwd=corpus["data_dir"].parent, env=env)
    try:
        def ask(message: dict) -> dict | None:
            proc.stdin.write((json.dumps(message) + "\n").encode())
            proc.stdin.flush()
            return json.loads(proc.stdout.readline()) if "id" in message else None

        ask({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}})
        ask({"jsonrpc": "2.0", "method": "notifications/initialized"})
        answer = ask({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "cypher", "arguments": {"query": "MATCH (d:Document) RETURN count(d) AS n"}}})
        assert answer["result"]["structuredContent"]["rows"] == [{"n": len(DOCS)}]
        assert _embedded_server_running(corpus["data_dir"])
        proc.send_signal(signum)
        assert proc.wait(60) == 128 + signum
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not _embedded_server_running(corpus["data_dir"])


# ---------------------------------------------------------------------------- streamable HTTP, mounted in an app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _app(settings: Settings, pipeline) -> FastAPI:
    """A small host app that mounts the MCP endpoint the way api/main.py does: a route at /mcp,
    the session manager run in the lifespan, a Backend that borrows the app's store and models."""
    from kg.retrieval import Retriever
    from kg.stores.factory import open_store

    mcp = http_app(settings, lambda: app.state.mcp_backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store = open_store(settings)
        borrowed = copy.copy(pipeline)
        borrowed.store = store
        app.state.mcp_backend = Backend(settings, store=store, pipeline=borrowed,
                                        retriever=Retriever.from_settings(settings, store))
        try:
            async with mcp.run():
                yield
        finally:
            app.state.mcp_backend.close()  # borrowed: leaves the store open
            store.close()

    app = FastAPI(lifespan=lifespan)
    app.add_route("/mcp", mcp, include_in_schema=False)
    return app


@pytest.fixture(scope="module")
def http_url(corpus):
    settings = _settings(corpus["data_dir"], api_key=KEY)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(_app(settings, corpus["pipeline"]), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 600
    while not server.started:
        log = corpus["data_dir"] / "redis.log"
        assert thread.is_alive() and time.monotonic() < deadline, \
            f"the app did not start; store log: {log.read_text()[-3000:] if log.exists() else '(none)'}"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(120)
    assert not _embedded_server_running(corpus["data_dir"])


async def _http_session(url: str, headers: dict[str, str], work):
    async with create_mcp_http_client(headers=headers) as client:
        async with streamable_http_client(url, http_client=client) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)


def test_over_http_write_tools_need_the_bearer_key(http_url):
    async def names(session: ClientSession) -> set[str]:
        return {t.name for t in (await session.list_tools()).tools}

    assert anyio.run(_http_session, http_url, {}, names) == READ_TOOLS
    assert anyio.run(_http_session, http_url, {"Authorization": "Bearer wrong"}, names) == READ_TOOLS
    assert anyio.run(_http_session, http_url, {"Authorization": f"Bearer {KEY}"}, names) == READ_TOOLS | WRITE_TOOLS
    assert anyio.run(_http_session, http_url, {"X-API-Key": KEY}, names) == READ_TOOLS | WRITE_TOOLS

    async def delete(session: ClientSession):
        return await session.call_tool("delete_document", {"doc_id": "news/1"})

    refused = anyio.run(_http_session, http_url, {"Authorization": "Bearer wrong"}, delete)
    assert refused.is_error and "write access" in _text(refused)


def test_over_http_the_tools_answer_from_the_app_store(http_url, corpus):
    async def work(session: ClientSession):
        return (await session.call_tool("retrieve", {"question": "Where does Satya Nadella work?", "k": 2}),
                await session.call_tool("search_entities", {"query": corpus["entity_name"], "limit": 3}),
                await session.call_tool("cypher", {"query": "MERGE (n:X) RETURN n"}))

    retrieved, found, write = anyio.run(_http_session, http_url, {}, work)
    top = retrieved.structured_content["passages"][0]
    assert top["doc_id"] == "news/3" and top["text"] == DOCS["news/3"][top["start"]:top["end"]]
    assert found.structured_content["entities"][0]["id"] == corpus["entity_id"]
    assert write.is_error and "read-only" in _text(write).lower()


def test_over_http_a_foreign_host_header_is_refused(http_url):
    import httpx

    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    headers = {"Host": "attacker.example", "Accept": "application/json, text/event-stream"}
    assert httpx.post(http_url, json=body, headers=headers).status_code >= 400
