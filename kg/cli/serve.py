"""`kg serve`: the HTTP service (api/) under uvicorn."""

from __future__ import annotations


def cmd_serve(args) -> int:
    import uvicorn

    from kg.config import get_settings

    settings = get_settings()
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    # uvicorn handles SIGTERM and Ctrl-C itself; the app's shutdown closes the store and its server
    uvicorn.run("api.main:app", host=host, port=port, log_level="info")
    return 0


def register(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (OpenAPI docs at /docs)")
    p.add_argument("--host", default=None, help="address to listen on (default KG_API_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default KG_API_PORT, 8000)")
    p.set_defaults(func=cmd_serve)
