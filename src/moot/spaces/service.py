"""The rules of spaces: who may do what, the last-space rule, invites.

Roles: the owner (one per space) renames, deletes and hands the space over; admins manage
members and invites; members take part. Every account keeps at least one space: its own last
one cannot be deleted or left (409 `last_space`), and anyone who loses their last one through
someone else (a deleted space, a removal) gets a fresh one of their own.

Changes to one space's membership take the space's row lock first, so they happen one at a
time (two admins removing each other, an owner leaving while handing over).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from moot.accounts.schemas import AccountView
from moot.accounts.service import clean_display_name
from moot.errors import MootError
from moot.spaces import store
from moot.spaces.schemas import (
    CreateInvite,
    InvitePreview,
    InviteSpace,
    InviteView,
    MemberView,
    Role,
    SpaceView,
)

_RANK: dict[Role, int] = {"member": 0, "admin": 1, "owner": 2}
FIRST_SPACE_NAME = "My space"


def clean_space_name(value: str) -> str:
    try:
        return clean_display_name(value)
    except MootError:
        raise MootError(
            "validation_failed", "name must be 1 to 64 visible characters.", field="name"
        ) from None


class SpaceService:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- hooks for accounts --------------------------------------------------------------

    async def account_created(self, conn: store.Conn, account: AccountView) -> None:
        """Every account starts with a space of its own (inside the registering transaction)."""
        await store.create_space(conn, FIRST_SPACE_NAME, account.id)

    async def forget_account(self, conn: store.Conn, account_id: uuid.UUID) -> None:
        """An account is being deleted: each space it owns passes to its earliest admin (else
        member), and is deleted with the account if nobody else is in it."""
        for space_id in await store.owned_spaces(conn, account_id):
            heir = await store.successor(conn, space_id, account_id)
            if heir is None:
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
            return await self._view(conn, account_id, space_id)

    async def rename_space(
        self, account_id: uuid.UUID, space_id: uuid.UUID, name: str
    ) -> SpaceView:
        name = clean_space_name(name)
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, space_id, account_id, "owner")
            await store.rename_space(conn, space_id, name)
            return await self._view(conn, account_id, space_id)

    async def delete_space(self, account_id: uuid.UUID, space_id: uuid.UUID) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await self._require(conn, space_id, account_id, "owner", lock=True)
            if await store.count_spaces(conn, account_id) <= 1:
                raise MootError("last_space")
            members = await store.delete_space(conn, space_id)
            for member in members:
                await self._ensure_a_space(conn, member)

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
            if role == "owner":
                if mine != "owner":
                    raise MootError("insufficient_role", "Only the owner can hand the space over.")
                if target != account_id:
                    await store.set_role(conn, space_id, account_id, "admin")
                    await store.set_role(conn, space_id, target, "owner")
            elif theirs == "owner":
                raise MootError(
                    "insufficient_role", "The owner's role changes only by handing the space over."
                )
            else:
                await store.set_role(conn, space_id, target, role)
            members = await store.list_members(conn, space_id)
        return next(member for member in members if member.account_id == target)

    async def remove_member(
        self, account_id: uuid.UUID, space_id: uuid.UUID, target: uuid.UUID
    ) -> None:
        """Leave (target is the caller) or remove someone: admins remove members, the owner
        removes anyone; the owner leaves only after handing the space over."""
        async with self._pool.acquire() as conn, conn.transaction():
            mine = await self._require(conn, space_id, account_id, "member", lock=True)
            if target == account_id:
                if mine == "owner":
                    raise MootError("owner_must_transfer")
                if await store.count_spaces(conn, account_id) <= 1:
                    raise MootError("last_space")
                await store.remove_member(conn, space_id, account_id)
                return
            theirs = await store.role_in(conn, space_id, target)
            if theirs is None:
                raise MootError("not_found", "That account is not a member of this space.")
            if _RANK[mine] < _RANK["admin"] or _RANK[theirs] >= _RANK[mine]:
                raise MootError("insufficient_role")
            await store.remove_member(conn, space_id, target)
            await self._ensure_a_space(conn, target)

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
            return await self._view(conn, account_id, space_id)

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
        """The caller's role, if it is at least `least`. A space one is not in is 403
        `not_space_member` whether or not it exists: ids of others' spaces reveal nothing."""
        role = await store.role_in(conn, space_id, account_id, lock=lock)
        if role is None:
            raise MootError("not_space_member")
        if _RANK[role] < _RANK[least]:
            raise MootError("insufficient_role")
        return role

    async def _view(
        self, conn: store.Conn, account_id: uuid.UUID, space_id: uuid.UUID
    ) -> SpaceView:
        view = await store.space_of(conn, account_id, space_id)
        if view is None:
            raise MootError("not_space_member")
        return view

    async def _ensure_a_space(self, conn: store.Conn, account_id: uuid.UUID) -> None:
        if await store.count_spaces(conn, account_id) == 0:
            await store.create_space(conn, FIRST_SPACE_NAME, account_id)


def _why_unusable(invite: asyncpg.Record | None) -> MootError:
    if invite is None:
        return MootError("invite_not_found")
    if invite["expired"]:
        return MootError("invite_expired")
    return MootError("invite_used_up")
