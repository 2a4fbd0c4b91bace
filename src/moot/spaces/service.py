"""The rules of spaces: who may do what, the last-space rule, invites.

Roles: the owner (one per space) renames, deletes and hands the space over; admins manage
members and invites; members take part. Every account keeps at least one space: its own last
one cannot be deleted or left (409 `last_space`), and anyone who loses their last one through
someone else (a deleted space, a removal) gets a fresh one of their own.

Changes to one space's membership take the space's row lock first, so they happen one at a
time (two admins removing each other, an owner leaving while handing over). Whoever loses a
space is sent out of a meeting in its rooms in the same transaction (a join into a space room
share-locks that row, so a removal waits for it and then finds the seat).

After each change commits, the space's topic hears of it (member joined/left/removed, role
changed, invite used, settings changed, the space deleted), and so does the `user:` topic of
each account that joined or left the space.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import msgspec

from moot.accounts.schemas import AccountView
from moot.accounts.service import clean_display_name
from moot.errors import MootError
from moot.rooms.service import After, RoomService
from moot.spaces import store
from moot.spaces.events import SpaceEvents
from moot.spaces.schemas import (
    CreateInvite,
    InvitePreview,
    InviteSpace,
    InviteUsed,
    InviteView,
    MemberJoined,
    MemberLeft,
    MemberRemoved,
    MemberView,
    Role,
    RoleChanged,
    SpaceDeleted,
    SpaceJoined,
    SpaceLeft,
    SpaceUpdated,
    SpaceView,
    UpdateSpace,
)

_RANK: dict[Role, int] = {"member": 0, "admin": 1, "owner": 2}
FIRST_SPACE_NAME = "My space"
DELETED_ACCOUNT_NAME = "Deleted account"  # as rooms name the seats of a deleted account


def clean_space_name(value: str) -> str:
    try:
        return clean_display_name(value)
    except MootError:
        raise MootError(
            "validation_failed", "name must be 1 to 64 visible characters.", field="name"
        ) from None


async def require(
    conn: store.Conn,
    space_id: uuid.UUID,
    account_id: uuid.UUID,
    least: Role,
    *,
    lock: bool = False,
) -> Role:
    """The caller's role, if it is at least `least`. A space one is not in is 403
    `not_space_member` whether or not it exists: ids of others' spaces reveal nothing."""
    role = await store.role_in(conn, space_id, account_id, lock=lock)
    if role is None:
        raise MootError("not_space_member")
    if _RANK[role] < _RANK[least]:
        raise MootError("insufficient_role")
    return role


# Told, after the commit, whose membership of a space ended or whose role in it changed (the
# channels domain ends their subscriptions to channels they no longer see).
MembershipChanged = Callable[[uuid.UUID, set[uuid.UUID]], Awaitable[None]]


async def _nobody_watches(space_id: uuid.UUID, accounts: set[uuid.UUID]) -> None:
    return None


class SpaceService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        rooms: RoomService,
        events: SpaceEvents,
        membership_changed: MembershipChanged = _nobody_watches,
    ) -> None:
        self._pool = pool
        self._rooms = rooms
        self._events = events
        self._membership_changed = membership_changed

    # -- hooks for accounts --------------------------------------------------------------

    async def account_created(self, conn: store.Conn, account: AccountView) -> None:
        """Every account starts with a space of its own (inside the registering transaction)."""
        await store.create_space(conn, FIRST_SPACE_NAME, account.id)

    async def forget_account(self, conn: store.Conn, account_id: uuid.UUID) -> None:
        """An account is being deleted: each space it owns passes to its earliest admin (else
        member), and is deleted with the account if nobody else is in it."""
        await store.forget_attendee(conn, account_id, DELETED_ACCOUNT_NAME)
        for space_id in await store.owned_spaces(conn, account_id):
            heir = await store.successor(conn, space_id, account_id)
            if heir is None:
                # Nobody else is in it: its rooms go too. The account's deletion has no step
                # after its commit, so a meeting still going on in one (guests) is not told;
                # its sockets find the room gone at their next send or re-check.
                for room_id in await store.room_ids(conn, space_id):
                    await self._rooms.delete_kept_room(conn, room_id)
                await store.delete_space(conn, space_id)
            else:
                await store.remove_member(conn, space_id, account_id)
                await store.set_role(conn, space_id, heir, "owner")

    # -- spaces --------------------------------------------------------------------------

    async def list_spaces(self, account_id: uuid.UUID) -> list[SpaceView]:
        async with self._pool.acquire() as conn:
            return await store.spaces_of(conn, account_id)

    async def create_space(self, account_id: uuid.UUID, name: str) -> SpaceView:
        name = clean_space_name(name)
        async with self._pool.acquire() as conn, conn.transaction():
            space_id = await store.create_space(conn, name, account_id)
            view = await self._view(conn, account_id, space_id)
        await self._events.user(account_id, SpaceJoined(space=view))
        return view

    async def update_space(
        self, account_id: uuid.UUID, space_id: uuid.UUID, change: UpdateSpace
    ) -> SpaceView:
        """Rename (owner) or change the meeting settings (admins). Turning members-only on
        sends the guests in its rooms out at once."""
        name = None if change.name is msgspec.UNSET else clean_space_name(change.name)
        least: Role = "owner" if name is not None else "admin"
        afters: list[After] = []
        async with self._pool.acquire() as conn, conn.transaction():
            await require(conn, space_id, account_id, least, lock=True)
            if name is not None:
                await store.rename_space(conn, space_id, name)
            now = await store.settings_of(conn, space_id)
            assert now is not None  # the caller's role in it was just read under its lock
            members_only = now["members_only"]
            if change.members_only is not msgspec.UNSET:
                members_only = change.members_only
            retention = now["session_retention_days"]
            if change.session_retention_days is not msgspec.UNSET:
                retention = change.session_retention_days
            await store.update_settings(conn, space_id, members_only, retention)
            if members_only and not now["members_only"]:
                afters = await self._send_out_guests(conn, space_id)
            view = await self._view(conn, account_id, space_id)
        await self._events.space(
            space_id,
            SpaceUpdated(
                name=view.name,
                members_only=view.members_only,
                session_retention_days=view.session_retention_days,
            ),
        )
        for after in afters:
            await after()
        return view

    async def delete_space(self, account_id: uuid.UUID, space_id: uuid.UUID) -> None:
        """Delete the space with its rooms (a meeting in one ends), sessions and transcripts."""
        afters: list[After] = []
        async with self._pool.acquire() as conn, conn.transaction():
            await require(conn, space_id, account_id, "owner", lock=True)
            if await store.count_spaces(conn, account_id) <= 1:
                raise MootError("last_space")
            for room_id in await store.room_ids(conn, space_id):
                afters.append(await self._rooms.delete_kept_room(conn, room_id))
            members = await store.delete_space(conn, space_id)
            fresh = [(m, await self._ensure_a_space(conn, m)) for m in members]
        for after in afters:
            await after()
        await self._events.space(space_id, SpaceDeleted())
        for member, new_space in fresh:
            await self._events.user(member, SpaceLeft(space_id=space_id, reason="deleted"))
            await self._announce_fresh(member, new_space)

    async def activate(self, account_id: uuid.UUID, space_id: uuid.UUID) -> SpaceView:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, space_id, account_id, "member")
            await store.set_active(conn, account_id, space_id)
            return await self._view(conn, account_id, space_id)

    # -- members -------------------------------------------------------------------------

    async def list_members(self, account_id: uuid.UUID, space_id: uuid.UUID) -> list[MemberView]:
        async with self._pool.acquire() as conn:
            await self._require(conn, space_id, account_id, "member")
            return await store.list_members(conn, space_id)

    async def change_role(
        self, account_id: uuid.UUID, space_id: uuid.UUID, target: uuid.UUID, role: Role
    ) -> MemberView:
        """Admins make members admins and back; the owner alone hands over ownership (and
        becomes an admin). Nobody changes the owner's role but the owner, by handing over."""
        async with self._pool.acquire() as conn, conn.transaction():
            mine = await self._require(conn, space_id, account_id, "admin", lock=True)
            theirs = await store.role_in(conn, space_id, target)
            if theirs is None:
                raise MootError("not_found", "That account is not a member of this space.")
            changed = {target} if role != theirs else set()
            if role == "owner":
                if mine != "owner":
                    raise MootError("insufficient_role", "Only the owner can hand the space over.")
                if target != account_id:
                    await store.set_role(conn, space_id, account_id, "admin")
                    await store.set_role(conn, space_id, target, "owner")
                    changed.add(account_id)
            elif theirs == "owner":
                raise MootError(
                    "insufficient_role", "The owner's role changes only by handing the space over."
                )
            else:
                await store.set_role(conn, space_id, target, role)
            members = await store.list_members(conn, space_id)
        await self._events.space(
            space_id, *(RoleChanged(member=m) for m in members if m.account_id in changed)
        )
        await self._membership_changed(space_id, changed)
        return next(member for member in members if member.account_id == target)

    async def remove_member(
        self, account_id: uuid.UUID, space_id: uuid.UUID, target: uuid.UUID
    ) -> None:
        """Leave (target is the caller) or remove someone: admins remove members, the owner
        removes anyone; the owner leaves only after handing the space over."""
        async with self._pool.acquire() as conn, conn.transaction():
            mine = await require(conn, space_id, account_id, "member", lock=True)
            if target == account_id:
                if mine == "owner":
                    raise MootError("owner_must_transfer")
                if await store.count_spaces(conn, account_id) <= 1:
                    raise MootError("last_space")
            else:
                theirs = await store.role_in(conn, space_id, target)
                if theirs is None:
                    raise MootError("not_found", "That account is not a member of this space.")
                if _RANK[mine] < _RANK["admin"] or _RANK[theirs] >= _RANK[mine]:
                    raise MootError("insufficient_role")
            members = await store.list_members(conn, space_id)
            gone = next(m for m in members if m.account_id == target)
            await store.remove_member(conn, space_id, target)
            afters = await self._send_out(conn, space_id, {target})
            new_space = await self._ensure_a_space(conn, target)
        # The removal first: it ends their subscription to the space before its meetings
        # hear that they were sent out.
        if target == account_id:
            await self._events.space(
                space_id, MemberLeft(participant_id=target, display_name=gone.display_name)
            )
        else:
            await self._events.space(
                space_id,
                MemberRemoved(participant_id=target, display_name=gone.display_name, by=account_id),
            )
        for after in afters:
            await after()
        await self._membership_changed(space_id, {target})
        await self._events.user(
            target,
            SpaceLeft(space_id=space_id, reason="left" if target == account_id else "removed"),
        )
        await self._announce_fresh(target, new_space)

    # -- invites -------------------------------------------------------------------------

    async def create_invite(
        self, account_id: uuid.UUID, space_id: uuid.UUID, body: CreateInvite
    ) -> InviteView:
        expires_at = None
        if body.expires_in_seconds is not None:
            expires_at = datetime.now(UTC) + timedelta(seconds=body.expires_in_seconds)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, space_id, account_id, "admin")
            return await store.insert_invite(
                conn,
                code=secrets.token_urlsafe(9),  # 72 bits: not guessable, short enough to paste
                space_id=space_id,
                created_by=account_id,
                max_uses=body.max_uses,
                expires_at=expires_at,
            )

    async def revoke_invite(self, account_id: uuid.UUID, space_id: uuid.UUID, code: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, space_id, account_id, "admin")
            if not await store.delete_invite(conn, space_id, code):
                raise MootError("invite_not_found")

    async def preview_invite(self, code: str) -> InvitePreview:
        async with self._pool.acquire() as conn:
            invite = await self._usable_invite(conn, code)
        return InvitePreview(
            code=invite["code"],
            space=InviteSpace(
                id=invite["space_id"], name=invite["name"], member_count=invite["member_count"]
            ),
            expires_at=invite["expires_at"],
        )

    async def accept_invite(self, account_id: uuid.UUID, code: str) -> SpaceView:
        """Join the invite's space. A member already in it spends no use; otherwise the join
        and the use commit together or not at all."""
        async with self._pool.acquire() as conn, conn.transaction():
            invite = await self._usable_invite(conn, code)
            space_id = invite["space_id"]
            joined = await store.add_member(conn, space_id, account_id, "member")
            if joined and not await store.use_invite(conn, code):
                # Others took the last uses (or it expired) since we looked: the join rolls
                # back with the transaction.
                raise _why_unusable(await store.find_invite(conn, code))
            view = await self._view(conn, account_id, space_id)
            used = await store.find_invite(conn, code)
            members = await store.list_members(conn, space_id) if joined else []
        if joined:
            member = next(m for m in members if m.account_id == account_id)
            assert used is not None
            await self._events.space(
                space_id,
                MemberJoined(member=member),
                InviteUsed(
                    code=code, uses=used["uses"], max_uses=used["max_uses"], account_id=account_id
                ),
            )
            await self._events.user(account_id, SpaceJoined(space=view))
        return view

    async def role(self, space_id: uuid.UUID, account_id: uuid.UUID) -> Role:
        """The caller's role in the space (403 `not_space_member` if none)."""
        async with self._pool.acquire() as conn:
            return await require(conn, space_id, account_id, "member")

    async def still_members(self, pairs: list[tuple[uuid.UUID, uuid.UUID]]) -> set[int]:
        """Of these (space, account) pairs, the positions of those still members."""
        if not pairs:
            return set()
        async with self._pool.acquire() as conn:
            found = await store.memberships(conn, pairs)
        members = {(space, account) for space, account, member in found if member}
        return {i for i, pair in enumerate(pairs) if pair in members}

    # -- helpers -------------------------------------------------------------------------

    async def _usable_invite(self, conn: store.Conn, code: str) -> asyncpg.Record:
        invite = await store.find_invite(conn, code)
        if invite is None or invite["expired"] or invite["used_up"]:
            raise _why_unusable(invite)
        return invite

    async def _require(
        self,
        conn: store.Conn,
        space_id: uuid.UUID,
        account_id: uuid.UUID,
        least: Role,
        *,
        lock: bool = False,
    ) -> Role:
        return await require(conn, space_id, account_id, least, lock=lock)

    async def _send_out(
        self, conn: store.Conn, space_id: uuid.UUID, who: set[uuid.UUID]
    ) -> list[After]:
        """Send these participants out of any meeting in the space's rooms."""
        afters: list[After] = []
        for room_id in await store.room_ids(conn, space_id):
            for participant_id in who & await self._rooms.seated_ids(conn, room_id):
                after = await self._rooms.expel(conn, room_id, participant_id)
                if after is not None:
                    afters.append(after)
        return afters

    async def _send_out_guests(self, conn: store.Conn, space_id: uuid.UUID) -> list[After]:
        """The space became members-only: everyone in its rooms who is not a member leaves."""
        members = await store.member_ids(conn, space_id)
        afters: list[After] = []
        for room_id in await store.room_ids(conn, space_id):
            for participant_id in await self._rooms.seated_ids(conn, room_id) - members:
                after = await self._rooms.expel(conn, room_id, participant_id)
                if after is not None:
                    afters.append(after)
        return afters

    async def _announce_fresh(self, account_id: uuid.UUID, space_id: uuid.UUID | None) -> None:
        """Tell the account's devices of the space it was given (it lost its last one)."""
        if space_id is None:
            return
        async with self._pool.acquire() as conn:
            view = await store.space_of(conn, account_id, space_id)
        if view is not None:
            await self._events.user(account_id, SpaceJoined(space=view))

    async def _view(
        self, conn: store.Conn, account_id: uuid.UUID, space_id: uuid.UUID
    ) -> SpaceView:
        view = await store.space_of(conn, account_id, space_id)
        if view is None:
            raise MootError("not_space_member")
        return view

    async def _ensure_a_space(self, conn: store.Conn, account_id: uuid.UUID) -> uuid.UUID | None:
        """Give the account a space of its own if it has none left; the new space's id."""
        if await store.count_spaces(conn, account_id) == 0:
            return await store.create_space(conn, FIRST_SPACE_NAME, account_id)
        return None


def _why_unusable(invite: asyncpg.Record | None) -> MootError:
    if invite is None:
        return MootError("invite_not_found")
    if invite["expired"]:
        return MootError("invite_expired")
    return MootError("invite_used_up")
