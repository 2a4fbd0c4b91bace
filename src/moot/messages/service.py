"""The rules of durable messages, whoever owns the conversation (a channel, later a direct
conversation): the owner decides who is a `Speaker` there; this decides what they may do.

Every change is one PostgreSQL transaction whose event is published on the conversation's
topic before it commits: if Redis cannot take the event, nothing is written (503), and a
message nobody was told about never exists. Writes to one conversation take its row lock
first, so ids and events leave in the same order.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence

import asyncpg
import msgspec
import structlog

from moot.errors import MootError, is_store_outage
from moot.infra.ratelimit import RateLimiter
from moot.messages import store
from moot.messages.mentions import find_mentions
from moot.messages.schemas import (
    Conversation,
    ConversationKind,
    EditMessage,
    Event,
    Mentionable,
    Message,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    MessageHistory,
    PinList,
    PinUpdated,
    PostMessage,
    Reaction,
    ReactionState,
    ReactionUpdated,
    ReadState,
    ReadUpdated,
    Speaker,
)
from moot.realtime.log import TopicLog
from moot.settings import MessageSettings

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
SEARCH_LIMIT = 50
EMOJI_MAX_LENGTH = 64

People = Callable[[], Awaitable[Sequence[Mentionable]]]  # loaded only for a text with an @
Gate = Callable[[], Awaitable[None]]  # the owner's last check before a message is written

_encode = msgspec.json.Encoder().encode
log = structlog.get_logger(__name__)


def user_topic(account_id: uuid.UUID) -> str:
    return f"user:{account_id}"


def clean_emoji(emoji: str) -> str:
    """An emoji (or a short `:name:`): visible characters, no spaces, at most 64."""
    if not emoji or len(emoji) > EMOJI_MAX_LENGTH or not emoji.isprintable() or " " in emoji:
        raise MootError(
            "validation_failed",
            f"emoji must be 1 to {EMOJI_MAX_LENGTH} visible characters without spaces.",
            field="emoji",
        )
    return emoji


class MessageService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        log: TopicLog,
        limiter: RateLimiter,
        settings: MessageSettings,
    ) -> None:
        self._pool = pool
        self._log = log
        self._limiter = limiter
        self._settings = settings

    # -- conversations (inside the owner's transaction) ----------------------------------

    async def create_conversation(
        self, conn: store.Conn, kind: ConversationKind, space_id: uuid.UUID | None
    ) -> uuid.UUID:
        return await store.create_conversation(conn, kind, space_id)

    async def delete_conversation(self, conn: store.Conn, conversation_id: uuid.UUID) -> None:
        """Its messages, reactions, mentions and read markers go with it."""
        await store.delete_conversation(conn, conversation_id)

    # -- reading -------------------------------------------------------------------------

    async def history(
        self,
        speaker: Speaker,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> MessageHistory:
        if before is not None and after is not None:
            raise MootError("validation_failed", "Give before or after, not both.", field="before")
        async with self._pool.acquire() as conn:
            rows, more = await store.page(
                conn,
                speaker.conversation.id,
                before=before,
                after=after,
                limit=min(limit or DEFAULT_LIMIT, MAX_LIMIT),
            )
            items = await self._views(conn, rows, speaker.account_id, speaker.conversation.kind)
        return MessageHistory(items=items, has_more=more)

    async def pins(self, speaker: Speaker) -> PinList:
        async with self._pool.acquire() as conn:
            rows = await store.pinned(conn, speaker.conversation.id)
            items = await self._views(conn, rows, speaker.account_id, speaker.conversation.kind)
        return PinList(items=items)

    async def search(
        self, viewer: uuid.UUID, conversations: Sequence[Conversation], query: str, limit: int
    ) -> list[Message]:
        """Messages in these conversations matching `query` (Russian or English), newest
        first."""
        query = query.strip()
        if not query or len(query) > 200 or "\x00" in query:
            raise MootError("validation_failed", "q must be 1 to 200 characters.", field="q")
        if not conversations:
            return []
        kinds = {c.id: c.kind for c in conversations}
        async with self._pool.acquire() as conn:
            rows = await store.search(conn, list(kinds), query, min(limit, SEARCH_LIMIT))
            reactions = await store.reactions(conn, [row["id"] for row in rows], viewer)
        return [_view(row, kinds[row["conversation_id"]], reactions) for row in rows]

    async def read_states(
        self, account_id: uuid.UUID, conversations: Sequence[Conversation]
    ) -> dict[uuid.UUID, tuple[ReadState, int]]:
        """Per conversation: the account's read state, and the id of its last message."""
        async with self._pool.acquire() as conn:
            found = await store.read_states(conn, account_id, [c.id for c in conversations])
        states: dict[uuid.UUID, tuple[ReadState, int]] = {}
        for conversation in conversations:
            last_read, unread, mentions, last_message = found[conversation.id]
            states[conversation.id] = (
                _read_state(conversation, last_read, unread, mentions),
                last_message,
            )
        return states

    # -- writing -------------------------------------------------------------------------

    async def send(
        self,
        speaker: Speaker,
        body: PostMessage,
        people: People,
        gate: Gate | None = None,
    ) -> Message:
        content = self._clean(body.content)
        if body.attachment_ids:
            raise MootError(
                "validation_failed",
                "Attachments are not supported yet.",
                field="attachment_ids",
            )
        mentioned, everyone = await self._mentions(speaker, content, people)
        conversation = speaker.conversation
        if body.reply_to is not None:
            # Checked before the owner's gate, so a bad reply costs no slow-mode wait. A
            # message is never removed but with its whole conversation: it is still there.
            async with self._pool.acquire() as conn:
                if await store.message(conn, conversation.id, body.reply_to) is None:
                    raise MootError(
                        "message_not_found",
                        "The message replied to is not in this conversation.",
                        field="reply_to",
                    )
        await self._limiter.check("channel_message", str(speaker.account_id))
        if gate is not None:
            await gate()
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock(conn, conversation)
            message_id = await store.insert_message(
                conn, conversation.id, speaker.account_id, content, body.reply_to, everyone
            )
            await store.set_mentions(conn, conversation.id, message_id, mentioned)
            await store.advance_marker(conn, conversation.id, speaker.account_id, message_id)
            message = await self._one(conn, speaker, message_id)
            await self._publish(conversation, MessageCreated(message=message))
        touched = {speaker.account_id} | mentioned
        if everyone:
            touched |= {person.account_id for person in await people()}
        await self._announce_read_states(conversation, touched)
        return message

    async def edit(
        self, speaker: Speaker, message_id: int, body: EditMessage, people: People
    ) -> Message:
        content = self._clean(body.content)
        mentioned, everyone = await self._mentions(speaker, content, people)
        conversation = speaker.conversation
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock(conn, conversation)
            row = await self._live(conn, conversation, message_id)
            if row["author_id"] != speaker.account_id:
                raise MootError("not_message_author")
            before = set(row["mentions"])
            await store.edit_message(conn, message_id, content, everyone)
            await store.set_mentions(conn, conversation.id, message_id, mentioned)
            message = await self._one(conn, speaker, message_id)
            await self._publish(conversation, MessageEdited(message=message))
        touched = before ^ mentioned
        if everyone != row["mentions_everyone"]:
            touched |= {person.account_id for person in await people()}
        await self._announce_read_states(conversation, touched - {speaker.account_id})
        return message

    async def delete(self, speaker: Speaker, message_id: int) -> None:
        """The author deletes their message, a moderator anyone's: a tombstone stays."""
        conversation = speaker.conversation
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock(conn, conversation)
            row = await self._live(conn, conversation, message_id)
            if row["author_id"] != speaker.account_id and not speaker.moderator:
                raise MootError("not_message_author")
            await store.erase_message(conn, message_id, speaker.account_id)
            await self._publish(
                conversation, MessageDeleted(message_id=message_id, deleted_by=speaker.account_id)
            )
        await self._announce_read_states(conversation, set(row["mentions"]))

    async def react(
        self, speaker: Speaker, message_id: int, emoji: str, add: bool
    ) -> ReactionState:
        """Add or take back the caller's reaction; doing it twice changes nothing."""
        emoji = clean_emoji(emoji)
        conversation = speaker.conversation
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock(conn, conversation)
            await self._live(conn, conversation, message_id)
            if add:
                changed = await store.add_reaction(conn, message_id, emoji, speaker.account_id)
            else:
                changed = await store.remove_reaction(conn, message_id, emoji, speaker.account_id)
            count = await store.reaction_count(conn, message_id, emoji)
            if changed:
                await self._publish(
                    conversation,
                    ReactionUpdated(
                        message_id=message_id,
                        emoji=emoji,
                        count=count,
                        account_id=speaker.account_id,
                        added=add,
                    ),
                )
        return ReactionState(message_id=message_id, emoji=emoji, count=count, me=add)

    async def pin(self, speaker: Speaker, message_id: int, pinned: bool) -> Message:
        conversation = speaker.conversation
        async with self._pool.acquire() as conn, conn.transaction():
            await self._lock(conn, conversation)
            row = await self._live(conn, conversation, message_id)
            if (row["pinned_at"] is not None) != pinned:
                await store.set_pin(conn, message_id, speaker.account_id if pinned else None)
                message = await self._one(conn, speaker, message_id)
                await self._publish(
                    conversation,
                    PinUpdated(
                        message_id=message_id,
                        pinned=pinned,
                        by=speaker.account_id,
                        message=message,
                    ),
                )
            else:
                message = await self._one(conn, speaker, message_id)
        return message

    async def mark_read(self, speaker: Speaker, message_id: int) -> ReadState:
        """Move the caller's marker up to `message_id` (never back); every device of theirs
        hears the new counts as `read.updated` on their `user:` topic."""
        conversation = speaker.conversation
        async with self._pool.acquire() as conn, conn.transaction():
            if await store.message(conn, conversation.id, message_id) is None:
                raise _not_found()
            await store.advance_marker(conn, conversation.id, speaker.account_id, message_id)
            last_read, unread, mentions, _ = (
                await store.read_states(conn, speaker.account_id, [conversation.id])
            )[conversation.id]
            state = _read_state(conversation, last_read, unread, mentions)
            await self._log.publish(user_topic(speaker.account_id), _encode(_read_event(state)))
        return state

    # -- helpers -------------------------------------------------------------------------

    def _clean(self, content: str) -> str:
        content = content.strip()
        limit = self._settings.message_max_length
        if not content:
            raise MootError("validation_failed", "content must not be empty.", field="content")
        if "\x00" in content:  # PostgreSQL's text cannot hold it
            raise MootError("validation_failed", "content holds a NUL character.", field="content")
        if len(content) > limit:
            raise MootError(
                "validation_failed",
                f"content must be at most {limit} characters.",
                field="content",
            )
        return content

    async def _mentions(
        self, speaker: Speaker, content: str, people: People
    ) -> tuple[set[uuid.UUID], bool]:
        if "@" not in content:
            return set(), False
        mentioned, everyone = find_mentions(content, await people())
        mentioned.discard(speaker.account_id)
        return mentioned, everyone and speaker.moderator  # @everyone is an admin's to use

    async def _lock(self, conn: store.Conn, conversation: Conversation) -> None:
        if not await store.lock_conversation(conn, conversation.id):
            raise MootError("not_found", "This conversation no longer exists.")

    async def _live(
        self, conn: store.Conn, conversation: Conversation, message_id: int
    ) -> asyncpg.Record:
        """The message, if it is in this conversation and not deleted."""
        row = await store.message(conn, conversation.id, message_id, lock=True)
        if row is None or row["deleted_at"] is not None:
            raise _not_found()
        return row

    async def _one(self, conn: store.Conn, speaker: Speaker, message_id: int) -> Message:
        row = await store.message(conn, speaker.conversation.id, message_id)
        assert row is not None  # written in this transaction
        (view,) = await self._views(conn, [row], speaker.account_id, speaker.conversation.kind)
        return view

    async def _views(
        self,
        conn: store.Conn,
        rows: Sequence[asyncpg.Record],
        viewer: uuid.UUID,
        kind: ConversationKind,
    ) -> list[Message]:
        reactions = await store.reactions(conn, [row["id"] for row in rows], viewer)
        return [_view(row, kind, reactions) for row in rows]

    async def _publish(self, conversation: Conversation, event: Event) -> None:
        await self._log.publish(conversation.topic, _encode(event))

    async def _announce_read_states(
        self, conversation: Conversation, accounts: Iterable[uuid.UUID]
    ) -> None:
        """Tell these accounts their counts in the conversation changed (a mention, a sent
        message): one query for all, then one event each on their `user:` topics. The
        message is written already; an account that misses this reads its counts again."""
        accounts = list(accounts)
        if not accounts:
            return
        try:
            async with self._pool.acquire() as conn:
                states = await store.readers_states(conn, conversation.id, accounts)
            await asyncio.gather(
                *(
                    self._log.publish(
                        user_topic(account_id),
                        _encode(_read_event(_read_state(conversation, *state))),
                    )
                    for account_id, state in states.items()
                )
            )
        except Exception as exc:
            # The change itself is committed and announced: its caller must not hear a 503
            # and send it again. Counts are read afresh by `GET …/channels`.
            if not is_store_outage(exc):
                raise
            log.warning("read_states_not_announced", error=type(exc).__name__)


def _not_found() -> MootError:
    return MootError("message_not_found", "There is no such message in this conversation.")


def _read_state(
    conversation: Conversation, last_read: int, unread: int, mentions: int
) -> ReadState:
    where = {"channel_id": conversation.id} if conversation.kind == "channel" else {}
    if conversation.kind == "dm":
        where = {"dm_id": conversation.id}
    return ReadState(**where, last_read_id=last_read, unread_count=unread, mention_count=mentions)


def _read_event(state: ReadState) -> ReadUpdated:
    return ReadUpdated(
        channel_id=state.channel_id,
        dm_id=state.dm_id,
        last_read_id=state.last_read_id,
        unread_count=state.unread_count,
        mention_count=state.mention_count,
    )


def _view(
    row: asyncpg.Record, kind: ConversationKind, reactions: dict[int, list[Reaction]]
) -> Message:
    deleted = row["deleted_at"] is not None
    where = {"channel_id": row["conversation_id"]} if kind == "channel" else {}
    if kind == "dm":
        where = {"dm_id": row["conversation_id"]}
    return Message(
        **where,
        id=row["id"],
        author_id=row["author_id"],
        content=row["content"],
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        deleted=deleted,
        reply_to=store.quoted(row),
        mentions=list(row["mentions"]),
        mentions_everyone=row["mentions_everyone"],
        reactions=reactions.get(row["id"], []),
        pinned=row["pinned_at"] is not None,
        pinned_at=row["pinned_at"],
        pinned_by=row["pinned_by"],
    )
