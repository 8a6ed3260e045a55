"""Shared MiniLM plumbing for every model built on all-MiniLM-L6-v2 (the relation model, the
transformer NER tagger, the sentence embedder): loading the base (base.py), artifact files
(artifacts.py), batch-independent int8 inference (int8.py) and same-length batching (batching.py)."""
