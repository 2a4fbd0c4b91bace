"""The rules of rooms: who may join, who hosts, what the host may do.

Every change to one room runs in a transaction that first takes the room's row lock, so
concurrent joins, leaves and host actions on a room see each other's effects in order; that is
what keeps a 10-seat room at 10 under 50 simultaneous joins. The join, the hot path, does it
inside PostgreSQL in one round trip (migrations/0003_join_room.sql).
"""

from __future__ import annotations

import contextlib
import re
import secrets
import string
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

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
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._limiter = limiter
        self._members = members
        self._events = events
        self._media = media
        self._livekit = livekit
        self._seat_roles = seat_roles
        self._resolved: dict[str, uuid.UUID] = {}

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
        self._resolved[ref] = found
        return found

    async def look_up(self, ref: str, client: ClientInfo) -> RoomView:
        """A room by its code or UUID, for anyone with the link. Counted per client address
        (`room_lookup`): it takes no credential, so it would otherwise let anyone try codes
        as fast as they could send them."""
        await self._limiter.check("room_lookup", client.ip or "unknown")
        return await self.get_room(await self.resolve(ref))

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
        async with self._pool.acquire() as conn:
            row = await store.join_room(
                conn,
                room_id=room_id,
                participant_id=participant_id,
                display_name=display_name,
                client_ip=client.ip,
                user_agent=client.user_agent,
                may_take_seat=may_take_seat,
                mesh_limit=None if self._livekit else self._settings.mesh_max_participants,
            )
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
        return await self._with_media(session)

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
        report = await run_cleanup(self._pool, self._settings, metrics)
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
            result, released = await self._leave(conn, room_id, seat)
        await self._released(room_id, released)
        if self._livekit is not None:
            # Leaving must work while LiveKit is down; the client hangs up its media itself.
            with contextlib.suppress(MootError):
                await self._livekit.remove_participant(
                    room["livekit_room_name"], str(participant_id)
                )
        await self._events.left(room_id, result.you, "left", result.new_host)
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
        event (an earlier session, or a participant already gone) changes nothing."""
        async with self._pool.acquire() as conn, conn.transaction():
            room_id = await store.find_by_livekit_name(conn, event.room_name)
            if room_id is None:
                return False
            room = await store.lock_room(conn, room_id)
            if room is None or room["status"] != "active":
                return False
            seat = await store.active_seat(conn, room_id, event.participant_id)
            if seat is None or seat["livekit_sid"] != event.sid:
                return False
            result, released = await self._leave(conn, room_id, seat)
        await self._released(room_id, released)
        await self._events.left(room_id, result.you, "left", result.new_host)
        return True

    async def _joined_media(self, event: MediaSessionEvent) -> bool:
        """Record the LiveKit session of a participant; False if they hold no seat."""
        async with self._pool.acquire() as conn:
            room_id = await store.find_by_livekit_name(conn, event.room_name)
            if room_id is None:
                return False
            return await store.set_livekit_sid(conn, room_id, event.participant_id, event.sid)

    async def _leave(
        self, conn: store.Conn, room_id: uuid.UUID, seat: asyncpg.Record
    ) -> tuple[LeaveResult, bool]:
        """Release the seat (and the host and transcription roles it held); the flag says
        whether that stopped a running transcription."""
        released = await self._release_roles(conn, room_id, seat)
        await store.release_seat(conn, seat["id"], "left")
        new_host = None
        if seat["role"] == "host":
            new_host = await self._hand_over_host(conn, room_id)
        await store.touch_room(conn, room_id)
        return LeaveResult(left=True, new_host=new_host, you=store.participant_view(seat)), released

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
        async with self._pool.acquire() as conn, conn.transaction():
            locked, _ = await self._host_seat(conn, room_id, host_id)
            if self._livekit is not None:
                await self._livekit.delete_room(locked["livekit_room_name"])
            await store.end_room(conn, room_id, "host")
            room = await store.get_room(conn, room_id)
        assert room is not None
        await self._seat_roles.ended(room_id)
        await self._events.ended(room_id, "host")
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
        await self._released(room_id, released)
        removed = store.participant_view(target)
        await self._events.left(room_id, removed, "removed")
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
