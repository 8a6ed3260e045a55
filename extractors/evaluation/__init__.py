"""Scoring: shared metrics (metrics.py), relation evaluation (relations.py), NER evaluation (ner.py)."""
