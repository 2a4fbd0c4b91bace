"""Who a WebSocket speaks for: a one-time ticket, the signed-in account's session, or an
anonymous credential; and whom a ticket is issued to.

The sockets' shared edge, like http.py is the requests': the gateway (realtime/api.py) and the
room socket (rooms/api.py) both ask here, so the realtime machinery imports no domain.
"""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, WebSocket

from moot.accounts.api import current_account, signed_in
from moot.errors import MootError
from moot.realtime.tickets import SocketCaller
from moot.services import Svc


def ticket_holder(request: Request[Any, Any, Any], participant: uuid.UUID) -> SocketCaller:
    """Whom a WebSocket ticket is issued to: the caller, and the account session the request
    was signed in with (the socket it opens closes when that session ends)."""
    account = current_account(request)
    return SocketCaller(participant, account.session_id if account is not None else None)


async def socket_participant(
    socket: WebSocket[Any, Any, Any], services: Svc, room: str | None = None
) -> SocketCaller:
    """The participant a WebSocket speaks for: `?ticket=` (one-time, from `POST …/ws-ticket`),
    else the signed-in account (its cookie is checked like an unsafe request's, against
    cross-site pages), else the credential itself as `?token=`, which clients written before
    tickets still send.

    `room` is the room socket's `{room}`: its ticket must have been issued for that room.
    Without it the socket is the gateway, whose ticket names no room.

    A ticket issued to a signed-in caller carries their session, which must still be live
    (401 `session_expired` otherwise), as must a session the socket presents itself."""
    ticket = socket.query_params.get("ticket")
    if ticket is not None:
        room_id = None if room is None else await services.rooms.resolve(room)
        caller = await services.tickets.redeem(ticket, services.tickets.purpose(room_id))
        if caller.session_id is not None and not await services.accounts.live_sessions(
            [caller.session_id]
        ):
            raise MootError("session_expired")
        return caller
    account = await signed_in(socket, services, unsafe=True)
    if account is not None:
        return SocketCaller(account.account.id, account.session_id)
    return SocketCaller(services.identity.verify(socket.query_params.get("token", "")))
