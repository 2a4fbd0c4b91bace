"""A loopback TCP link to a real server that a test can cut and restore: a network outage
between moot and Redis, without stopping the Redis other tests (and other processes) use.

While cut, open connections are closed and new ones are closed as soon as they arrive, as a
dead network path or a crashed server looks to a client."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from urllib.parse import parse_qs, urlsplit, urlunsplit


class NetworkLink:
    def __init__(self, target_url: str) -> None:
        self._target = urlsplit(target_url)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.is_cut = False
        self.url = ""

    async def __aenter__(self) -> NetworkLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        target = self._target
        if target.scheme == "unix":  # the embedded Valkey: its database goes in the path
            db = parse_qs(target.query).get("db", ["0"])[0]
            self.url = f"redis://127.0.0.1:{port}/{db}"
            return self
        netloc = f"127.0.0.1:{port}"
        if target.username or target.password:
            netloc = f"{target.netloc.rpartition('@')[0]}@{netloc}"
        self.url = urlunsplit(target._replace(netloc=netloc))
        return self

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        target = self._target
        if target.scheme == "unix":
            return await asyncio.open_unix_connection(target.path)
        return await asyncio.open_connection(target.hostname or "127.0.0.1", target.port or 6379)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._server.wait_closed()

    def cut(self) -> None:
        self.is_cut = True
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def restore(self) -> None:
        self.is_cut = False

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await self._connect()
        except OSError:
            writer.close()
            return
        self._writers.update((writer, upstream_writer))
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            task = asyncio.create_task(self._pipe(source, sink, (writer, upstream_writer)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        pair: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        try:
            while data := await source.read(65_536):
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            for writer in pair:  # one side gone: the whole connection is
                writer.close()
                self._writers.discard(writer)
