"""The gateway socket `/ws?ticket=…`: one per client, topics inside (realtime/gateway.py)."""

from __future__ import annotations

from typing import Any

from litestar import Request, WebSocket, post, websocket

from moot.errors import MootError
from moot.http import CALLER, Caller, answers
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import error
from moot.realtime.tickets import SocketTicket
from moot.services import Svc
from moot.sockets import socket_participant, ticket_holder


@post(
    "/api/v1/ws-ticket",
    status_code=200,
    tags=["realtime"],
    summary="A one-time ticket to open the gateway socket",
    responses=answers(*CALLER),
)
async def gateway_ticket(
    request: Request[Any, Any, Any], services: Svc, participant: Caller
) -> SocketTicket:
    """Open `/ws?ticket=<ticket>` within `expires_in` seconds; the ticket opens one socket.
    It keeps the long-lived credential out of the socket's URL."""
    holder = ticket_holder(request, participant)
    return await services.tickets.issue(holder, services.tickets.purpose(None))


@websocket("/ws")
async def gateway_socket(socket: WebSocket[Any, Any, Any], services: Svc) -> None:
    """Subscribe with `{"type": "subscribe", "topic": "room:<id>", "since"?: "<cursor>"}`.
    `?ticket=` (from `POST /api/v1/ws-ticket`) or `?token=<credential>` authenticates."""
    await socket.accept()
    try:
        caller = await socket_participant(socket, services)
    except MootError as exc:
        await socket.send_text(error(exc.code, exc.message))
        await socket.close(code=CloseCode.INVALID_CREDENTIAL, reason=exc.code)
        return
    await services.gateway.serve(socket, caller.participant_id, caller.session_id)
