"""The rules of channels: who sees one, who manages it, and what a member may post there.

Every member of a space sees its public channels; a private one is seen by the accounts and
roles it lists and by the space's owner. Admins (and the owner) create, change and delete the
channels they see, post @everyone, delete anyone's message and skip slow mode. A channel the
caller does not see answers 404 `channel_not_found`, exactly as one that does not exist; one
in a space the caller is not in, 403 `not_space_member`. Membership and roles are asked of
SpaceService, never read from its tables.

Channel events go where their audience listens: a public channel's on `space:{id}`, a private
one's on the `user:{id}` topic of each account that sees it (so nobody else learns its name),
and changes to a channel also on its own `channel:{id}` topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

import asyncpg
import msgspec

from moot.channels import store
from moot.channels.schemas import (
    AccessRevoked,
    ChannelCreated,
    ChannelDeleted,
    ChannelEvent,
    ChannelList,
    ChannelRead,
    ChannelRef,
    ChannelUpdated,
    ChannelView,
    CreateChannel,
    SearchHit,
    SearchResults,
    Typing,
    UpdateChannel,
)
from moot.channels.store import Channel, SlowMode
from moot.errors import MootError
from moot.messages.schemas import (
    Conversation,
    EditMessage,
    MarkRead,
    Mentionable,
    Message,
    MessageHistory,
    PinList,
    PostMessage,
    ReactionState,
    ReadState,
    Speaker,
)
from moot.messages.service import MessageService, user_topic
from moot.realtime.log import TopicLog
from moot.spaces.schemas import MemberView, Role
from moot.spaces.service import SpaceService, clean_space_name

_encode = msgspec.json.Encoder().encode
_MANAGERS: frozenset[Role] = frozenset(("owner", "admin"))


def channel_topic(channel_id: uuid.UUID) -> str:
    return f"channel:{channel_id}"


def sees(channel: Channel, account_id: uuid.UUID, role: Role) -> bool:
    """Whether a member of the channel's space with this role sees it."""
    return (
        not channel.private
        or role == "owner"
        or account_id in channel.member_ids
        or role in channel.roles
    )


def view(channel: Channel, read: ChannelRead | None = None) -> ChannelView:
    return ChannelView(
        id=channel.id,
        space_id=channel.space_id,
        kind=channel.kind,
        name=channel.name,
        topic=channel.topic,
        position=channel.position,
        private=channel.private,
        member_ids=sorted(channel.member_ids, key=str) if channel.private else [],
        roles=list(channel.roles) if channel.private else [],
        slow_mode_seconds=channel.slow_mode_seconds,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
        read=read,
    )


def _clean_name(value: str) -> str:
    try:
        return clean_space_name(value)
    except MootError:
        raise MootError(
            "validation_failed", "name must be 1 to 64 visible characters.", field="name"
        ) from None


def _clean_topic(value: str) -> str:
    value = value.strip()
    if any(not (ch.isprintable() or ch == "\n") for ch in value):
        raise MootError("validation_failed", "topic has control characters.", field="topic")
    return value


@dataclass(frozen=True, slots=True)
class Seen:
    """A channel as one member sees it."""

    channel: Channel
    account_id: uuid.UUID
    role: Role

    @property
    def manages(self) -> bool:
        return self.role in _MANAGERS

    def speaker(self) -> Speaker:
        if self.channel.kind != "text":
            raise MootError("not_a_text_channel")
        return Speaker(
            conversation=Conversation(self.channel.id, "channel"),
            account_id=self.account_id,
            moderator=self.manages,
        )


class ChannelService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        spaces: SpaceService,
        messages: MessageService,
        log: TopicLog,
        slow_mode: SlowMode,
    ) -> None:
        self._pool = pool
        self._spaces = spaces
        self._messages = messages
        self._log = log
        self._slow_mode = slow_mode

    # -- channels ------------------------------------------------------------------------

    async def list_channels(self, account_id: uuid.UUID, space_id: uuid.UUID) -> ChannelList:
        role = await self._require_role(account_id, space_id)
        async with self._pool.acquire() as conn:
            channels = [
                c
                for c in await store.channels_of_space(conn, space_id)
                if sees(c, account_id, role)
            ]
        texts = [Conversation(c.id, "channel") for c in channels if c.kind == "text"]
        states = await self._messages.read_states(account_id, texts)
        items: list[ChannelView] = []
        for channel in channels:
            read = None
            if channel.id in states:
                state, last_message = states[channel.id]
                read = ChannelRead(
                    last_read_id=state.last_read_id,
                    last_message_id=last_message,
                    unread_count=state.unread_count,
                    mention_count=state.mention_count,
                )
            items.append(view(channel, read))
        return ChannelList(items=items)

    async def create_channel(
        self, account_id: uuid.UUID, space_id: uuid.UUID, body: CreateChannel
    ) -> ChannelView:
        await self._require_role(account_id, space_id, manage=True)
        name = _clean_name(body.name)
        topic = _clean_topic(body.topic)
        members = await self._spaces.list_members(account_id, space_id)
        listed = self._listed(body.member_ids, members) if body.private else []
        if body.private and account_id not in listed:
            listed.append(account_id)  # whoever makes a private channel is in it
        async with self._pool.acquire() as conn, conn.transaction():
            channel_id = await self._messages.create_conversation(conn, "channel", space_id)
            await store.insert_channel(
                conn,
                channel_id,
                space_id,
                kind=body.kind,
                name=name,
                topic=topic,
                position=body.position,
                private=body.private,
                roles=sorted(set(body.roles)) if body.private else [],
                slow_mode_seconds=body.slow_mode_seconds,
                created_by=account_id,
            )
            await store.set_members(conn, channel_id, listed)
            channel = await store.channel(conn, channel_id)
            assert channel is not None
            await self._announce(None, channel, members)
        return view(channel)

    async def update_channel(
        self, account_id: uuid.UUID, channel_id: uuid.UUID, body: UpdateChannel
    ) -> ChannelView:
        seen = await self._see(account_id, channel_id)
        if not seen.manages:
            raise MootError("insufficient_role")
        space_id = seen.channel.space_id
        changes: dict[str, object] = {}
        if body.name is not None:
            changes["name"] = _clean_name(body.name)
        if body.topic is not None:
            changes["topic"] = _clean_topic(body.topic)
        if body.position is not None:
            changes["position"] = body.position
        if body.slow_mode_seconds is not None:
            changes["slow_mode_seconds"] = body.slow_mode_seconds
        if body.private is not None:
            changes["private"] = body.private
        if body.roles is not None:
            changes["roles"] = sorted(set(body.roles))
        members = await self._spaces.list_members(account_id, space_id)
        listed = None if body.member_ids is None else self._listed(body.member_ids, members)
        async with self._pool.acquire() as conn, conn.transaction():
            before = await store.channel(conn, channel_id, lock=True)
            if before is None:
                raise MootError("channel_not_found")
            await store.update_channel(conn, channel_id, changes)
            if listed is not None:
                await store.set_members(conn, channel_id, listed)
            after = await store.channel(conn, channel_id)
            assert after is not None
            await self._announce(before, after, members)
        return view(after)

    async def delete_channel(self, account_id: uuid.UUID, channel_id: uuid.UUID) -> None:
        """The channel and all its messages go; its open subscriptions end."""
        seen = await self._see(account_id, channel_id)
        if not seen.manages:
            raise MootError("insufficient_role")
        members = await self._spaces.list_members(account_id, seen.channel.space_id)
        async with self._pool.acquire() as conn, conn.transaction():
            channel = await store.channel(conn, channel_id, lock=True)
            if channel is None:
                raise MootError("channel_not_found")
            await self._messages.delete_conversation(conn, channel_id)
            await self._announce(channel, None, members)

    async def visible(self, account_id: uuid.UUID, channel_id: uuid.UUID) -> ChannelView:
        """The channel, if the account sees it (the gateway's admission)."""
        return view((await self._see(account_id, channel_id)).channel)

    async def still_visible(
        self, pairs: Sequence[tuple[uuid.UUID, uuid.UUID]]
    ) -> list[bool | None]:
        """For each (account, channel): True if it still sees the channel, False if it lost
        it, None if the channel is gone. One query for the channels, one per account."""
        async with self._pool.acquire() as conn:
            found = await store.channels(conn, list({channel for _, channel in pairs}))
        roles: dict[uuid.UUID, dict[uuid.UUID, Role]] = {}
        for account_id in {account for account, _ in pairs}:
            roles[account_id] = {
                space.id: space.role for space in await self._spaces.list_spaces(account_id)
            }
        answers: list[bool | None] = []
        for account_id, channel_id in pairs:
            channel = found.get(channel_id)
            if channel is None:
                answers.append(None)
                continue
            role = roles[account_id].get(channel.space_id)
            answers.append(role is not None and sees(channel, account_id, role))
        return answers

    async def revoke(self, channel_id: uuid.UUID, accounts: Iterable[uuid.UUID]) -> None:
        """End these accounts' subscriptions to the channel on every instance."""
        for account_id in accounts:
            event = AccessRevoked(to=account_id, channel_id=channel_id)
            await self._log.publish_ephemeral(channel_topic(channel_id), _encode(event))

    async def membership_changed(self, space_id: uuid.UUID, accounts: Iterable[uuid.UUID]) -> None:
        """Spaces' hook, after a member left, was removed or changed role: end, on every
        instance, their subscriptions to the space's channels they no longer see."""
        async with self._pool.acquire() as conn:
            channels = await store.channels_of_space(conn, space_id)
        for account_id in accounts:
            role = await self._role(account_id, space_id)
            lost = [c.id for c in channels if role is None or not sees(c, account_id, role)]
            for channel_id in lost:
                await self.revoke(channel_id, (account_id,))

    async def typing(self, account_id: uuid.UUID, channel_id: uuid.UUID) -> None:
        event = Typing(channel_id=channel_id, account_id=account_id)
        await self._log.publish_ephemeral(channel_topic(channel_id), _encode(event))

    # -- messages ------------------------------------------------------------------------

    async def history(
        self,
        account_id: uuid.UUID,
        channel_id: uuid.UUID,
        *,
        before: int | None,
        after: int | None,
        limit: int | None,
    ) -> MessageHistory:
        speaker = (await self._see(account_id, channel_id)).speaker()
        return await self._messages.history(speaker, before=before, after=after, limit=limit)

    async def send(
        self, account_id: uuid.UUID, channel_id: uuid.UUID, body: PostMessage
    ) -> Message:
        seen = await self._see(account_id, channel_id)
        speaker = seen.speaker()

        async def slow_mode() -> None:
            seconds = seen.channel.slow_mode_seconds
            if seconds and not seen.manages:
                wait = await self._slow_mode.take(channel_id, account_id, seconds)
                if wait:
                    raise MootError(
                        "rate_limited",
                        f"Slow mode: one message every {seconds} seconds.",
                        limit="slow_mode",
                        retry_after=wait,
                    )

        return await self._messages.send(speaker, body, self._people(seen), slow_mode)

    async def edit(
        self, account_id: uuid.UUID, channel_id: uuid.UUID, message_id: int, body: EditMessage
    ) -> Message:
        seen = await self._see(account_id, channel_id)
        return await self._messages.edit(
            seen.speaker(), _message_id(message_id), body, self._people(seen)
        )

    async def delete(self, account_id: uuid.UUID, channel_id: uuid.UUID, message_id: int) -> None:
        speaker = (await self._see(account_id, channel_id)).speaker()
        await self._messages.delete(speaker, _message_id(message_id))

    async def react(
        self,
        account_id: uuid.UUID,
        channel_id: uuid.UUID,
        message_id: int,
        emoji: str,
        *,
        add: bool,
    ) -> ReactionState:
        speaker = (await self._see(account_id, channel_id)).speaker()
        return await self._messages.react(speaker, _message_id(message_id), emoji, add)

    async def pin(
        self, account_id: uuid.UUID, channel_id: uuid.UUID, message_id: int, *, pinned: bool
    ) -> Message:
        speaker = (await self._see(account_id, channel_id)).speaker()
        return await self._messages.pin(speaker, _message_id(message_id), pinned)

    async def pins(self, account_id: uuid.UUID, channel_id: uuid.UUID) -> PinList:
        speaker = (await self._see(account_id, channel_id)).speaker()
        return await self._messages.pins(speaker)

    async def mark_read(
        self, account_id: uuid.UUID, channel_id: uuid.UUID, body: MarkRead
    ) -> ReadState:
        speaker = (await self._see(account_id, channel_id)).speaker()
        return await self._messages.mark_read(speaker, body.message_id)

    async def search(
        self, account_id: uuid.UUID, space_id: uuid.UUID, query: str, limit: int | None
    ) -> SearchResults:
        """Messages of the space's text channels the caller sees."""
        role = await self._require_role(account_id, space_id)
        async with self._pool.acquire() as conn:
            channels = {
                c.id: c
                for c in await store.channels_of_space(conn, space_id)
                if c.kind == "text" and sees(c, account_id, role)
            }
        found = await self._messages.search(
            account_id,
            [Conversation(channel_id, "channel") for channel_id in channels],
            query,
            limit or 20,
        )
        hits = []
        for message in found:
            assert message.channel_id is not None
            channel = channels[message.channel_id]
            hits.append(
                SearchHit(message=message, channel=ChannelRef(id=channel.id, name=channel.name))
            )
        return SearchResults(items=hits)

    # -- helpers -------------------------------------------------------------------------

    async def _role(self, account_id: uuid.UUID, space_id: uuid.UUID) -> Role | None:
        for space in await self._spaces.list_spaces(account_id):
            if space.id == space_id:
                return space.role
        return None

    async def _require_role(
        self, account_id: uuid.UUID, space_id: uuid.UUID, *, manage: bool = False
    ) -> Role:
        role = await self._role(account_id, space_id)
        if role is None:
            raise MootError("not_space_member")
        if manage and role not in _MANAGERS:
            raise MootError("insufficient_role")
        return role

    async def _see(self, account_id: uuid.UUID, channel_id: uuid.UUID) -> Seen:
        async with self._pool.acquire() as conn:
            channel = await store.channel(conn, channel_id)
        if channel is None:
            raise MootError("channel_not_found")
        role = await self._role(account_id, channel.space_id)
        if role is None:
            raise MootError("not_space_member")
        if not sees(channel, account_id, role):
            raise MootError("channel_not_found")
        return Seen(channel, account_id, role)

    def _people(self, seen: Seen) -> Callable[[], Awaitable[list[Mentionable]]]:
        """Who may be mentioned in the channel (its viewers), read once and only if asked."""
        found: list[list[Mentionable]] = []

        async def people() -> list[Mentionable]:
            if not found:
                members = await self._spaces.list_members(seen.account_id, seen.channel.space_id)
                found.append(
                    [
                        Mentionable(m.account_id, m.display_name)
                        for m in members
                        if sees(seen.channel, m.account_id, m.role)
                    ]
                )
            return found[0]

        return people

    @staticmethod
    def _listed(member_ids: Sequence[uuid.UUID], members: Sequence[MemberView]) -> list[uuid.UUID]:
        """The accounts a private channel lists: each must be a member of its space."""
        in_space = {m.account_id for m in members}
        strangers = [str(a) for a in member_ids if a not in in_space]
        if strangers:
            raise MootError(
                "validation_failed",
                "member_ids must name members of the space.",
                field="member_ids",
                not_members=strangers,
            )
        return list(dict.fromkeys(member_ids))

    async def _announce(
        self, before: Channel | None, after: Channel | None, members: Sequence[MemberView]
    ) -> None:
        """Publish a channel's creation (no `before`), change, or deletion (no `after`) to
        whoever sees it, and end the subscriptions of those who no longer do."""

        def audience(channel: Channel | None) -> set[uuid.UUID]:
            if channel is None:
                return set()
            return {m.account_id for m in members if sees(channel, m.account_id, m.role)}

        current = after or before
        assert current is not None
        space = f"space:{current.space_id}"
        saw, see = audience(before), audience(after)
        deleted = ChannelDeleted(channel_id=current.id, space_id=current.space_id)
        if before is not None:
            lost = saw - see if after is not None else set()
            if lost:
                await self.revoke(current.id, lost)
            await self._publish(
                channel_topic(current.id),
                ChannelUpdated(channel=view(after)) if after is not None else deleted,
            )
        was_public = before is not None and not before.private
        if after is not None and not after.private:
            first = before is None or before.private
            event: ChannelEvent = (
                ChannelCreated(channel=view(after))
                if first
                else ChannelUpdated(channel=view(after))
            )
            await self._publish(space, event)
            return
        if was_public:
            await self._publish(space, deleted)
        # A private channel (now, or until it was deleted): each viewer hears of it alone.
        private_before = before is not None and before.private
        for account_id in (saw if private_before else set()) | see:
            personal: ChannelEvent = deleted
            if after is not None and account_id in see:
                known = private_before and account_id in saw
                personal = (
                    ChannelUpdated(channel=view(after))
                    if known
                    else ChannelCreated(channel=view(after))
                )
            await self._publish(user_topic(account_id), personal)

    async def _publish(self, topic: str, event: ChannelEvent) -> None:
        await self._log.publish(topic, _encode(event))


def _message_id(message_id: int) -> int:
    """A path's message id: one PostgreSQL's bigint can hold, or no such message."""
    if not 1 <= message_id < 2**63:
        raise MootError("message_not_found", "There is no such message in this conversation.")
    return message_id
