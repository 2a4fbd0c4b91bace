"""uvicorn's HTTP protocol with a deadline for reading each request.

uvicorn closes a keep-alive connection that stays idle (`timeout_keep_alive`), but a connection
that sends nothing at all, half a request head or a body shorter than its Content-Length is
kept open for ever: neither httptools nor h11 has a clock, and uvicorn arms none until a
response is complete. A few hundred such connections cost a client nothing and hold sockets,
file descriptors and memory (slowloris). Here every request must arrive whole, head and body,
within `request_timeout` seconds of the connection opening or of its first byte on a
kept-alive connection; otherwise the connection is closed.

moot serves with httptools (uvicorn[standard] installs it); h11 is not used.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _DeadlineProtocol(HttpToolsProtocol):
    request_timeout: float  # set by `with_request_deadline`
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_clock()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_clock()  # the next request on a kept-alive connection

    def on_message_complete(self) -> None:
        self._stop_clock()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._stop_clock()  # the head is complete, and a socket has no more request to read
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        super().connection_lost(exc)

    def _start_clock(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def _stop_clock(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def with_request_deadline(seconds: float) -> type[asyncio.Protocol]:
    """The HTTP protocol class to hand to uvicorn (`http=`)."""
    return type("RequestDeadlineProtocol", (_DeadlineProtocol,), {"request_timeout": seconds})
