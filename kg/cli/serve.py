"""`kg serve`: the HTTP service (api/) under uvicorn."""

from __future__ import annotations

import sys

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def cmd_serve(args) -> int:
    import uvicorn

    from kg.config import get_settings

    settings = get_settings()
    host = args.host or settings.api_host
    port = settings.api_port if args.port is None else args.port
    shown = f"[{host}]" if ":" in host else host
    print(f"kg: serving http://{shown}:{port}/v1 (OpenAPI docs at http://{shown}:{port}/docs)",
          file=sys.stderr, flush=True)
    if host not in LOOPBACK and not settings.api_key:
        print(f"kg: warning: listening on {host} with no KG_API_KEY: anyone who can reach this port "
              "can add and delete documents", file=sys.stderr, flush=True)
    # uvicorn handles SIGTERM and Ctrl-C itself; the app's shutdown stops the ingestion worker after
    # its current batch and closes the store and its server. Jobs not finished resume at the next start.
    uvicorn.run("api.main:app", host=host, port=port, log_level="info")
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API under /v1 (OpenAPI docs at /docs)")
    p.add_argument("--host", default=None, help="address to listen on (default KG_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default KG_API_PORT, 8000)")
    p.set_defaults(func=cmd_serve)
