"""Chat over HTTP: parse, call ChatService, answer. (Live chat goes over the room topic.)"""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, delete, get, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from moot.chat.schemas import ChatMessage, DeleteResult, MessagePage, SendMessage
from moot.http import MEMBER, Caller, RoomId, answers
from moot.services import Svc

Limit = Annotated[int | None, QueryParameter(ge=1, le=100, description="default 50, max 100")]
Cursor = Annotated[str | None, QueryParameter(description="a message id")]


class ChatController(Controller):
    path = "/api/v1/rooms/{room:str}/chat/messages"
    tags = ["chat"]

    @get(
        "/",
        summary="Latest messages, or a page before/after a message id",
        responses=answers(*MEMBER, "validation_failed", "message_not_found"),
    )
    async def list_messages(
        self,
        services: Svc,
        participant: Caller,
        room_id: RoomId,
        limit: Limit = None,
        before: Cursor = None,
        after: Cursor = None,
    ) -> MessagePage:
        return await services.chat.history(
            room_id, participant, limit=limit, before=before, after=after
        )

    @post(
        "/",
        status_code=201,
        summary="Send a message",
        responses=answers(*MEMBER, "validation_failed"),
    )
    async def send_message(
        self, services: Svc, participant: Caller, data: JSONBody[SendMessage], room_id: RoomId
    ) -> ChatMessage:
        return await services.chat.send(room_id, participant, data.content)

    @put(
        "/{message_id:str}",
        summary="Edit your own message",
        responses=answers(
            *MEMBER, "validation_failed", "message_not_found", "not_message_author", "conflict"
        ),
    )
    async def edit_message(
        self,
        services: Svc,
        participant: Caller,
        data: JSONBody[SendMessage],
        room_id: RoomId,
        message_id: FromPath[str],
    ) -> ChatMessage:
        return await services.chat.edit(room_id, participant, message_id, data.content)

    @delete(
        "/{message_id:str}",
        status_code=200,
        summary="Delete your message (host: any)",
        responses=answers(*MEMBER, "message_not_found", "not_message_author", "conflict"),
    )
    async def delete_message(
        self, services: Svc, participant: Caller, room_id: RoomId, message_id: FromPath[str]
    ) -> DeleteResult:
        await services.chat.delete(room_id, participant, message_id)
        return DeleteResult(id=message_id)
