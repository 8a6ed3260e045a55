"""Entity and relation types, their constraints, and NER label mappings."""

from graph_schema.schema import EntityType, RelationType, Schema, SchemaError, load_schema

__all__ = ["EntityType", "RelationType", "Schema", "SchemaError", "load_schema"]
