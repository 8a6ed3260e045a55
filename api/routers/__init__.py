"""One router per concern, each mounted under /v1 by api/main.py."""
