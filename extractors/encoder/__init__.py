"""Shared MiniLM plumbing for every model built on all-MiniLM-L6-v2: batch-independent
int8 inference and same-length batching (used by the relation model, the transformer NER
tagger and the sentence embedder)."""
