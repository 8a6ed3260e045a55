"""`kg mcp`: the MCP server for agents over stdio (api/mcp.py); the API serves it over HTTP at /mcp."""

from __future__ import annotations


def cmd_mcp(args) -> int:
    from api.mcp import main_stdio
    from kg.config import get_settings

    # stdout is the protocol's wire from here on: nothing else may print to it
    return main_stdio(get_settings())


def register(sub) -> None:
    p = sub.add_parser(
        "mcp", help="the MCP server for agents over stdio (tools: retrieve, cypher, get_entity, ...)",
        description="Serve kg's tools over the Model Context Protocol on stdin/stdout, for an agent that "
                    "launches this command. The write tools (add_documents, delete_document) are offered only "
                    "when KG_API_KEY is set and the client's environment gives KG_MCP_API_KEY equal to it.")
    p.set_defaults(func=cmd_mcp)
