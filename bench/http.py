"""A lean HTTP/1.1 keep-alive client for the join benchmark's load.

The driver shares this 2-core machine with moot, PostgreSQL and Valkey, so what it spends per
request is taken from the server being measured: aiohttp cost about 190 µs of CPU per request
here, about a third of what the server itself spends on a join. This client writes the request
bytes itself and reads only the status line, Content-Length and body, for a fraction of that.
It speaks plain HTTP/1.1 over TCP to the real server; the report shows the driver's CPU too.
"""

from __future__ import annotations

import asyncio


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self._reader = reader
        self._writer = writer
        self._host = host.encode()

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer, f"{host}:{port}")

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}".encode())
        if body:
            head.append(b"Content-Type: application/json")
        head.append(b"Content-Length: %d" % len(body))
        self._writer.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        status_line = await self._reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length = -1
        while (line := await self._reader.readuntil(b"\r\n")) != b"\r\n":
            header, _, field = line.partition(b":")
            if header.lower() == b"content-length":
                length = int(field)
        if length < 0:
            raise HttpError("the benchmark client needs a Content-Length")
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        await self._writer.wait_closed()
