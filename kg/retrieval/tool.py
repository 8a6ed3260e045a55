"""The retrieve tool as a function-calling definition, for agent frameworks (OpenAI-style tools,
and the MCP server's tool list)."""

from __future__ import annotations

from typing import Any

from graph_schema import Schema

DESCRIPTION = (
    "Search the knowledge graph built from the user's documents and return context to answer a question: "
    "the most relevant passages, numbered [1], [2], ... with their document id and character offsets, "
    "the facts (head, relation, tail) stated in them, and the entities involved. Use it before answering "
    "any question about the documents; quote and cite the passages by their numbers. Works best with a full "
    "natural-language question naming the people, organisations, places or things it is about; for "
    "multi-hop questions pass the whole question, the graph connects the hops."
)


def tool_schema(schema: Schema | None = None) -> dict[str, Any]:
    types = sorted(schema.entity_types) if schema is not None else []
    entity_types: dict[str, Any] = {"type": "array", "items": {"type": "string"},
                                    "description": "only entities and facts of these types"}
    if types:
        entity_types["items"]["enum"] = types
    return {
        "type": "function",
        "function": {
            "name": "retrieve",
            "description": DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {
                    "question": {"type": "string", "description": "the user's question, in full"},
                    "k": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5,
                          "description": "how many passages to return"},
                    "doc_ids": {"type": "array", "items": {"type": "string"},
                                "description": "only passages from these documents"},
                    "metadata": {"type": "object", "additionalProperties": True,
                                 "description": "only documents whose metadata has all these field values"},
                    "entity_types": entity_types,
                },
                "required": ["question"],
                "additionalProperties": False,
            },
        },
    }
