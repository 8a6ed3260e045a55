"""Request and response bodies of the HTTP API, one module per router (common.py: the errors)."""
