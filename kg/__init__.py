"""kg: knowledge-graph construction with small local models."""

__version__ = "0.1.0"
