"""Chat over HTTP and the room WebSocket: parse, call ChatService, answer."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, cast

import msgspec
from litestar import Controller, WebSocket, delete, get, post, put, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath, JSONBody, QueryParameter
from redis.exceptions import RedisError

from moot.chat.hub import (
    CLOSE_FORBIDDEN,
    CLOSE_INVALID_CREDENTIAL,
    CLOSE_NOT_FOUND,
    CLOSE_ROOM_ENDED,
    Connection,
    close_reason,
)
from moot.chat.schemas import (
    ChatMessage,
    ClientAnswer,
    ClientFrame,
    ClientIce,
    ClientOffer,
    ClientPing,
    ClientSend,
    ClientTyping,
    EventHead,
    MessagePage,
    SendMessage,
)
from moot.chat.service import ChatService, clean_message_id
from moot.chat.store import cursor_key
from moot.errors import MootError
from moot.rooms.api import Caller, RoomRef
from moot.rooms.schemas import ParticipantView
from moot.services import Svc
from moot.settings import Settings

_encode = msgspec.json.Encoder().encode
_decode_frame = msgspec.json.Decoder(ClientFrame).decode
_decode_head = msgspec.json.Decoder(EventHead).decode

Limit = Annotated[int | None, QueryParameter(ge=1, le=100, description="default 50, max 100")]
Cursor = Annotated[str | None, QueryParameter(description="a message id")]


class DeleteResult(msgspec.Struct):
    id: str
    deleted: bool = True


class ChatController(Controller):
    path = "/api/v1/rooms/{room:str}/chat/messages"
    tags = ["chat"]

    @get("/", summary="Latest messages, or a page before/after a message id")
    async def list_messages(
        self,
        services: Svc,
        participant: Caller,
        room: RoomRef,
        limit: Limit = None,
        before: Cursor = None,
        after: Cursor = None,
    ) -> MessagePage:
        settings = services.settings
        size = min(limit or settings.chat_history_default_limit, settings.chat_history_max_limit)
        return await services.chat.history(
            room,
            participant,
            limit=size,
            before=clean_message_id(before) if before else None,
            after=clean_message_id(after) if after else None,
        )

    @post("/", status_code=201, summary="Send a message")
    async def send_message(
        self, services: Svc, participant: Caller, data: JSONBody[SendMessage], room: RoomRef
    ) -> ChatMessage:
        return await services.chat.send(room, participant, data.content)

    @put("/{message_id:str}", summary="Edit your own message")
    async def edit_message(
        self,
        services: Svc,
        participant: Caller,
        data: JSONBody[SendMessage],
        room: RoomRef,
        message_id: FromPath[str],
    ) -> ChatMessage:
        return await services.chat.edit(
            room, participant, clean_message_id(message_id), data.content
        )

    @delete("/{message_id:str}", status_code=200, summary="Delete your message (host: any)")
    async def delete_message(
        self, services: Svc, participant: Caller, room: RoomRef, message_id: FromPath[str]
    ) -> DeleteResult:
        await services.chat.delete(room, participant, clean_message_id(message_id))
        return DeleteResult(id=message_id)


def _error_frame(code: str, message: str) -> str:
    return _encode({"type": "error", "code": code, "message": message}).decode()


@websocket("/ws/chat/{room:str}")
async def chat_socket(
    socket: WebSocket[Any, Any, Any],
    room: FromPath[str],
    services: Svc,
) -> None:
    """The room's live channel. `?token=<credential>` authenticates (browsers cannot set
    headers on WebSockets); `?since=<cursor>` replays the events missed since then."""
    identity, rooms, chat = services.identity, services.rooms, services.chat
    hub, presence, settings = services.hub, services.presence, services.settings
    await socket.accept()
    try:
        participant_id = identity.verify(socket.query_params.get("token", ""))
        room_id = await rooms.resolve(room)
        seat = await rooms.require_participant(room_id, participant_id)
    except MootError as exc:
        code = {
            "invalid_credential": CLOSE_INVALID_CREDENTIAL,
            "room_not_found": CLOSE_NOT_FOUND,
            "room_ended": CLOSE_ROOM_ENDED,
        }.get(exc.code, CLOSE_FORBIDDEN)
        await socket.send_text(_error_frame(exc.code, exc.message))
        await socket.close(code=code, reason=exc.code)
        return

    connection = Connection(socket, room_id, participant_id, settings.ws_send_queue_size)
    await hub.attach(connection)
    await presence.arrived(room_id, participant_id)
    try:
        if not await _replay(socket, connection, chat, seat, socket.query_params.get("since")):
            return
        connection.start()
        await _receive(socket, connection, chat, seat, settings)
    finally:
        await hub.detach(connection)
        await connection.stop()
        with contextlib.suppress(RedisError, OSError):
            await presence.departed(room_id, participant_id)


async def _replay(
    socket: WebSocket[Any, Any, Any],
    connection: Connection,
    chat: ChatService,
    seat: ParticipantView,
    since: str | None,
) -> bool:
    """Send what the client missed, then `ready`; False if the socket was closed meanwhile."""
    room_id = connection.room_id
    last = await chat.last_cursor(room_id)
    if since:
        try:
            cursor_key(since)
            missed = await chat.events_since(room_id, since)
        except ValueError:
            await socket.send_text(_error_frame("invalid_cursor", "since is not a cursor"))
            missed = None
        if missed is None:
            await socket.send_text(_encode({"type": "resync", "cursor": last}).decode())
        else:
            for cursor, event in missed:
                await socket.send_text(f'{{"cursor":"{cursor}",{event[1:].decode()}')
                ending = close_reason(_decode_head(event), connection.participant_id)
                if ending is not None:
                    await socket.close(code=ending[0], reason=ending[1])
                    return False
                last = max(last, cursor, key=cursor_key)
    connection.replayed_upto = cursor_key(last)
    await socket.send_text(_encode({"type": "ready", "cursor": last, "you": seat}).decode())
    return True


async def _receive(
    socket: WebSocket[Any, Any, Any],
    connection: Connection,
    chat: ChatService,
    seat: ParticipantView,
    settings: Settings,
) -> None:
    max_frame = settings.ws_max_frame_bytes
    while not connection.closed.is_set():
        try:
            event = await socket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if event["type"] == "websocket.disconnect":
            return
        raw = cast(str | None, event.get("text"))
        if raw is None:
            connection.push(_error_frame("invalid_frame", "Send JSON text frames."))
            continue
        if len(raw) > max_frame // 4 and len(raw.encode()) > max_frame:  # cheap check first
            connection.push(
                _error_frame("frame_too_large", f"Frames are limited to {max_frame} bytes.")
            )
            continue
        try:
            frame = _decode_frame(raw)
        except msgspec.DecodeError as exc:
            connection.push(_error_frame("invalid_frame", str(exc)))
            continue
        try:
            if isinstance(frame, ClientPing):
                connection.push('{"type":"pong"}')
            elif isinstance(frame, ClientTyping):
                await chat.typing(connection.room_id, seat)
            elif isinstance(frame, ClientOffer | ClientAnswer | ClientIce):
                await chat.signal(connection.room_id, connection.participant_id, frame)
            elif isinstance(frame, ClientSend):
                message = await chat.send_as(connection.room_id, seat, frame.content)
                if frame.client_id is not None:
                    ack = {"type": "message.sent", "client_id": frame.client_id, "id": message.id}
                    connection.push(_encode(ack).decode())
        except MootError as exc:
            payload: dict[str, Any] = {"type": "error", "code": exc.code, "message": exc.message}
            payload.update(exc.details)
            connection.push(_encode(payload).decode())
