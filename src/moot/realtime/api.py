"""The gateway socket `/ws?token=…`: one per client, topics inside (realtime/gateway.py)."""

from __future__ import annotations

from typing import Any

from litestar import WebSocket, websocket

from moot.errors import MootError
from moot.identity.api import socket_participant
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import error
from moot.services import Svc


@websocket("/ws")
async def gateway_socket(socket: WebSocket[Any, Any, Any], services: Svc) -> None:
    """Subscribe with `{"type": "subscribe", "topic": "room:<id>", "since"?: "<cursor>"}`."""
    await socket.accept()
    try:
        caller = await socket_participant(socket, services)
    except MootError as exc:
        await socket.send_text(error(exc.code, exc.message))
        await socket.close(code=CloseCode.INVALID_CREDENTIAL, reason=exc.code)
        return
    await services.gateway.serve(socket, caller)
