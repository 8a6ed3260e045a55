"""The Neo4j backend: the store on the official driver (store.py) and Neo4j 5's dialect (dialect.py)."""
