"""Graph views drawn in a real headless Chromium (driven over the DevTools protocol), on a store
built by the real pipeline from sample documents."""

from __future__ import annotations

import base64
import io
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import websocket
from PIL import Image

from kg.config import REPO_ROOT, Settings
from kg.documents import read_inputs
from kg.errors import KGError, QueryRefused, ReadOnlyViolation, UsageError
from kg.pipeline import Pipeline
from kg.types import GraphBatch
from kg.views import VIS_DIR, find_entities, render_view, type_colours, view_subgraph
from tests.kg.test_export import small_batch

SAMPLES = REPO_ROOT / "samples" / "wikipedia_passages.jsonl"
N_DOCS = 6  # wiki-000..005: psychologists, Tennessee, Publix, Ulta; 13 relations


class Chromium:
    """The system chromium, headless, its first page driven over a DevTools websocket. Host names
    resolve to nothing, so a page that needed the network would fail to draw."""

    def __init__(self, width: int = 1200, height: int = 900):
        binary = shutil.which("chromium")
        assert binary, "chromium is not installed (make test installs it: apt-get install chromium)"
        self.profile = tempfile.mkdtemp(prefix="kg-chromium-")
        self.proc = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--remote-debugging-port=0", f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
             "--host-resolver-rules=MAP * ~NOTFOUND", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile, "DevToolsActivePort")  # chromium writes its port here
        deadline = time.monotonic() + 60
        while not port_file.exists() or len(port_file.read_text().split()) < 2:
            assert self.proc.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self._ids = itertools.count(1)
        self.events: list[dict] = []
        self.call("Page.enable")
        self.call("Network.enable")

    def call(self, method: str, **params):
        n = next(self._ids)
        self.ws.send(json.dumps({"id": n, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == n:
                assert "error" not in msg, msg["error"]
                return msg["result"]
            self.events.append(msg)

    def eval(self, expression: str):
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def open(self, path: Path) -> None:
        """Load a page and wait until vis-network has laid the graph out."""
        self.events.clear()
        self.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 60
        while not self.eval("typeof kgStabilized !== 'undefined' && kgStabilized === true"):
            assert time.monotonic() < deadline, "the graph never finished its layout"
            time.sleep(0.1)

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def screenshot(self, element_id: str) -> Image.Image:
        x, y, w, h = self.eval(f"(() => {{ const r = document.getElementById('{element_id}')"
                               ".getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; })()")
        shot = self.call("Page.captureScreenshot", format="png",
                         clip={"x": x, "y": y, "width": w, "height": h, "scale": 1})
        return Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")

    def close(self) -> None:
        self.ws.close()
        self.proc.terminate()
        self.proc.wait(30)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    b = Chromium()
    yield b
    b.close()


@pytest.fixture(scope="module")
def ingested(falkordb_server):
    from kg.stores.falkordb.store import FalkorDBStore

    store = FalkorDBStore(server=falkordb_server, graph_name=f"views_{uuid.uuid4().hex[:12]}")
    docs = list(itertools.islice(read_inputs([str(SAMPLES)], 10_000_000), N_DOCS))
    report = Pipeline.from_settings(Settings(), store).ingest(docs, progress=False)
    assert report.ok and report.ingested == N_DOCS and report.relations > 0
    yield store, {d.id: d.text for d in docs}
    store.drop()
    store.close()


def _page_graph(browser) -> tuple[list[dict], list[dict]]:
    nodes = browser.eval("network.body.data.nodes.get().map(n => ({id: n.id, label: n.label, title: n.title, "
                         "color: n.color}))")
    edges = browser.eval("network.body.data.edges.get().map(e => ({from: e.from, to: e.to, label: e.label, "
                         "title: e.title}))")
    assert browser.eval("network.body.data.nodes.length") == len(nodes)
    assert browser.eval("network.body.data.edges.length") == len(edges)
    return nodes, edges


def _hex(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _assert_drawn(browser, colours: set[str]) -> None:
    """The canvas is not blank, and every node colour shown is on it."""
    img = browser.screenshot("mynetwork")
    pixels = list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())
    background = pixels.count((255, 255, 255))
    assert 1 - background / len(pixels) > 0.005, "the graph area is (almost) blank"
    for c in colours:
        assert pixels.count(_hex(c)) > 50, f"no node of colour {c} on the screenshot"


def test_page_is_self_contained(ingested):
    store, _ = ingested
    html = render_view(store, Settings(), entity="Tennessee")
    tags = re.findall(r"<(?:script|link|img|iframe|object|embed|source)\b[^>]*>", html, flags=re.I)
    assert not [t for t in tags if re.search(r"\b(?:src|href)\s*=", t, flags=re.I)], tags
    assert not re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", html)
    assert (VIS_DIR / "vis-network.min.js").read_text(encoding="utf-8") in html  # inlined whole


def test_browser_draws_the_neighbourhood_offline(ingested, browser, tmp_path):
    store, texts = ingested
    settings = Settings()
    expected = store.neighbourhood(find_entities(store, "Tennessee"), 2, 50)
    assert len(expected.entities) >= 3 and expected.relations
    page = tmp_path / "tennessee.html"
    page.write_text(render_view(store, settings, entity="Tennessee", depth=2), encoding="utf-8")
    browser.open(page)
    assert browser.requested_urls() == [page.resolve().as_uri()]  # nothing fetched but the page itself

    nodes, edges = _page_graph(browser)
    by_id = {e.id: e for e in expected.entities}
    assert {n["id"] for n in nodes} == set(by_id)
    assert sorted((e["from"], e["to"], e["label"]) for e in edges) == sorted(
        (r.head_id, r.tail_id, f"{r.type} {r.confidence:.2f}") for r in expected.relations)
    colours = type_colours(settings)
    for n in nodes:
        e = by_id[n["id"]]
        assert n["label"] == e.name and n["color"] == colours[e.type]
        assert f"aliases: {', '.join(e.aliases)}" in n["title"].replace("\n", " ")
        # the snippet quotes the document the entity was first mentioned in
        quote = re.search(r"“…?(.*?)…?”", n["title"].replace("\n", " ")).group(1)
        assert any(" ".join(quote.split()[:4]) in " ".join(t.split()) for t in texts.values())

    legend = browser.eval("[...document.querySelectorAll('.kg-legend-item')].map(i => i.dataset.type)")
    assert sorted(legend) == sorted({e.type for e in expected.entities})
    _assert_drawn(browser, {colours[e.type] for e in expected.entities})


def test_browser_draws_what_a_query_returns(ingested, browser, tmp_path):
    store, _ = ingested
    q = "MATCH (a:Entity)-[r:LOCATED_IN]->(b:Entity) RETURN a, r, b"
    pairs = {(r["a"], r["b"]) for r in store.query(
        "MATCH (a:Entity)-[r:LOCATED_IN]->(b:Entity) RETURN a.id AS a, b.id AS b")}
    assert pairs
    page = tmp_path / "query.html"
    page.write_text(render_view(store, Settings(), cypher=q), encoding="utf-8")
    browser.open(page)
    nodes, edges = _page_graph(browser)
    assert {n["id"] for n in nodes} == {i for p in pairs for i in p}
    assert {(e["from"], e["to"]) for e in edges} == pairs and len(edges) == len(pairs)
    assert all(e["label"].startswith("LOCATED_IN ") for e in edges)  # other relations among them left out
    _assert_drawn(browser, set())


def test_limit_and_depth_bound_the_view(ingested):
    store, _ = ingested
    seed = find_entities(store, "Tennessee")
    assert [e.id for e in view_subgraph(store, Settings(), entity="Tennessee", depth=0).entities] == seed
    two = view_subgraph(store, Settings(), entity="Tennessee", depth=2, limit=2)
    assert len(two.entities) == 2 and two.entities[0].id == seed[0]
    ids = view_subgraph(store, Settings(), cypher="MATCH (e:Entity) RETURN e.id ORDER BY e.id", limit=4)
    assert [e.id for e in ids.entities] == [r["e.id"] for r in store.query(
        "MATCH (e:Entity) RETURN e.id ORDER BY e.id LIMIT 4")]


def test_entity_found_by_id_alias_key_or_name(ingested):
    store, _ = ingested
    [tennessee] = find_entities(store, "Tennessee")
    assert find_entities(store, tennessee) == [tennessee]  # by id
    assert find_entities(store, "  tennessee ") == [tennessee]  # by lookup key: case and spaces ignored
    assert find_entities(store, "Tennes") == [tennessee]  # by part of a name
    erikson = store.query("MATCH (e:Entity {name: 'Erik Erikson'}) RETURN e.id AS id")[0]["id"]
    assert find_entities(store, "Erikson") == [erikson]  # an alias that is no lookup key


def test_bad_input_is_one_clear_error(ingested):
    store, _ = ingested
    s = Settings()
    cases = [
        (dict(entity="Zzyzx Nowhere"), UsageError, "no entity matches 'Zzyzx Nowhere'"),
        (dict(), UsageError, "exactly one"),
        (dict(entity="Tennessee", cypher="MATCH (e:Entity) RETURN e"), UsageError, "exactly one"),
        (dict(entity="Tennessee", depth=6), UsageError, "depth"),
        (dict(entity="Tennessee", limit=0), UsageError, "limit"),
        (dict(cypher="MATCH (c:Chunk) RETURN c"), UsageError, "no entities"),
        (dict(cypher="MATCH (e:Entity) SET e.name = 'x' RETURN e"), ReadOnlyViolation, "read-only"),
        (dict(cypher="LOAD CSV FROM 'https://example.com/x.csv' AS r RETURN r"), QueryRefused, "LOAD CSV"),
        (dict(cypher="MATCH (e RETURN e"), KGError, "query"),
    ]
    for kwargs, error, words in cases:
        with pytest.raises(error) as info:
            render_view(store, s, **kwargs)
        assert words in str(info.value) and "\n" not in str(info.value)
    assert store.query("MATCH (e:Entity {name: 'x'}) RETURN count(e) AS n")[0]["n"] == 0


def test_names_from_documents_cannot_inject_markup(falkordb_server, browser, tmp_path):
    from kg.stores.falkordb.store import FalkorDBStore

    batch: GraphBatch = small_batch()
    hostile = "</script><img src=x onerror=\"document.title='pwned'\"> href"
    batch.entities[0].name = hostile
    batch.entities[0].aliases = [hostile, "Ada Arden"]
    store = FalkorDBStore(server=falkordb_server, graph_name=f"views_x_{uuid.uuid4().hex[:12]}")
    try:
        store.upsert(batch)
        page = tmp_path / "hostile.html"
        page.write_text(render_view(store, Settings(), entity="e-ada", depth=2), encoding="utf-8")
        browser.open(page)
        nodes, edges = _page_graph(browser)
        assert hostile in [n["label"] for n in nodes] and len(nodes) == 3 and len(edges) == 3
        assert browser.eval("document.querySelectorAll('img').length") == 0
        assert browser.eval("document.title") != "pwned"
        _assert_drawn(browser, set())
    finally:
        store.drop()
        store.close()
