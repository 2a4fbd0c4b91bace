"""HTTP handlers for channels and their messages, and search over a space's messages. Every
one needs a signed-in account that is a member of the channel's space."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post, put
from litestar.params import FromPath, JSONBody, QueryParameter

from moot.accounts.api import SIGNED_IN, Account
from moot.channels.schemas import (
    ChannelList,
    ChannelView,
    CreateChannel,
    SearchResults,
    UpdateChannel,
)
from moot.errors import ErrorCode
from moot.http import answers
from moot.messages.schemas import (
    EditMessage,
    MarkRead,
    Message,
    MessageHistory,
    PinList,
    PostMessage,
    ReactionState,
    ReadState,
)
from moot.services import Svc

# A route about a space the caller is in; one that manages its channels.
IN_SPACE: tuple[ErrorCode, ...] = (*SIGNED_IN, "not_space_member", "not_found")
MANAGING: tuple[ErrorCode, ...] = (*IN_SPACE, "insufficient_role", "validation_failed")
# A route about a channel the caller sees; one about a message in a text channel.
IN_CHANNEL: tuple[ErrorCode, ...] = (*IN_SPACE, "channel_not_found")
ON_MESSAGES: tuple[ErrorCode, ...] = (*IN_CHANNEL, "not_a_text_channel")
ON_MESSAGE: tuple[ErrorCode, ...] = (*ON_MESSAGES, "message_not_found")

Limit = Annotated[int | None, QueryParameter(ge=1, le=100, description="default 50, max 100")]
Cursor = Annotated[
    int | None, QueryParameter(ge=1, le=2**63 - 1, description="a message id (exclusive)")
]
Query = Annotated[str, QueryParameter(min_length=1, max_length=200, description="words to find")]
SearchLimit = Annotated[int | None, QueryParameter(ge=1, le=50, description="default 20, max 50")]


class SpaceChannelController(Controller):
    path = "/api/v1/spaces/{space_id:uuid}"
    tags = ["channels"]

    @get(
        "/channels",
        summary="The channels you see, with your unread and mention counts",
        responses=answers(*IN_SPACE),
    )
    async def list_channels(
        self, services: Svc, account: Account, space_id: FromPath[uuid.UUID]
    ) -> ChannelList:
        return await services.channels.list_channels(account.account.id, space_id)

    @post(
        "/channels",
        status_code=201,
        summary="Create a text or voice channel (admin)",
        responses=answers(*MANAGING),
    )
    async def create_channel(
        self,
        data: JSONBody[CreateChannel],
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
    ) -> ChannelView:
        return await services.channels.create_channel(account.account.id, space_id, data)

    @get(
        "/search",
        summary="Messages in the space's channels you see (Russian and English full text)",
        responses=answers(*IN_SPACE, "validation_failed"),
    )
    async def search(
        self,
        services: Svc,
        account: Account,
        space_id: FromPath[uuid.UUID],
        q: Query,
        limit: SearchLimit = None,
    ) -> SearchResults:
        return await services.channels.search(account.account.id, space_id, q, limit)


class ChannelController(Controller):
    path = "/api/v1/channels/{channel_id:uuid}"
    tags = ["channels"]

    @patch(
        "/",
        summary="Rename, set the topic, reorder, slow mode, privacy and its list (admin)",
        responses=answers(*MANAGING, "channel_not_found"),
    )
    async def update_channel(
        self,
        data: JSONBody[UpdateChannel],
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
    ) -> ChannelView:
        return await services.channels.update_channel(account.account.id, channel_id, data)

    @delete(
        "/",
        status_code=204,
        summary="Delete the channel and its messages (admin)",
        responses=answers(*IN_CHANNEL, "insufficient_role"),
    )
    async def delete_channel(
        self, services: Svc, account: Account, channel_id: FromPath[uuid.UUID]
    ) -> None:
        await services.channels.delete_channel(account.account.id, channel_id)

    @get(
        "/messages",
        summary="The latest messages, or a page before/after a message id (oldest first)",
        responses=answers(*ON_MESSAGES, "validation_failed"),
    )
    async def history(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        limit: Limit = None,
        before: Cursor = None,
        after: Cursor = None,
    ) -> MessageHistory:
        return await services.channels.history(
            account.account.id, channel_id, before=before, after=after, limit=limit
        )

    @post(
        "/messages",
        status_code=201,
        summary="Send a message (slow mode and the rate limit apply)",
        responses=answers(*ON_MESSAGES, "validation_failed", "message_not_found"),
    )
    async def send(
        self,
        data: JSONBody[PostMessage],
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
    ) -> Message:
        return await services.channels.send(account.account.id, channel_id, data)

    @patch(
        "/messages/{message_id:int}",
        summary="Edit your message",
        responses=answers(*ON_MESSAGE, "validation_failed", "not_message_author"),
    )
    async def edit(
        self,
        data: JSONBody[EditMessage],
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
    ) -> Message:
        return await services.channels.edit(account.account.id, channel_id, message_id, data)

    @delete(
        "/messages/{message_id:int}",
        status_code=204,
        summary="Delete your message (admin: anyone's); a tombstone stays",
        responses=answers(*ON_MESSAGE, "not_message_author"),
    )
    async def delete_message(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
    ) -> None:
        await services.channels.delete(account.account.id, channel_id, message_id)

    @put(
        "/messages/{message_id:int}/reactions/{emoji:str}",
        summary="React (one per account per emoji)",
        responses=answers(*ON_MESSAGE, "validation_failed"),
    )
    async def react(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
        emoji: FromPath[str],
    ) -> ReactionState:
        return await services.channels.react(
            account.account.id, channel_id, message_id, emoji, add=True
        )

    @delete(
        "/messages/{message_id:int}/reactions/{emoji:str}",
        status_code=200,
        summary="Take your reaction back",
        responses=answers(*ON_MESSAGE, "validation_failed"),
    )
    async def unreact(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
        emoji: FromPath[str],
    ) -> ReactionState:
        return await services.channels.react(
            account.account.id, channel_id, message_id, emoji, add=False
        )

    @put(
        "/messages/{message_id:int}/pin",
        summary="Pin a message",
        responses=answers(*ON_MESSAGE),
    )
    async def pin(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
    ) -> Message:
        return await services.channels.pin(account.account.id, channel_id, message_id, pinned=True)

    @delete(
        "/messages/{message_id:int}/pin",
        status_code=200,
        summary="Unpin a message",
        responses=answers(*ON_MESSAGE),
    )
    async def unpin(
        self,
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
        message_id: FromPath[int],
    ) -> Message:
        return await services.channels.pin(account.account.id, channel_id, message_id, pinned=False)

    @get("/pins", summary="Pinned messages, latest pinned first", responses=answers(*ON_MESSAGES))
    async def pins(
        self, services: Svc, account: Account, channel_id: FromPath[uuid.UUID]
    ) -> PinList:
        return await services.channels.pins(account.account.id, channel_id)

    @put(
        "/read",
        summary="Mark read up to a message; every device gets read.updated",
        responses=answers(*ON_MESSAGE, "validation_failed"),
    )
    async def mark_read(
        self,
        data: JSONBody[MarkRead],
        services: Svc,
        account: Account,
        channel_id: FromPath[uuid.UUID],
    ) -> ReadState:
        return await services.channels.mark_read(account.account.id, channel_id, data)
