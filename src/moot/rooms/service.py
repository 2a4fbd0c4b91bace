"""The rules of rooms: who may join, who hosts, what the host may do.

Every change to one room runs in a transaction that first takes the room's row lock, so
concurrent joins, leaves and host actions on a room see each other's effects in order; that is
what keeps a 10-seat room at 10 under 50 simultaneous joins. The join, the hot path, does it
inside PostgreSQL in one round trip (migrations/0003_join_room.sql).
"""

from __future__ import annotations

import contextlib
import functools
import re
import secrets
import string
import unicodedata
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import asyncpg
import msgspec
import structlog

from moot.errors import ErrorCode, MootError
from moot.infra.metrics import Metrics
from moot.infra.ratelimit import RateLimiter
from moot.media.livekit import LiveKit
from moot.media.schemas import (
    MediaAccess,
    MediaSessionEvent,
    MuteResult,
    TrackKind,
    WebhookResult,
    WebRTCConfig,
)
from moot.media.service import MediaService
from moot.realtime.topics import topic
from moot.rooms import store
from moot.rooms.cleanup import CleanupReport, run_cleanup
from moot.rooms.events import RoomEvents
from moot.rooms.members import LeftReason, RoomMembers, Seat
from moot.rooms.presence import Presence
from moot.rooms.schemas import (
    CreateRoom,
    LeaveResult,
    ParticipantView,
    RoomSession,
    RoomView,
)
from moot.settings import RoomSettings

log = structlog.get_logger(__name__)


class SeatRoles(Protocol):
    """Roles another domain ties to a room's seats (the transcription host): dropped inside
    the transaction that releases a seat, so both change or neither, and announced after it
    commits; and over for good when the meeting ends."""

    async def release(
        self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID, was_host: bool
    ) -> bool:
        """The seat is leaving; True if that stopped something to announce."""

    async def released(self, room_id: uuid.UUID) -> None:
        """After the commit, for a `release` that returned True."""

    async def ended(self, room_id: uuid.UUID) -> None:
        """After the commit that ended the meeting."""


# What a hook hands back to run once its transaction has committed (publishing events).
After = Callable[[], Awaitable[None]]
# Why seats of a kept room are released: one left, was sent out, or the host ended the meeting.
Unseated = Literal["left", "removed", "ended"]


class RoomKeeper(Protocol):
    """The domain that keeps persistent rooms (spaces: a space's meeting rooms). It decides who
    may enter one and keeps the record of each meeting held in it. Asked about kept rooms only;
    the seat hooks run inside the transaction that takes or releases the seat (so the record
    and the seats change together), and what they return runs after that commits."""

    async def admit(self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID) -> None:
        """Raise the MootError that keeps this participant out (before their seat is taken)."""

    async def may_see(self, room_id: uuid.UUID, account_id: uuid.UUID | None) -> None:
        """Raise the MootError that hides the room from this caller (None: not signed in)."""

    async def seated(
        self, conn: store.Conn, room_id: uuid.UUID, seat: ParticipantView
    ) -> After | None:
        """Someone took a seat (or took theirs again under a new name)."""

    async def unseated(
        self,
        conn: store.Conn,
        room_id: uuid.UUID,
        seats: Sequence[ParticipantView],
        reason: Unseated,
    ) -> After | None:
        """These seats were released."""

    async def expire(self, conn: store.Conn) -> int:
        """Inside the cleanup pass: delete the meeting records past their retention."""


CODE_PATTERN = re.compile(r"^[a-z]{3}-[a-z]{4}-[a-z]{3}$")
DISPLAY_NAME_MAX = 64
_RESOLVED_KEPT = 10_000  # room refs remembered per process
NO_ROOM = uuid.UUID(int=0)


@dataclass(frozen=True)
class ClientInfo:
    """Where a request came from; kept on the participant row until the retention purge."""

    ip: str | None
    user_agent: str | None


def new_room_code() -> str:
    """A human code like `abc-defg-hij`: 26^10 ≈ 1.4e14 codes, hard to guess, easy to read."""
    letters = string.ascii_lowercase
    parts = ("".join(secrets.choice(letters) for _ in range(n)) for n in (3, 4, 3))
    return "-".join(parts)


def clean_text(value: str) -> str:
    """Drop control characters and collapse runs of whitespace."""
    value = "".join(ch for ch in value if unicodedata.category(ch)[0] != "C" or ch in " \t\n")
    return " ".join(value.split())


def clean_display_name(value: str) -> str:
    name = clean_text(value)
    if not name:
        raise MootError(
            "validation_failed", "display_name must not be empty.", field="display_name"
        )
    if len(name) > DISPLAY_NAME_MAX:
        raise MootError(
            "validation_failed",
            f"display_name must be at most {DISPLAY_NAME_MAX} characters.",
            field="display_name",
        )
    return name


class RoomService:
    """Room rules. With LiveKit configured, the LiveKit call that mirrors a change (create,
    end, remove) runs inside the change's transaction: if LiveKit fails, nothing changed."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: RoomSettings,
        limiter: RateLimiter,
        *,
        members: RoomMembers,
        events: RoomEvents,
        media: MediaService,
        livekit: LiveKit | None,
        seat_roles: SeatRoles,
        keeper: RoomKeeper,
        presence: Presence,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._limiter = limiter
        self._members = members
        self._events = events
        self._media = media
        self._livekit = livekit
        self._seat_roles = seat_roles
        self._keeper = keeper
        self._presence = presence
        self._resolved: dict[str, uuid.UUID] = {}
        self._kept: dict[uuid.UUID, bool] = {}  # whether a room is kept (never changes)

    @property
    def media_mode(self) -> str:
        return self._media.mode

    # -- lookups -------------------------------------------------------------------------

    async def resolve_at_edge(self, ref: str) -> uuid.UUID:
        """`resolve` for the HTTP edge: a reference that names no room gives the nil UUID,
        which names none either, so a request's own validation (422) still comes first and
        the service it calls answers 404 `room_not_found`."""
        try:
            return await self.resolve(ref)
        except MootError:
            return NO_ROOM

    async def resolve(self, ref: str) -> uuid.UUID:
        """Turn a room UUID or human code into the room id; 404 `room_not_found` otherwise.

        A code never changes its room, so found pairs are remembered (a bounded map); a room
        deleted since is still caught by the query that follows, which finds no row."""
        ref = ref.strip().lower()
        cached = self._resolved.get(ref)
        if cached is not None:
            return cached
        room_id: uuid.UUID | None = None
        code: str | None = None
        try:
            room_id = uuid.UUID(ref)
        except ValueError:
            if not CODE_PATTERN.match(ref):
                raise MootError("room_not_found") from None
            code = ref
        async with self._pool.acquire() as conn:
            found = await store.find_room_id(conn, room_id=room_id, code=code)
        if found is None:
            raise MootError("room_not_found")
        if len(self._resolved) >= _RESOLVED_KEPT:
            self._resolved.pop(next(iter(self._resolved)))  # oldest first: dicts keep order
        self._resolved[ref] = found[0]
        self._remember_kept(*found)
        return found[0]

    async def look_up(
        self,
        ref: str,
        client: ClientInfo,
        account: Callable[[], Awaitable[uuid.UUID | None]] | None = None,
    ) -> RoomView:
        """A room by its code or UUID, for anyone with the link. Counted per client address
        (`room_lookup`): it takes no credential, so it would otherwise let anyone try codes
        as fast as they could send them. A kept room asks its keeper whether the caller
        (`account`, read only then) may see it: a members-only space's room may not be."""
        await self._limiter.check("room_lookup", client.ip or "unknown")
        room_id = await self.resolve(ref)
        if await self.is_kept(room_id):
            await self._keeper.may_see(room_id, await account() if account else None)
        return await self.get_room(room_id)

    async def is_kept(self, room_id: uuid.UUID) -> bool:
        """Whether the room is a kept one (no lifetime, no idle end, a keeper's rules);
        remembered per process, as it never changes."""
        kept = self._kept.get(room_id)
        if kept is None:
            async with self._pool.acquire() as conn:
                found = await store.find_room_id(conn, room_id=room_id, code=None)
            if found is None:
                return False
            kept = self._remember_kept(*found)
        return kept

    def _remember_kept(self, room_id: uuid.UUID, kept: bool) -> bool:
        if room_id not in self._kept and len(self._kept) >= _RESOLVED_KEPT:
            self._kept.pop(next(iter(self._kept)))
        self._kept[room_id] = kept
        return kept

    async def rooms(self, room_ids: list[uuid.UUID]) -> list[RoomView]:
        """These rooms (those that exist), with their capacity."""
        async with self._pool.acquire() as conn:
            found = await store.get_rooms(conn, room_ids)
        return [self.with_capacity(room) for room in found]

    async def get_room(self, room_id: uuid.UUID) -> RoomView:
        async with self._pool.acquire() as conn:
            room = await store.get_room(conn, room_id)
        if room is None:
            raise MootError("room_not_found")
        return self.with_capacity(room)

    def with_capacity(self, room: RoomView) -> RoomView:
        """Fill in the seats the room really has: in mesh mode, at most the mesh's cap."""
        mesh = None if self._livekit else self._settings.mesh_max_participants
        room.capacity = room.max_participants
        if mesh is not None and mesh < room.max_participants:
            room.capacity, room.capacity_limited_by = mesh, "mesh"
        return room

    async def list_participants(
        self, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> list[ParticipantView]:
        async with self._pool.acquire() as conn:
            room = await store.get_room(conn, room_id)
            if room is None:
                raise MootError("room_not_found")
            if room.status == "ended":
                raise MootError("room_ended")
            if await store.active_seat(conn, room_id, participant_id) is None:
                raise MootError("not_a_participant")
            return await store.list_active(conn, room_id)

    async def count_activity(self) -> tuple[int, int]:
        """(active rooms, participants in them), for the metrics."""
        async with self._pool.acquire() as conn:
            return await store.count_activity(conn)

    async def require_participant(
        self, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> ParticipantView:
        return await self._members.require_participant(room_id, participant_id)

    async def is_present(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> bool:
        return await self._members.is_present(room_id, participant_id)

    async def present(self, room_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """Everyone holding a seat in the room now."""
        return await self._members.present(room_id)

    async def departures(self, seats: Sequence[Seat]) -> dict[Seat, LeftReason]:
        """Of these (room, participant) pairs, those without a seat now, and why."""
        return await self._members.departures(seats)

    async def seat_and_room(
        self, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> tuple[RoomView, ParticipantView]:
        """The room and the caller's seat in it, or the error explaining why there is none."""
        async with self._pool.acquire() as conn:
            found = await store.room_and_seat(conn, room_id, participant_id)
        if found is None:
            raise MootError("room_not_found")
        room, seat = found
        if seat is None:
            raise MootError("room_ended" if room.status == "ended" else "not_a_participant")
        return room, seat

    async def attended_room(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> RoomView:
        """The room, for someone who may still read what it kept: a participant of a meeting
        that goes on, or, once it ended, anyone who was in it and not removed. Others get the
        error they would get anywhere else (an outsider of an ended meeting: `room_ended`)."""
        async with self._pool.acquire() as conn:
            found = await store.room_and_seat(conn, room_id, participant_id)
            if found is None:
                raise MootError("room_not_found")
            room, seat = found
            if seat is not None:
                return room
            if room.status == "ended" and await store.attendees(conn, room_id, [participant_id]):
                return room
        raise MootError("room_ended" if room.status == "ended" else "not_a_participant")

    async def hosted_room(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> RoomView:
        """The room, for its host: the host now, or, once it ended, whoever was host last."""
        room = await self.attended_room(room_id, participant_id)
        async with self._pool.acquire() as conn:
            if await store.latest_host(conn, room.id) != participant_id:
                raise MootError("not_host")
        return room

    async def attendees(
        self, room_id: uuid.UUID, participant_ids: Sequence[uuid.UUID]
    ) -> frozenset[uuid.UUID]:
        """Of these, who holds or held a seat in the room (and was not removed)."""
        return await self._members.attendees(room_id, participant_ids)

    async def forget_account(self, conn: store.Conn, account_id: uuid.UUID) -> None:
        """Erase what the rooms keep about an account being deleted, in its transaction."""
        await store.forget_account(conn, account_id)

    async def account_deleted(self, account_id: uuid.UUID) -> None:
        """After an account's deletion committed: in every room it was in, its chat messages
        take the deleted-account name, and a meeting it still sits in hears its seat renamed
        (`participant.updated`). Redis being away leaves the names until the chat expires."""
        async with self._pool.acquire() as conn:
            rows = await store.rooms_of(conn, account_id)
        for row in rows:
            seat = store.participant_view(row) if row["seated"] else None
            await self._events.account_deleted(row["room_id"], account_id, seat)

    # -- create, join, leave -------------------------------------------------------------

    async def create_room(
        self, participant_id: uuid.UUID, body: CreateRoom, client: ClientInfo
    ) -> RoomSession:
        await self._limiter.check("room_create", client.ip or "unknown")
        settings = self._settings
        max_participants = body.max_participants or settings.default_max_participants
        if max_participants > settings.max_participants_limit:
            raise MootError(
                "validation_failed",
                f"max_participants must be at most {settings.max_participants_limit}.",
                field="max_participants",
            )
        # No title is stored as "": clients show the room's code (a default title would be
        # in one language for everyone).
        title = clean_text(body.title)
        description = clean_text(body.description) if body.description else None
        name = "Host" if body.display_name is None else body.display_name
        display_name = clean_display_name(name)
        expires_at = datetime.now(UTC) + timedelta(seconds=settings.max_lifetime_seconds)

        async with self._pool.acquire() as conn, conn.transaction():
            room_id: uuid.UUID | None = None
            livekit_room_name = f"moot-{uuid.uuid4()}"
            while room_id is None:  # a code collision is ~impossible; draw again if it happens
                room_id = await store.insert_room(
                    conn,
                    code=new_room_code(),
                    livekit_room_name=livekit_room_name,
                    title=title,
                    description=description or None,
                    max_participants=max_participants,
                    expires_at=expires_at,
                )
            you = await store.insert_participant(
                conn,
                room_id=room_id,
                participant_id=participant_id,
                display_name=display_name,
                role="host",
                client_ip=client.ip,
                user_agent=client.user_agent,
            )
            if self._livekit is not None:
                await self._livekit.ensure_room(livekit_room_name, max_participants)
            room = await store.get_room(conn, room_id)
        assert room is not None
        self.with_capacity(room)
        await self._events.joined(room.id, you)
        # A room created just now is known to exist on LiveKit: creating it made it there.
        return await self._with_media(_session(room, you), ensure_room=False)

    async def join_room(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, display_name: str, client: ClientInfo
    ) -> RoomSession:
        """Join, or re-join idempotently (taking the name given, if it is a new one).

        The decision runs in PostgreSQL under the room's lock, in one round trip (store
        `join_room`). The room's join budget counts new seats only: it is read before, so a
        spent budget refuses newcomers but not members re-joining, and charged after (joins
        racing for the budget's last seat may overshoot it by a few)."""
        display_name = clean_display_name(display_name)
        budget = "room_join", str(room_id)
        may_take_seat = await self._limiter.allows(*budget)
        join = functools.partial(
            store.join_room,
            room_id=room_id,
            participant_id=participant_id,
            display_name=display_name,
            client_ip=client.ip,
            user_agent=client.user_agent,
            may_take_seat=may_take_seat,
            mesh_limit=None if self._livekit else self._settings.mesh_max_participants,
        )
        after: After | None = None
        if await self.is_kept(room_id):
            # The keeper's admission and the seat in one transaction: its check holds until
            # the seat is taken (a member removed meanwhile waits, then finds the seat).
            async with self._pool.acquire() as conn, conn.transaction():
                await self._keeper.admit(conn, room_id, participant_id)
                row = await join(conn)
                if row["outcome"] in ("joined", "renamed"):
                    after = await self._keeper.seated(conn, room_id, store.participant_view(row))
        else:
            async with self._pool.acquire() as conn:
                row = await join(conn)
        outcome = row["outcome"]
        if outcome == "joined":
            await self._limiter.charge(*budget)
        elif outcome == "rate_limited":
            raise await self._limiter.refusal(*budget)
        elif outcome not in ("rejoined", "renamed"):
            raise _join_refusal(outcome, row["max_participants"], self._settings)
        session = _session(self.with_capacity(store.room_view(row)), store.participant_view(row))
        if outcome == "joined":
            await self._events.joined(room_id, session.you)
        elif row["previous_name"] is not None:
            await self._events.renamed(room_id, session.you, row["previous_name"])
        if after is not None:
            await after()
        return await self._with_media(session)

    # -- kept rooms (a space's meeting rooms) ----------------------------------------------

    async def create_kept_room(
        self,
        conn: store.Conn,
        *,
        title: str,
        description: str | None,
        max_participants: int | None,
    ) -> RoomView:
        """A room that stays, in the caller's transaction: nobody is seated (its first joiner
        hosts each meeting), it has no lifetime and never idles out."""
        settings = self._settings
        max_participants = max_participants or settings.default_max_participants
        if max_participants > settings.max_participants_limit:
            raise MootError(
                "validation_failed",
                f"max_participants must be at most {settings.max_participants_limit}.",
                field="max_participants",
            )
        room_id: uuid.UUID | None = None
        while room_id is None:  # a code collision is ~impossible; draw again if it happens
            room_id = await store.insert_room(
                conn,
                code=new_room_code(),
                livekit_room_name=f"moot-{uuid.uuid4()}",
                title=clean_text(title),
                description=(clean_text(description) or None) if description else None,
                max_participants=max_participants,
                expires_at=None,
                persistent=True,
            )
        room = await store.get_room(conn, room_id)
        assert room is not None
        self._remember_kept(room_id, True)
        return self.with_capacity(room)

    async def delete_kept_room(self, conn: store.Conn, room_id: uuid.UUID) -> After:
        """Delete a kept room in the caller's transaction, with its seats and transcript; a
        meeting in it ends for everyone once that commits (the returned step)."""
        room = await store.lock_room(conn, room_id)
        if room is None or not room["persistent"]:
            raise MootError("room_not_found")
        if self._livekit is not None:
            await self._livekit.delete_room(room["livekit_room_name"])
        await store.delete_room(conn, room_id)

        async def after() -> None:
            await self._events.ended(room_id, "deleted")
            await self._events.forget(room_id)

        return after

    async def seated_ids(self, conn: store.Conn, room_id: uuid.UUID) -> frozenset[uuid.UUID]:
        """Everyone holding a seat in the room, read in the caller's transaction."""
        return await store.present_ids(conn, room_id)

    async def expel(
        self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> After | None:
        """Send someone out of a kept room in the caller's transaction: they lost the right
        to be there (removed from its space, or the space became members-only). The room
        hears they were removed and their socket closes as a removal; their seat is
        released as a leave, so they may come back should they regain the right."""
        room = await store.lock_room(conn, room_id)
        if room is None or room["status"] != "active":
            return None
        seat = await store.active_seat(conn, room_id, participant_id)
        if seat is None:
            return None
        result, released, kept = await self._leave(conn, room, seat, "removed")

        async def after() -> None:
            await self._released(room_id, released)
            if self._livekit is not None:
                with contextlib.suppress(MootError):
                    await self._livekit.remove_participant(
                        room["livekit_room_name"], str(participant_id)
                    )
            await self._events.left(room_id, result.you, "removed", result.new_host)
            if kept is not None:
                await kept()

        return after

    # -- media ---------------------------------------------------------------------------

    async def _with_media(self, session: RoomSession, *, ensure_room: bool = True) -> RoomSession:
        """The session of someone who just created or joined a room, with their media access
        in it: one round trip fewer between clicking Join and seeing video. If it cannot be
        issued now, the session goes without (the join itself succeeded)."""
        try:
            session.media = await self._access(session, session.you, ensure_room=ensure_room)
        except MootError as error:
            log.warning("media access not issued with the join", code=error.code)
        return session

    async def _access(
        self, room: RoomView, seat: ParticipantView, *, ensure_room: bool = True
    ) -> MediaAccess:
        return await self._media.access(
            room_name=room.livekit_room_name,
            max_participants=room.max_participants,
            participant_id=seat.participant_id,
            display_name=seat.display_name,
            role=seat.role,
            ensure_room=ensure_room,
        )

    async def media_access(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> MediaAccess:
        """How this participant connects media: a LiveKit token, or mesh mode."""
        room, seat = await self.seat_and_room(room_id, participant_id)
        return await self._access(room, seat)

    async def webrtc_config(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, server_host: str | None = None
    ) -> WebRTCConfig:
        """ICE servers with TURN credentials, for participants of an active room only: a relay
        costs bandwidth, so it is not handed to anyone who merely has an identity.
        `server_host` is the host the caller reached moot at (its own STUN server is there)."""
        room, seat = await self.seat_and_room(room_id, participant_id)
        return self._media.webrtc_config(seat.participant_id, room.expires_at, server_host)

    async def mute(
        self, room_id: uuid.UUID, host_id: uuid.UUID, target_id: uuid.UUID, kind: TrackKind
    ) -> MuteResult:
        room, seat = await self.seat_and_room(room_id, host_id)
        if seat.role != "host":
            raise MootError("not_host")
        if not await self.is_present(room.id, target_id):
            raise MootError("participant_not_found")
        return await self._media.mute(
            topic("room", room.id), room.livekit_room_name, host_id, target_id, kind
        )

    async def media_webhook(self, body: bytes, authorization: str) -> WebhookResult:
        """Apply a LiveKit webhook: a media session started or ended for a participant.
        LiveKit closing an empty media room does not end the meeting."""
        event = await self._media.webhook(body, authorization)
        if isinstance(event, WebhookResult):
            return event
        kind = "participant_joined" if event.joined else "participant_left"
        try:
            if event.joined:
                applied = await self._joined_media(event)
            else:
                applied = await self._left_media(event)
        except Exception:
            await self._media.webhook_not_applied(event)
            raise
        return WebhookResult(event=kind, applied=applied)

    async def clean_up(self, metrics: Metrics | None = None) -> CleanupReport:
        """One cleanup pass (rooms/cleanup.py), then what follows from it outside PostgreSQL:
        everyone still in a room it ended hears so and its media closes; a room it deleted
        takes its chat and event log with it."""
        report = await run_cleanup(self._pool, self._settings, metrics, self._keeper.expire)
        for room_id in report.ended_room_ids:
            await self.room_closed(room_id, "cleanup")
        for room_id in report.deleted_room_ids:
            await self._events.forget(room_id)
        return report

    async def room_closed(self, room_id: uuid.UUID, reason: str) -> None:
        """A meeting ended outside a request (cleanup): tell everyone, close its media."""
        await self._seat_roles.ended(room_id)
        await self._events.ended(room_id, reason)
        async with self._pool.acquire() as conn:
            names = await store.livekit_room_names(conn, [room_id])
        for name in names:
            await self._media.close_room(name)

    async def leave_room(self, room_id: uuid.UUID, participant_id: uuid.UUID) -> LeaveResult:
        async with self._pool.acquire() as conn, conn.transaction():
            room, seat = await self._seat_in_active_room(conn, room_id, participant_id)
            result, released, kept = await self._leave(conn, room, seat, "left")
        await self._released(room_id, released)
        if self._livekit is not None:
            # Leaving must work while LiveKit is down; the client hangs up its media itself.
            with contextlib.suppress(MootError):
                await self._livekit.remove_participant(
                    room["livekit_room_name"], str(participant_id)
                )
        await self._events.left(room_id, result.you, "left", result.new_host)
        if kept is not None:
            await kept()
        return result

    async def gone(
        self, room_id: uuid.UUID, participant_id: uuid.UUID, departed_at: datetime
    ) -> None:
        """Their last socket closed a grace period ago and has not come back (presence)."""
        try:
            _, seat = await self.seat_and_room(room_id, participant_id)
            if seat.joined_at > departed_at:
                return  # they left and joined again since: this seat is not the one
            await self.leave_room(room_id, participant_id)
        except MootError:
            return  # already left, removed, or the room ended

    async def _left_media(self, event: MediaSessionEvent) -> bool:
        """LiveKit says this participant's media session ended: they left the room. A stale
        event (an earlier session, or a participant already gone) changes nothing, and so does
        the end of the media session of someone whose room socket is open or reconnecting
        (a reload): presence decides when they have gone."""
        async with self._pool.acquire() as conn:
            room_id = await store.find_by_livekit_name(conn, event.room_name)
        if room_id is None or await self._presence.connected(room_id, event.participant_id):
            return False
        async with self._pool.acquire() as conn, conn.transaction():
            room = await store.lock_room(conn, room_id)
            if room is None or room["status"] != "active":
                return False
            seat = await store.active_seat(conn, room_id, event.participant_id)
            if seat is None or seat["livekit_sid"] != event.sid:
                return False
            result, released, kept = await self._leave(conn, room, seat, "left")
        await self._released(room_id, released)
        await self._events.left(room_id, result.you, "left", result.new_host)
        if kept is not None:
            await kept()
        return True

    async def _joined_media(self, event: MediaSessionEvent) -> bool:
        """Record the LiveKit session of a participant; False if they hold no seat."""
        async with self._pool.acquire() as conn:
            room_id = await store.find_by_livekit_name(conn, event.room_name)
            if room_id is None:
                return False
            return await store.set_livekit_sid(conn, room_id, event.participant_id, event.sid)

    async def _leave(
        self, conn: store.Conn, room: asyncpg.Record, seat: asyncpg.Record, why: Unseated
    ) -> tuple[LeaveResult, bool, After | None]:
        """Release the seat (and the host and transcription roles it held) of the locked
        `room`: whether that stopped a running transcription, and the keeper's step to run
        after the commit (a kept room)."""
        room_id = room["id"]
        released = await self._release_roles(conn, room_id, seat)
        await store.release_seat(conn, seat["id"], "left")
        new_host = None
        if seat["role"] == "host":
            new_host = await self._hand_over_host(conn, room_id)
        await store.touch_room(conn, room_id)
        you = store.participant_view(seat)
        kept = None
        if room["persistent"]:
            kept = await self._keeper.unseated(conn, room_id, [you], why)
        return LeaveResult(left=True, new_host=new_host, you=you), released, kept

    async def _release_roles(
        self, conn: store.Conn, room_id: uuid.UUID, seat: asyncpg.Record
    ) -> bool:
        return await self._seat_roles.release(
            conn, room_id, seat["participant_id"], seat["role"] == "host"
        )

    async def _released(self, room_id: uuid.UUID, released: bool) -> None:
        if released:
            await self._seat_roles.released(room_id)

    # -- host actions --------------------------------------------------------------------

    async def end_room(self, room_id: uuid.UUID, host_id: uuid.UUID) -> RoomView:
        """End the meeting for everyone. A kept room stays active: everyone is sent out as
        from an ended meeting (`room.ended`, close 4410), and the next one to join starts
        the next meeting."""
        kept: After | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            locked, _ = await self._host_seat(conn, room_id, host_id)
            if self._livekit is not None:
                await self._livekit.delete_room(locked["livekit_room_name"])
            if locked["persistent"]:
                seats = await store.release_all_seats(conn, room_id)
                await store.touch_room(conn, room_id)
                kept = await self._keeper.unseated(conn, room_id, seats, "ended")
            else:
                await store.end_room(conn, room_id, "host")
            room = await store.get_room(conn, room_id)
        assert room is not None
        await self._seat_roles.ended(room_id)
        await self._events.ended(room_id, "host")
        if kept is not None:
            await kept()
        return self.with_capacity(room)

    async def set_locked(self, room_id: uuid.UUID, host_id: uuid.UUID, locked: bool) -> RoomView:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._host_seat(conn, room_id, host_id)
            await store.set_locked(conn, room_id, locked)
            room = await store.get_room(conn, room_id)
        assert room is not None
        await self._events.updated(room_id, room.locked)
        return self.with_capacity(room)

    async def remove_participant(
        self, room_id: uuid.UUID, host_id: uuid.UUID, target_id: uuid.UUID
    ) -> ParticipantView:
        async with self._pool.acquire() as conn, conn.transaction():
            # Who may remove anyone comes first: a guest removing themselves is refused as
            # not the host, like any other guest calling a host action.
            locked, _ = await self._host_seat(conn, room_id, host_id)
            if target_id == host_id:
                raise MootError(
                    "invalid_request", "The host cannot remove themselves; leave the room instead."
                )
            target = await store.active_seat(conn, room_id, target_id)
            if target is None:
                raise MootError("participant_not_found")
            if self._livekit is not None:
                await self._livekit.remove_participant(locked["livekit_room_name"], str(target_id))
            released = await self._release_roles(conn, room_id, target)
            await store.release_seat(conn, target["id"], "removed")
            await store.touch_room(conn, room_id)
            removed = store.participant_view(target)
            kept = None
            if locked["persistent"]:
                kept = await self._keeper.unseated(conn, room_id, [removed], "removed")
        await self._released(room_id, released)
        await self._events.left(room_id, removed, "removed")
        if kept is not None:
            await kept()
        return removed

    async def transfer_host(
        self, room_id: uuid.UUID, host_id: uuid.UUID, target_id: uuid.UUID
    ) -> ParticipantView:
        async with self._pool.acquire() as conn, conn.transaction():
            _, host = await self._host_seat(conn, room_id, host_id)
            if target_id == host_id:
                raise MootError("already_host")
            target = await store.active_seat(conn, room_id, target_id)
            if target is None:
                raise MootError("participant_not_found")
            # Demote first: the one-host index forbids two hosts even inside a transaction.
            await store.set_role(conn, host["id"], "participant")
            new_host = await store.set_role(conn, target["id"], "host")
            await store.touch_room(conn, room_id)
        await self._events.host_changed(room_id, new_host)
        return new_host

    # -- helpers -------------------------------------------------------------------------

    async def _seat_in_active_room(
        self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> tuple[asyncpg.Record, asyncpg.Record]:
        """(the locked room row, the caller's seat) or the error explaining why not."""
        room = await store.lock_room(conn, room_id)
        if room is None:
            raise MootError("room_not_found")
        if room["status"] == "ended":
            raise MootError("room_ended")
        seat = await store.active_seat(conn, room_id, participant_id)
        if seat is None:
            raise MootError("not_a_participant")
        return room, seat

    async def _host_seat(
        self, conn: store.Conn, room_id: uuid.UUID, participant_id: uuid.UUID
    ) -> tuple[asyncpg.Record, asyncpg.Record]:
        room, seat = await self._seat_in_active_room(conn, room_id, participant_id)
        if seat["role"] != "host":
            raise MootError("not_host")
        return room, seat

    async def _hand_over_host(self, conn: store.Conn, room_id: uuid.UUID) -> ParticipantView | None:
        """Give the host role to the earliest-joined participant still in the room."""
        successor = await store.earliest_active_seat(conn, room_id)
        if successor is None:
            return None
        return await store.set_role(conn, successor["id"], "host")


def _session(room: RoomView, you: ParticipantView) -> RoomSession:
    return RoomSession(**msgspec.structs.asdict(room), you=you)


def _join_refusal(outcome: str, capacity: int | None, settings: RoomSettings) -> MootError:
    if outcome == "room_full":
        return MootError(
            "room_full",
            f"The room is full ({capacity} of {capacity}).",
            max_participants=capacity,
        )
    if outcome == "mesh_room_full":
        limit = settings.mesh_max_participants
        return MootError(
            "mesh_room_full",
            f"This meeting uses peer-to-peer video, which is limited to {limit} participants; "
            "it is full.",
            mesh_max_participants=limit,
        )
    return MootError(_REFUSED[outcome])


# What else `moot_join_room` may answer, and the error each one is.
_REFUSED: dict[str, ErrorCode] = {
    "room_not_found": "room_not_found",
    "room_ended": "room_ended",
    "removed_from_room": "removed_from_room",
    "room_locked": "room_locked",
}
