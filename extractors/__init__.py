"""Entity and relation extractors (spaCy NER, relation models)."""
