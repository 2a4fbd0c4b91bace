"""Passwords: which ones are accepted, and argon2id hashing off the event loop.

argon2id costs about a third of a second of one core here by design, so hashing and
verifying run on a worker thread: the event loop keeps serving everyone else meanwhile.
"""

from __future__ import annotations

import asyncio
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from moot.errors import MootError

# Punctuation people tack onto a common word to pass a rule ("password2024!").
_SUFFIX = "0123456789!@#$%^&*()-_=+.,?~"
_MIN_DISTINCT = 5  # "aaaaaaaaaaa" and "abababababab" are long but guessed at once


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("moot.accounts").joinpath("common_passwords.txt").read_text("utf-8")
    lines = (line.strip() for line in text.splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


def check_strength(password: str, *, min_length: int, email: str) -> None:
    """Refuse a password that is short or among the ones guessed first (422 `weak_password`,
    with `reason`: too_short, too_common, too_simple or contains_email)."""
    if len(password) < min_length:
        raise MootError(
            "weak_password",
            f"The password must be at least {min_length} characters long.",
            reason="too_short",
            min_length=min_length,
        )
    lowered = password.lower()
    if _is_common(lowered):
        raise MootError(
            "weak_password", "This password is among the most common ones.", reason="too_common"
        )
    if len(set(lowered)) < _MIN_DISTINCT:
        raise MootError(
            "weak_password",
            f"The password needs at least {_MIN_DISTINCT} different characters.",
            reason="too_simple",
        )
    local_part = email.lower().partition("@")[0]
    if len(local_part) >= 4 and local_part in lowered:
        raise MootError(
            "weak_password", "The password must not contain the email.", reason="contains_email"
        )


def _is_common(lowered: str) -> bool:
    """One of the list, or one of them with digits or punctuation added at the end."""
    common = common_passwords()
    if lowered in common:
        return True
    return any(
        lowered.startswith(word) and not lowered[len(word) :].strip(_SUFFIX)
        for word in common
        if len(word) >= 4
    )


class Passwords:
    """argon2id with the configured cost (OWASP's minimum by default)."""

    def __init__(self, memory_kib: int, iterations: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=iterations, memory_cost=memory_kib, parallelism=1, hash_len=32, salt_len=16
        )
        self._dummy: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Whether `password` matches. With no stored hash (no such account), a made-up hash
        is verified all the same, so an unknown email takes as long as a wrong password."""
        if stored_hash is None:
            stored_hash = await self._dummy_hash()
            await asyncio.to_thread(self._matches, stored_hash, password)
            return False
        return await asyncio.to_thread(self._matches, stored_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    def _matches(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _dummy_hash(self) -> str:
        if self._dummy is None:
            self._dummy = await self.hash("no account has this password")
        return self._dummy
