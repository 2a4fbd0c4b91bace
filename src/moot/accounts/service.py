"""The rules of accounts and their sessions: registration, sign-in, what a session proves,
changing and deleting an account.

A session token is 32 random bytes that only the client holds; PostgreSQL keeps its SHA-256,
so whoever reads the table still cannot sign in. An account's id is its participant id in
meetings: signed in, the caller is the account.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from moot.accounts import store
from moot.accounts.devices import device_label
from moot.accounts.events import AccountEvents
from moot.accounts.mail import reset_link, reset_message
from moot.accounts.passwords import Passwords, check_strength
from moot.accounts.schemas import (
    AccountView,
    ChangePassword,
    Login,
    PasswordResetConfirm,
    Register,
    RevokedBecause,
    SessionView,
    SignedIn,
    UpdateAccount,
)
from moot.errors import MootError
from moot.infra.mail import Mailer
from moot.infra.ratelimit import RateLimiter
from moot.settings import Settings

# Told inside the deleting transaction, so what other domains keep about the account (the
# names on its meeting seats) is erased with it or not at all.
EraseAccount = Callable[[store.Conn, uuid.UUID], Awaitable[None]]
# Told inside the registering transaction (the account's first space).
AccountCreated = Callable[[store.Conn, AccountView], Awaitable[None]]
# Told after the deleting transaction committed (the name on its chat messages).
AccountDeleted = Callable[[uuid.UUID], Awaitable[None]]

# Deliberately loose: one @, something on each side, a dot in the domain, no spaces nor
# control characters (PostgreSQL stores no NUL). Whether an address really receives mail only
# a sent message can tell.
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
DISPLAY_NAME_MAX = 64


@dataclass(frozen=True)
class AccountSession:
    """A signed-in request: the account and the session it came with."""

    account: AccountView
    session_id: uuid.UUID


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def clean_email(value: str) -> str:
    email = value.strip()
    if not _EMAIL.match(email):
        raise MootError("validation_failed", "email is not an email address.", field="email")
    return email


def clean_display_name(value: str) -> str:
    name = " ".join("".join(ch for ch in value if ch.isprintable()).split())
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


class AccountService:
    def __init__(
        self,
        pool: asyncpg.Pool,
        settings: Settings,
        limiter: RateLimiter,
        *,
        erase_account: EraseAccount,
        account_created: AccountCreated,
        account_deleted: AccountDeleted,
        events: AccountEvents,
        mailer: Mailer | None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._limiter = limiter
        self._passwords = Passwords(
            settings.password_hash_memory_kib, settings.password_hash_iterations
        )
        self._erase_account = erase_account
        self._account_created = account_created
        self._account_deleted = account_deleted
        self._events = events
        self._mailer = mailer

    # -- registration and sign-in --------------------------------------------------------

    async def register(self, body: Register, ip: str | None, user_agent: str | None) -> SignedIn:
        await self._limiter.check("account_create", ip or "unknown")
        email = clean_email(body.email)
        display_name = clean_display_name(body.display_name)
        check_strength(body.password, min_length=self._settings.password_min_length, email=email)
        password_hash = await self._passwords.hash(body.password)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await store.insert_account(
                conn, email=email, password_hash=password_hash, display_name=display_name
            )
            if row is None:
                raise MootError("email_taken")
            account = store.account_view(row)
            await self._account_created(conn, account)
            token = await self._new_session(conn, account.id, user_agent)
        return SignedIn(account=account, token=token)

    async def login(self, body: Login, ip: str | None, user_agent: str | None) -> SignedIn:
        """One answer, `invalid_login`, for an unknown email and a wrong password, given in
        the same time: an unknown email still costs a full password verification."""
        email = body.email.strip().lower()
        await self._limiter.check("login_ip", ip or "unknown")
        await self._limiter.check("login_email", hashlib.sha256(email.encode()).hexdigest())
        row = None
        if _EMAIL.match(email):  # no account has any other kind of address
            async with self._pool.acquire() as conn:
                row = await store.find_by_email(conn, email)
        stored_hash = row["password_hash"] if row is not None else None
        if not await self._passwords.verify(stored_hash, body.password) or row is None:
            raise MootError("invalid_login")
        async with self._pool.acquire() as conn, conn.transaction():
            if self._passwords.needs_rehash(row["password_hash"]):
                # The cost settings changed since this hash was made: keep up with them.
                await store.set_password_hash(
                    conn, row["id"], await self._passwords.hash(body.password)
                )
            token = await self._new_session(conn, row["id"], user_agent)
        return SignedIn(account=store.account_view(row), token=token)

    async def _new_session(
        self, conn: store.Conn, account_id: uuid.UUID, user_agent: str | None
    ) -> str:
        token = secrets.token_urlsafe(32)
        await store.insert_session(
            conn,
            account_id=account_id,
            token_hash=hash_token(token),
            user_agent=user_agent[:512] if user_agent else None,
            expires_at=datetime.now(UTC) + timedelta(seconds=self._settings.session_ttl_seconds),
        )
        return token

    # -- what a session proves -----------------------------------------------------------

    async def authenticate(self, token: str) -> AccountSession:
        """The account a session token signs in, or 401 `session_expired` when it names no
        live session (expired, signed out, revoked, or never issued)."""
        async with self._pool.acquire() as conn:
            row = await store.session_by_token(conn, hash_token(token))
            if row is None:
                raise MootError("session_expired")
            if row["stale"]:
                await store.touch_session(conn, row["session_id"])
        return AccountSession(account=store.account_view(row), session_id=row["session_id"])

    async def live_sessions(self, session_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Of these sessions, those that still sign someone in (the sockets' check)."""
        async with self._pool.acquire() as conn:
            return await store.live_sessions(conn, list(session_ids))

    async def existing_accounts(self, account_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        async with self._pool.acquire() as conn:
            return await store.existing_accounts(conn, list(account_ids))

    # -- sessions ------------------------------------------------------------------------

    async def list_sessions(self, caller: AccountSession) -> list[SessionView]:
        async with self._pool.acquire() as conn:
            rows = await store.list_sessions(conn, caller.account.id)
        return [
            SessionView(
                id=row["id"],
                device=device_label(row["user_agent"]),
                current=row["id"] == caller.session_id,
                created_at=row["created_at"],
                last_seen_at=row["last_seen_at"],
                expires_at=row["expires_at"],
            )
            for row in rows
        ]

    async def revoke_session(self, caller: AccountSession, session_id: uuid.UUID) -> None:
        """End one of the account's sessions (this one: signing out), and its sockets."""
        async with self._pool.acquire() as conn:
            if not await store.delete_session(conn, caller.account.id, session_id):
                raise MootError("not_found", "You have no session with this id.")
        reason: RevokedBecause = "signed_out" if session_id == caller.session_id else "revoked"
        await self._events.sessions_revoked(caller.account.id, [session_id], reason)

    async def sign_out_everywhere(self, caller: AccountSession) -> None:
        async with self._pool.acquire() as conn:
            ended = await store.delete_sessions(conn, caller.account.id)
        await self._events.sessions_revoked(caller.account.id, ended, "signed_out_everywhere")

    # -- changing and deleting the account -----------------------------------------------

    async def update(self, caller: AccountSession, body: UpdateAccount) -> AccountView:
        display_name = clean_display_name(body.display_name) if body.display_name else None
        email = clean_email(body.email) if body.email is not None else None
        if email is not None and email != caller.account.email:
            # An email is how the account is signed into: changing it takes the password.
            await self._require_password(caller, body.current_password)
        async with self._pool.acquire() as conn, conn.transaction():
            row = await store.update_account(
                conn, caller.account.id, email=email, display_name=display_name
            )
            if row is None:
                raise MootError("email_taken")
            if email is not None and email != caller.account.email:
                # A reset link mailed to the old address no longer opens the account.
                await store.delete_resets(conn, caller.account.id)
        account = store.account_view(row)
        if account != caller.account:
            await self._events.updated(account)
        return account

    async def change_password(self, caller: AccountSession, body: ChangePassword) -> None:
        """A new password signs out every other session: whoever may have known the old one
        is no longer in."""
        await self._require_password(caller, body.current_password)
        check_strength(
            body.new_password,
            min_length=self._settings.password_min_length,
            email=caller.account.email,
        )
        password_hash = await self._passwords.hash(body.new_password)
        async with self._pool.acquire() as conn, conn.transaction():
            await store.set_password_hash(conn, caller.account.id, password_hash)
            ended = await store.delete_sessions(conn, caller.account.id, keep=caller.session_id)
            await store.delete_resets(conn, caller.account.id)
        await self._events.sessions_revoked(caller.account.id, ended, "password_changed")

    async def delete(self, caller: AccountSession, password: str) -> None:
        """Delete the account, its sessions and what other domains keep about it, in one
        transaction; then close its sockets and take its name off its chat messages."""
        await self._require_password(caller, password)
        account_id = caller.account.id
        async with self._pool.acquire() as conn, conn.transaction():
            ended = await store.delete_sessions(conn, account_id)
            await self._erase_account(conn, account_id)
            await store.delete_account(conn, account_id)
        await self._events.sessions_revoked(account_id, ended, None)
        await self._account_deleted(account_id)

    # -- password reset by email ---------------------------------------------------------

    async def request_password_reset(self, email: str, ip: str | None) -> None:
        """Mail a single-use reset link if an account has this email. The answer is the same
        either way (so is its time, near enough: the mail goes out after it); only the
        budgets below and the mailbox's owner learn anything."""
        if self._mailer is None:
            raise MootError("email_unavailable")
        await self._limiter.check("password_reset_ip", ip or "unknown")
        email = clean_email(email)
        key = hashlib.sha256(email.lower().encode()).hexdigest()  # Redis holds no addresses
        await self._limiter.check("password_reset_email", key)
        token = secrets.token_urlsafe(32)
        ttl = self._settings.password_reset_ttl_seconds
        async with self._pool.acquire() as conn:
            row = await store.find_by_email(conn, email)
            if row is None:
                return
            expires_at = datetime.now(UTC) + timedelta(seconds=ttl)
            await store.insert_reset(conn, row["id"], hash_token(token), expires_at)
        link = reset_link(self._mailer.settings.public_url, token)
        message = reset_message(row["email"], row["display_name"], link, ttl // 60)
        self._mailer.send_later(message, "password_reset")

    async def confirm_password_reset(self, body: PasswordResetConfirm) -> None:
        """Set a new password with a reset link's token, which is spent by it; every session
        of the account ends. 400 `invalid_reset_token` for a token that is unknown, expired,
        or already used (of two confirmations at once, one wins and the other gets this)."""
        token_hash = hash_token(body.token)
        async with self._pool.acquire() as conn:
            row = await store.reset_by_token(conn, token_hash)
        if row is None:
            raise MootError("invalid_reset_token")
        # A weak password is refused before the token is spent: the link still works.
        check_strength(
            body.password, min_length=self._settings.password_min_length, email=row["email"]
        )
        password_hash = await self._passwords.hash(body.password)
        async with self._pool.acquire() as conn, conn.transaction():
            account_id = await store.use_reset(conn, token_hash)
            if account_id is None:
                raise MootError("invalid_reset_token")
            await store.set_password_hash(conn, account_id, password_hash)
            ended = await store.delete_sessions(conn, account_id)
            await store.delete_resets(conn, account_id)
        await self._events.sessions_revoked(account_id, ended, "password_reset")

    async def _require_password(self, caller: AccountSession, password: str | None) -> None:
        async with self._pool.acquire() as conn:
            row = await store.get_account(conn, caller.account.id)
        if row is None:
            raise MootError("session_expired")
        if not password or not await self._passwords.verify(row["password_hash"], password):
            raise MootError("wrong_password")


async def purge_expired_sessions(conn: store.Conn) -> int:
    """Delete sessions and password-reset tokens past their expiry (the cleanup pass); how
    many sessions went."""
    await store.delete_expired_resets(conn)
    return await store.delete_expired_sessions(conn)
