"""FastAPI service over the kg library."""
