"""The embedded FalkorDB backend: the server process (server.py) and the store (store.py)."""
