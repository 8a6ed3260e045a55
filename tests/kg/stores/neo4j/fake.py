"""A stand-in for the neo4j driver that records what the store sends: every statement with its
parameters, the session's access mode, the managed-transaction function it ran in (read or
write) and that function's timeout. It answers from a function of (query, params); without
one, a query that ends in RETURN count(...) gives 0 and every other query no rows, as on an
empty graph. It checks nothing about Cypher: the static check
(test_cypher_static.py) and the contract suite on a real server do that."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import neo4j


_COUNT = re.compile(r"RETURN count\(\w*\)( AS \w+)?$")


def empty_graph(query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"n": 0}] if _COUNT.search(query) else []


@dataclass
class Call:
    session_mode: str  # neo4j.READ_ACCESS or neo4j.WRITE_ACCESS
    tx: str  # "read" (execute_read), "write" (execute_write) or "auto" (session.run)
    tx_id: int  # one number per transaction function call
    query: str
    params: dict[str, Any]
    timeout: float | None


class FakeRecord:
    def __init__(self, row: dict[str, Any]):
        self._row = row

    def values(self) -> list[Any]:
        return list(self._row.values())

    def items(self):
        return self._row.items()

    def __getitem__(self, i: int) -> Any:
        return list(self._row.values())[i]


class FakeResult:
    def __init__(self, rows: list[dict[str, Any]]):
        self._rows = rows
        self.fetched = 0

    def __iter__(self) -> Iterator[FakeRecord]:
        for row in self._rows:
            self.fetched += 1
            yield FakeRecord(row)

    def consume(self) -> None:
        pass

    def single(self) -> FakeRecord | None:
        return FakeRecord(self._rows[0]) if self._rows else None


class FakeTx:
    def __init__(self, session: "FakeSession", kind: str, timeout: float | None):
        self.session, self.kind, self.timeout = session, kind, timeout
        self.tx_id = session.driver.next_tx()

    def run(self, query: str, params: dict[str, Any] | None = None, **kw: Any) -> FakeResult:
        params = dict(params or {}, **kw)
        drv = self.session.driver
        drv.calls.append(Call(self.session.mode, self.kind, self.tx_id, query, params, self.timeout))
        result = FakeResult(drv.respond(query, params))
        drv.results.append(result)
        return result


class FakeSession:
    def __init__(self, driver: "FakeDriver", database: str | None, default_access_mode: str):
        self.driver, self.database, self.mode = driver, database, default_access_mode

    def __enter__(self) -> "FakeSession":
        return self

    def __exit__(self, *exc: Any) -> None:
        pass

    def _managed(self, kind: str, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(FakeTx(self, kind, getattr(fn, "timeout", None)), *args)

    def execute_read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._managed("read", fn, *args)

    def execute_write(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self._managed("write", fn, *args)

    def run(self, query: str, params: dict[str, Any] | None = None, **kw: Any) -> FakeResult:
        return FakeTx(self, "auto", None).run(query, params, **kw)


class FakeDriver:
    def __init__(self, respond: Callable[[str, dict[str, Any]], list[dict[str, Any]]] | None = None):
        self.respond = respond or empty_graph
        self.calls: list[Call] = []
        self.results: list[FakeResult] = []
        self.sessions: list[FakeSession] = []
        self.closed = False
        self._tx = 0

    def next_tx(self) -> int:
        self._tx += 1
        return self._tx

    def session(self, database: str | None = None, default_access_mode: str = neo4j.WRITE_ACCESS) -> FakeSession:
        s = FakeSession(self, database, default_access_mode)
        self.sessions.append(s)
        return s

    def verify_connectivity(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True
