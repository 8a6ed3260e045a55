"""The MCP tools served by the API itself at /mcp (streamable HTTP, stateless JSON responses)."""

from __future__ import annotations

from tests.api.conftest import API_KEY

HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json",
           "Host": "127.0.0.1:8000"}


def _call(client, method: str, params: dict, headers: dict | None = None) -> dict:
    r = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params},
                    headers={**HEADERS, **(headers or {})})
    assert r.status_code == 200, r.text
    return r.json()


def _tools(client, headers=None) -> set[str]:
    return {t["name"] for t in _call(client, "tools/list", {}, headers)["result"]["tools"]}


def test_api_serves_the_mcp_tools(client):
    reads = {"retrieve", "cypher", "get_entity", "neighbourhood", "search_entities"}
    assert _tools(client) == reads  # no key given: no write tools
    assert _tools(client, {"Authorization": f"Bearer {API_KEY}"}) == reads | {"add_documents", "delete_document"}
    answer = _call(client, "tools/call", {"name": "retrieve", "arguments": {"question": "Where is Apple based?",
                                                                             "k": 1}})["result"]
    assert not answer.get("isError") and "Cupertino" in answer["content"][0]["text"]


def test_mcp_refuses_another_host(client):
    # DNS-rebinding protection while the API listens on loopback
    r = client.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
                    headers={**HEADERS, "Host": "evil.example"})
    assert r.status_code in (400, 403, 421)
