"""The MCP server for agents: kg's retrieval and graph tools over the Model Context Protocol, on
the official SDK's low-level Server (the `mcp` package, 2.x).

    kg mcp                        stdio: an agent (Claude Desktop, an IDE, an agent framework) launches it
    http_app(settings, backend)   streamable HTTP, an ASGI endpoint the API mounts at /mcp

Tools: retrieve, cypher (read-only), get_entity, neighbourhood, search_entities, and the write
tools add_documents and delete_document, which are listed and callable only when KG_API_KEY is
configured and the client gives it: over HTTP as `Authorization: Bearer <key>` (or `X-API-Key`),
over stdio as KG_MCP_API_KEY in the environment it launches `kg mcp` with.

Every tool's arguments are checked against its published JSON schema before it runs; bad input
(an unknown entity, a write in Cypher, an over-long question) is a tool error (isError, one clear
line), never a crash of the server. The store and the models are opened once per process, on
first use (Backend), and the store is closed when the server stops.
"""

from __future__ import annotations

import copy
import hmac
import json
import logging
import os
import signal
import sys
import threading
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any, AsyncIterator, Callable

import anyio
import mcp_types as types
from jsonschema import Draft202012Validator
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from kg import __version__
from kg.config import Settings
from kg.errors import KGError
from kg.validate import metadata_problem, text_problem

log = logging.getLogger("kg.mcp")

MAX_QUESTION_CHARS = 4000  # the API's limit too (POST /v1/retrieve)
MAX_QUERY_CHARS = 1000  # an entity name typed by an agent
MAX_DEPTH = 3  # a deeper variable-length traversal can stall a large graph
MAX_NEIGHBOURS = 200
MAX_MENTIONS = 100
MAX_RELATIONS = 200
MAX_DOCUMENTS = 100  # per add_documents call; larger corpora go through `kg ingest` or POST /v1/documents
DEFAULT_ROWS = 100  # Cypher rows an agent gets unless it asks for more (up to KG_QUERY_MAX_ROWS)

INSTRUCTIONS = (
    "kg holds a knowledge graph built from the user's documents: passages (chunks) with character offsets, "
    "entities (people, organisations, places, ...) and typed relations between them, each with the sentences "
    "that state it. To answer a question about the documents, call retrieve first and cite its numbered "
    "passages. To look at one entity, find its id with search_entities, then call get_entity (mentions and "
    "relations with quotes) or neighbourhood (the entities around it). Use cypher for counts, lists and "
    "patterns the other tools do not cover."
)


class ToolError(Exception):
    """Bad input to a tool: answered as a tool error (isError) with this one-line message."""


# ---------------------------------------------------------------------------- the store and the models


class Backend:
    """The store and the models one server process uses, each opened once, on first use.

    Objects passed in (the API's own store, pipeline and retriever) are borrowed: close() leaves
    them to their owner and closes only what this Backend opened itself.
    """

    def __init__(self, settings: Settings, *, store=None, pipeline=None, retriever=None,
                 write_lock: AbstractContextManager | None = None):
        self.settings = settings
        self._store, self._pipeline, self._retriever = store, pipeline, retriever
        self._opened_store = False
        self._store_lock = threading.Lock()
        self._lock = threading.Lock()  # model loading is slow: once, even under concurrent first calls
        # one ingest or delete at a time; a host that also writes (the API's job worker) may share its own
        self.write_lock = write_lock or threading.RLock()

    def store(self):
        with self._store_lock:
            if self._store is None:
                from kg.stores.factory import open_store

                self._store = open_store(self.settings)
                self._opened_store = True
            return self._store

    def retriever(self):
        store = self.store()
        with self._lock:
            if self._retriever is None:
                from kg.retrieval import Retriever

                self._retriever = Retriever.from_settings(self.settings, store)
            return self._retriever

    def pipeline(self):
        store = self.store()
        with self._lock:
            if self._pipeline is None:
                from kg.pipeline import Pipeline

                self._pipeline = Pipeline.from_settings(self.settings, store)
            return self._pipeline

    def embedder(self):
        """The embedder for entity search: the retriever's (read-only use needs no ingest models)."""
        return self._pipeline.embedder if self._pipeline is not None else self.retriever().embedder

    def close(self) -> None:
        """Close the store if this Backend opened it (that stops the embedded server child)."""
        with self._store_lock:  # not the model lock: closing must not wait for a model to load
            store, opened = self._store, self._opened_store
            self._store, self._opened_store = None, False
        if store is not None and opened:
            store.close()


# ---------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: dict[str, Any]
    run: Callable[[Backend, dict[str, Any]], "Answer"]
    write: bool = False
    annotations: types.ToolAnnotations | None = None

    def definition(self) -> types.Tool:
        return types.Tool(name=self.name, description=self.description, input_schema=self.input_schema,
                          annotations=self.annotations)


@dataclass
class Answer:
    data: dict[str, Any]  # the structured content: JSON-ready
    text: str | None = None  # what the model reads; None: the data as JSON


_READ = types.ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _id_arg(what: str) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": 512, "description": what}


def _json_ready(value: Any) -> Any:
    """Query values (nodes, paths, vectors) as plain JSON."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _checked_text(value: str, name: str) -> str:
    if problem := text_problem(value, name=name):
        raise ToolError(problem)
    if not value.strip():
        raise ToolError(f"{name} is empty")
    return value


# --- retrieve


def _retrieve_tool(schema) -> Tool:
    from kg.retrieval.tool import DESCRIPTION, tool_schema

    params = copy.deepcopy(tool_schema(schema)["function"]["parameters"])
    params["properties"]["question"].update(minLength=1, maxLength=MAX_QUESTION_CHARS)
    params["properties"]["doc_ids"].update(maxItems=1000)
    params["properties"]["entity_types"].update(maxItems=100)
    description = (
        f"{DESCRIPTION} Returns the context block (numbered passages with document id and character offsets, "
        "then facts citing them) and the ids of the entities involved, for get_entity and neighbourhood. "
        "The structured result has every passage's text, doc_id, start and end (the text is exactly the "
        "document's characters start..end), the facts with their quoted citations, and the entities with why "
        f"they were chosen. The question may be at most {MAX_QUESTION_CHARS} characters."
    )
    return Tool("retrieve", description, params, _retrieve, annotations=_READ)


def _retrieve(backend: Backend, args: dict[str, Any]) -> Answer:
    from kg.retrieval import Filters

    question = _checked_text(args["question"], '"question"')
    metadata = args.get("metadata") or {}
    if problem := metadata_problem(metadata):
        raise ToolError(problem)
    filters = Filters(doc_ids=list(args.get("doc_ids") or []), metadata=metadata,
                      entity_types=list(args.get("entity_types") or []))
    result = backend.retriever().retrieve(question, int(args.get("k", 5)), filters)
    lines = [result.context.rstrip() if result.context else "Nothing in the documents matches this question."]
    if result.entities:
        lines += ["", "Entities (ids for get_entity and neighbourhood):"]
        lines += [f"- {e.name} ({e.type}) id={e.id}" for e in result.entities]
    return Answer(_json_ready(asdict(result)), "\n".join(lines) + "\n")


# --- cypher


DIALECTS = {"falkordb": "FalkorDB's openCypher dialect", "neo4j": "Neo4j 5 Cypher"}


def _cypher_tool(settings: Settings, schema) -> Tool:
    relations = ", ".join(sorted(schema.relation_types))
    labels = ", ".join(sorted(schema.entity_types))
    description = (
        f"Run one read-only openCypher query on the knowledge graph ({DIALECTS.get(settings.store, settings.store)}) "
        "and get its rows as JSON. "
        "Use it for counts, lists, aggregates and patterns the other tools do not answer; for questions about "
        "the documents' content use retrieve. Writes (CREATE, MERGE, SET, DELETE, ...) are refused, and so are "
        f"LOAD CSV and queries over {settings.query_max_chars} characters. A query stops after "
        f"{settings.query_timeout_ms} ms. The graph: (:Document {{id, title, source, metadata}}); "
        "(:Chunk {id, doc_id, index, text, start, end})-[:PART_OF]->(:Document), (:Chunk)-[:NEXT]->(:Chunk); "
        f"(:Entity {{id, name, type, aliases, mentions}}) with a second label for its type ({labels}); "
        "(:Entity)-[:MENTIONED_IN {start, end, text}]->(:Chunk) (document offsets); "
        f"(:Entity)-[:REL {{confidence, sources}}]->(:Entity) for REL one of {relations}. "
        "Return properties (e.name, c.text), not whole nodes, and never the embedding properties. "
        "Example: MATCH (p:Person)-[r:WORKS_FOR]->(o:Organization) RETURN p.name, o.name, r.confidence "
        "ORDER BY r.confidence DESC LIMIT 10."
    )
    params = _object({
        "query": {"type": "string", "minLength": 1, "maxLength": settings.query_max_chars,
                  "description": "the openCypher query; pass values as $name parameters, not spliced into it"},
        "params": {"type": "object", "additionalProperties": True,
                   "description": "query parameters by name, e.g. {\"name\": \"Apple\"} for $name"},
        "max_rows": {"type": "integer", "minimum": 1, "maximum": settings.query_max_rows,
                     "default": min(DEFAULT_ROWS, settings.query_max_rows),
                     "description": "at most this many rows come back; `truncated` says when there were more"},
    }, ["query"])
    return Tool("cypher", description, params, _cypher, annotations=_READ)


def _cypher(backend: Backend, args: dict[str, Any]) -> Answer:
    s = backend.settings
    query = _checked_text(args["query"], '"query"')
    rows = min(int(args.get("max_rows") or min(DEFAULT_ROWS, s.query_max_rows)), s.query_max_rows)
    result = backend.store().read_only_query(query, args.get("params") or {}, timeout_ms=s.query_timeout_ms,
                                             max_rows=rows)
    return Answer({"rows": _json_ready(result.rows), "truncated": result.truncated})


# --- entities


def _search_entities_tool(schema) -> Tool:
    description = (
        "Find entities (people, organisations, places, ...) by name, best first: exact names and aliases "
        "(score 1.0; acronyms too, \"IBM\" finds \"International Business Machines\"), then names containing the "
        "query, then names with the nearest meaning (score: cosine similarity). Returns id, name, type, aliases "
        "and score for each. Use it to get an entity's id for get_entity and neighbourhood."
    )
    params = _object({
        "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS,
                  "description": "a name or part of one, e.g. \"Tim Cook\" or \"Apple\""},
        "type": {"type": "string", "enum": sorted(schema.entity_types),
                 "description": "only entities of this type"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10,
                  "description": "how many entities to return"},
    }, ["query"])
    return Tool("search_entities", description, params, _search_entities, annotations=_READ)


def _search_entities(backend: Backend, args: dict[str, Any]) -> Answer:
    from kg.explore import search_entities

    query = _checked_text(args["query"], '"query"')
    matches = search_entities(backend.store(), backend.embedder(), query, type=args.get("type"),
                              limit=int(args.get("limit", 10)))
    return Answer({"entities": [asdict(m) for m in matches]})


def _unknown_entity(entity_id: str) -> ToolError:
    return ToolError(f"no entity with id {json.dumps(entity_id, ensure_ascii=False)[:80]}; "
                     "find entity ids with search_entities (or retrieve)")


def _get_entity_tool() -> Tool:
    description = (
        "Read one entity by id: its name, type and aliases, where the documents mention it (document id, "
        "character offsets, the mention's text and the sentence around it, quoted exactly), and its relations "
        "in either direction (head, relation, tail, confidence, and the sentences that state each, quoted with "
        "their offsets). Get ids from search_entities or retrieve."
    )
    params = _object({
        "entity_id": _id_arg("the entity's id, e.g. from search_entities"),
        "max_mentions": {"type": "integer", "minimum": 0, "maximum": MAX_MENTIONS, "default": 10,
                         "description": "at most this many mentions (first by document and offset)"},
        "max_relations": {"type": "integer", "minimum": 0, "maximum": MAX_RELATIONS, "default": 30,
                          "description": "at most this many relations (most confident first)"},
    }, ["entity_id"])
    return Tool("get_entity", description, params, _get_entity, annotations=_READ)


def _get_entity(backend: Backend, args: dict[str, Any]) -> Answer:
    from kg.explore import entity_detail

    entity_id = _checked_text(args["entity_id"], '"entity_id"')
    detail = entity_detail(backend.store(), entity_id, int(args.get("max_mentions", 10)),
                           int(args.get("max_relations", 30)))
    if detail is None:
        raise _unknown_entity(entity_id)
    return Answer(asdict(detail))


def _neighbourhood_tool() -> Tool:
    description = (
        "The entities within `depth` relation hops of one entity (nearest first, the entity itself included) "
        "and every relation among them (head, relation, tail with their ids, confidence, and how many passages "
        "state it). Use it to explore what an entity is connected to; get_entity gives the quotes."
    )
    params = _object({
        "entity_id": _id_arg("the entity's id, e.g. from search_entities"),
        "depth": {"type": "integer", "minimum": 0, "maximum": MAX_DEPTH, "default": 1,
                  "description": "relation hops to follow (0: the entity alone)"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_NEIGHBOURS, "default": 50,
                  "description": "at most this many entities in all"},
    }, ["entity_id"])
    return Tool("neighbourhood", description, params, _neighbourhood, annotations=_READ)


def _neighbourhood(backend: Backend, args: dict[str, Any]) -> Answer:
    entity_id = _checked_text(args["entity_id"], '"entity_id"')
    sub = backend.store().neighbourhood([entity_id], int(args.get("depth", 1)), int(args.get("limit", 50)))
    if not sub.entities:
        raise _unknown_entity(entity_id)
    names = {e.id: e.name for e in sub.entities}
    return Answer({
        "entities": [{"id": e.id, "name": e.name, "type": e.type, "aliases": list(e.aliases), "mentions": e.mentions}
                     for e in sub.entities],
        "relations": [{"head_id": r.head_id, "head": names.get(r.head_id, ""), "relation": r.type,
                       "tail_id": r.tail_id, "tail": names.get(r.tail_id, ""), "confidence": round(r.confidence, 4),
                       "passages": len(r.sources)} for r in sub.relations],
    })


# --- writes


def _add_documents_tool(settings: Settings) -> Tool:
    description = (
        "Add documents to the knowledge graph: each is chunked, its entities and relations extracted and "
        "merged with the stored ones, and it is searchable by retrieve as soon as this returns (this takes "
        f"about a second per page of text). At most {MAX_DOCUMENTS} documents per call, each at most "
        f"{settings.max_file_bytes:,} bytes of UTF-8. A document whose id is stored with the same text is left "
        "as it is; with other text it is replaced. Returns the documents' ids and counts of what was added."
    )
    document = _object({
        "text": {"type": "string", "minLength": 1, "description": "the document's full text (English)"},
        "id": {"type": "string", "minLength": 1, "maxLength": 512,
               "description": "a stable id (1-512 visible characters); default: derived from the text"},
        "title": {"type": "string", "maxLength": 1000, "description": "one line; helps retrieval"},
        "metadata": {"type": "object", "additionalProperties": True,
                     "description": "JSON fields to filter retrieve by, e.g. {\"source\": \"wiki\"}"},
    }, ["text"])
    params = _object({"documents": {"type": "array", "items": document, "minItems": 1, "maxItems": MAX_DOCUMENTS,
                                    "description": "the documents to add"}}, ["documents"])
    return Tool("add_documents", description, params, _add_documents, write=True,
                annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True,
                                                  open_world_hint=False))


def _add_documents(backend: Backend, args: dict[str, Any]) -> Answer:
    from kg.documents import make_document

    limit = backend.settings.max_file_bytes
    docs, texts = [], {}
    for i, d in enumerate(args["documents"]):
        if len(d["text"].encode("utf-8", "surrogatepass")) > limit:
            raise ToolError(f"document {i} is over the {limit:,} byte limit (KG_MAX_FILE_BYTES); split it")
        if not d["text"].strip():
            raise ToolError(f"document {i} has no text")
        try:
            doc = make_document(d["text"], id=d.get("id"), source="mcp", title=d.get("title", ""),
                                metadata=d.get("metadata"))
        except ValueError as e:
            raise ToolError(f"document {i}: {e}") from None
        if texts.setdefault(doc.id, doc.text) != doc.text:
            raise ToolError(f"document {i}: id {json.dumps(doc.id)[:80]} is used twice with different text")
        docs.append(doc)
    with backend.write_lock:
        report = backend.pipeline().ingest(docs, progress=False)
    if report.errors:
        raise ToolError("; ".join(str(e) for e in report.errors))
    return Answer({"document_ids": list(texts), "ingested": report.ingested, "updated": report.updated,
                   "unchanged": report.unchanged, "chunks": report.chunks, "entities": report.entities,
                   "relations": report.relations, "warnings": list(report.warnings)})


def _delete_document_tool() -> Tool:
    description = (
        "Delete one document from the knowledge graph: its passages and mentions, the entities only it "
        "mentioned, and the relations only it stated (relations other documents also state are kept). "
        "Returns counts of what was removed. It cannot be undone."
    )
    params = _object({"doc_id": _id_arg("the document's id (retrieve's passages carry it)")}, ["doc_id"])
    return Tool("delete_document", description, params, _delete_document, write=True,
                annotations=types.ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True,
                                                  open_world_hint=False))


def _delete_document(backend: Backend, args: dict[str, Any]) -> Answer:
    doc_id = _checked_text(args["doc_id"], '"doc_id"')
    with backend.write_lock:
        report = backend.store().delete_document(doc_id)
    if not report.found:
        raise ToolError(f"no document with id {json.dumps(doc_id, ensure_ascii=False)[:80]}")
    return Answer(asdict(report))


def build_tools(settings: Settings) -> dict[str, Tool]:
    from graph_schema import load_schema

    schema = load_schema(settings.schema_path)
    tools = [_retrieve_tool(schema), _cypher_tool(settings, schema), _get_entity_tool(), _neighbourhood_tool(),
             _search_entities_tool(schema), _add_documents_tool(settings), _delete_document_tool()]
    return {t.name: t for t in tools}


# ---------------------------------------------------------------------------- the server


def _argument_problem(tool: Tool, args: dict[str, Any]) -> str | None:
    """The first way the arguments break the tool's schema, in one line that does not echo them."""
    error = next(iter(Draft202012Validator(tool.input_schema).iter_errors(args)), None)
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    where = f'"{where}"' if where else "the arguments"
    limit = error.validator_value
    if error.validator == "maxLength":
        return f"{where} is {len(error.instance)} characters long, over the {limit} limit"
    if error.validator == "maxItems":
        return f"{where} has {len(error.instance)} items, over the {limit} limit"
    message = error.message if len(error.message) <= 200 else error.message[:200] + "..."
    return f"{where}: {message}"


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def build_server(backend: Callable[[], Backend], settings: Settings,
                 authorized: Callable[[ServerRequestContext], bool]) -> Server:
    """The MCP server: `backend()` gives the store and models (called per tool call; cheap),
    `authorized(ctx)` says whether this request may see and call the write tools."""
    tools = build_tools(settings)

    def allowed(ctx: ServerRequestContext) -> list[Tool]:
        write = bool(settings.api_key) and authorized(ctx)
        return [t for t in tools.values() if write or not t.write]

    async def list_tools(ctx: ServerRequestContext, params) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[t.definition() for t in allowed(ctx)])

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = tools.get(params.name)
        if tool is None:
            return _error(f"no tool named {params.name[:80]!r}; the tools are: {', '.join(t.name for t in allowed(ctx))}")
        if tool not in allowed(ctx):
            return _error(f"{tool.name} needs write access: KG_API_KEY must be set on the server and given by the "
                          "client ('Authorization: Bearer <key>' over HTTP, KG_MCP_API_KEY over stdio)")
        args = dict(params.arguments or {})
        if problem := _argument_problem(tool, args):
            return _error(f"{tool.name}: {problem}")
        try:
            # the models and the store block: run in a worker thread, the event loop keeps serving
            answer = await anyio.to_thread.run_sync(tool.run, backend(), args)
        except (ToolError, KGError) as e:
            return _error(f"{tool.name}: {e}")
        except Exception as e:  # a bug, not the agent's fault: say so, and keep serving
            log.exception("tool %s failed", tool.name)
            first_line = next(iter(str(e).splitlines()), "")
            return _error(f"{tool.name} failed: {e.__class__.__name__}: {first_line}")
        text = answer.text if answer.text is not None else json.dumps(answer.data, ensure_ascii=False)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)],
                                    structured_content=answer.data)

    return Server("kg", version=__version__, title="kg knowledge graph", instructions=INSTRUCTIONS,
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _same_key(given: str | None, expected: str) -> bool:
    # compare_digest: the time taken does not tell how much of a guess was right
    return bool(expected) and given is not None and hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape"))


# ---------------------------------------------------------------------------- stdio (`kg mcp`)


def serve_stdio(settings: Settings) -> None:
    """Serve one client over stdin/stdout until it closes stdin, then close the store, which stops
    the embedded server child. Write tools: KG_MCP_API_KEY == KG_API_KEY.

    SIGTERM or Ctrl-C closes the store and ends the process at once: the SDK reads stdin in a
    worker thread that nothing can interrupt, so a clean unwind would wait for the next line."""
    backend = Backend(settings)
    write = _same_key(settings.mcp_api_key or None, settings.api_key)
    server = build_server(lambda: backend, settings, authorized=lambda ctx: write)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            async def stop_on_signal() -> None:
                with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                    async for signum in signals:
                        await anyio.to_thread.run_sync(backend.close)
                        os._exit(128 + signum)

            tg.start_soon(stop_on_signal)
            async with stdio_server() as (read, write_stream):
                await server.run(read, write_stream, server.create_initialization_options())
            tg.cancel_scope.cancel()  # stdin closed: the client is gone

    try:
        anyio.run(main)
    finally:
        # a client that waits only a few seconds sends SIGTERM next: finish closing the store
        # (and stopping its server child) rather than die half way
        previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            backend.close()
        finally:
            signal.signal(signal.SIGTERM, previous)


# ---------------------------------------------------------------------------- streamable HTTP (the API)

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class McpHttp:
    """The MCP server as an ASGI endpoint for streamable HTTP (stateless, JSON responses).

    Mount it in the host app as a route at /mcp, and run `mcp.run()` in the host's lifespan (it
    runs the SDK's session manager):

        mcp = http_app(settings, lambda: app.state.mcp_backend)
        app.add_route("/mcp", mcp, include_in_schema=False)
        # in the lifespan, after the store and models are open:
        app.state.mcp_backend = Backend(settings, store=..., pipeline=..., retriever=...)
        async with mcp.run():
            yield

    Write tools: the request's `Authorization: Bearer <key>` (or `X-API-Key: <key>`) equals KG_API_KEY.
    """

    def __init__(self, settings: Settings, backend: Callable[[], Backend]):
        self.settings = settings
        self.server = build_server(backend, settings, authorized=self._authorized)
        self._manager: StreamableHTTPSessionManager | None = None

    def _authorized(self, ctx: ServerRequestContext) -> bool:
        request = ctx.request
        if request is None:
            return False
        auth = request.headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        given = token.strip() if scheme.lower() == "bearer" else request.headers.get("x-api-key")
        return _same_key(given, self.settings.api_key)

    def _security(self) -> TransportSecuritySettings | None:
        """DNS-rebinding protection while the API listens on loopback only: a web page on another
        origin (or a rebound host name) cannot reach the tools through the user's browser."""
        if self.settings.api_host not in _LOOPBACK:
            return None
        origins = [o.strip() for o in self.settings.api_cors_origins.split(",") if o.strip()]
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=["127.0.0.1", "localhost", "[::1]", "127.0.0.1:*", "localhost:*", "[::1]:*"],
            allowed_origins=["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*", *origins])

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """Serve while this context is open (the host app's lifespan); a fresh session manager
        each time, since one runs only once. A nested run (a second lifespan on the same app, as a
        test client may start) serves until it ends, then the outer one's manager serves again."""
        manager = StreamableHTTPSessionManager(app=self.server, stateless=True, json_response=True,
                                               security_settings=self._security(),
                                               max_request_body_size=self.settings.api_max_body_bytes)
        async with manager.run():
            previous, self._manager = self._manager, manager
            try:
                yield
            finally:
                self._manager = previous

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._manager is None:
            response = JSONResponse({"detail": "the MCP endpoint is not running (the app's lifespan did not start it)"},
                                    status_code=503)
            await response(scope, receive, send)
            return
        await self._manager.handle_request(scope, receive, send)


def http_app(settings: Settings, backend: Callable[[], Backend]) -> McpHttp:
    """The MCP server's streamable HTTP endpoint (an ASGI app); see McpHttp for how to mount it."""
    return McpHttp(settings, backend)


def main_stdio(settings: Settings) -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="kg mcp: %(message)s")
    serve_stdio(settings)
    return 0
