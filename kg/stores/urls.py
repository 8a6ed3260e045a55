"""Store URLs (`kg migrate --from URL --to URL`) and their safe display.

    falkordb://DATA_DIR[?graph=NAME]               the embedded store in DATA_DIR (falkordb:///abs/dir)
    bolt://HOST:PORT[?database=NAME]               Neo4j; also neo4j://, bolt+s://, neo4j+s://, ...
    bolt://USER:PASSWORD@HOST:PORT                 credentials in the URL win over KG_NEO4J_USER / _PASSWORD
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from kg.errors import StoreError

NEO4J_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
USAGE = "use falkordb://DATA_DIR (the embedded store) or bolt://HOST:7687 / neo4j://HOST:7687 (Neo4j)"


def redact(url: str) -> str:
    """The URL without its user information (bolt://user:secret@host -> bolt://host): what may be shown."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<an unreadable URL>"
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, ""))


@dataclass(frozen=True)
class StoreURL:
    backend: str  # "falkordb" or "neo4j"
    data_dir: Path | None = None  # falkordb
    graph_name: str | None = None  # falkordb: ?graph=
    uri: str | None = None  # neo4j: the URL less ?database= (it may hold credentials: never show it)
    database: str | None = None  # neo4j: ?database=

    @property
    def shown(self) -> str:
        if self.backend == "falkordb":
            return f"falkordb://{self.data_dir}" + (f"?graph={self.graph_name}" if self.graph_name else "")
        shown = redact(self.uri or "")
        return shown + (f"{'&' if '?' in shown else '?'}database={self.database}" if self.database else "")


def parse_store_url(url: str) -> StoreURL:
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StoreError(f"{redact(url)!r} is not a store URL; {USAGE}")
    if scheme == "falkordb":
        path, _, query = rest.partition("?")
        if not path:
            raise StoreError(f"{url!r} names no data directory; {USAGE}")
        params = dict(parse_qsl(query))
        return StoreURL("falkordb", data_dir=Path(path), graph_name=params.get("graph"))
    if scheme in NEO4J_SCHEMES:
        parts = urlsplit(url)
        params = parse_qsl(parts.query)
        database = next((v for k, v in params if k == "database"), None)
        query = urlencode([(k, v) for k, v in params if k != "database"])
        return StoreURL("neo4j", uri=urlunsplit((parts.scheme, parts.netloc, parts.path, query, "")),
                        database=database)
    raise StoreError(f"{redact(url)!r} is not a store URL; {USAGE}")


def same_store(a: StoreURL, b: StoreURL, default_graph: str) -> bool:
    """Whether two URLs name the same graph (a migration onto itself)."""
    if a.backend != b.backend:
        return False
    if a.backend == "falkordb":
        return (a.data_dir.resolve() == b.data_dir.resolve()  # type: ignore[union-attr]
                and (a.graph_name or default_graph) == (b.graph_name or default_graph))
    return redact(a.uri or "") == redact(b.uri or "") and a.database == b.database
