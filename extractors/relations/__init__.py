"""Relation extractors: the fine-tuned marker classifier (marker.py) and the dependency-path
baseline (dependency.py). A new one is a module here plus one line in extractors/registry.py."""
