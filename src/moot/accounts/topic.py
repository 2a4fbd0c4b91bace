"""The account's own topic (`user:{account_id}`): only that account may follow it.

It carries what the account's other devices should hear: its sessions revoked, its name or
email changed (accounts/events.py), and what other domains tell the account (spaces it was
added to or removed from). Nobody sends frames on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Protocol

from moot.errors import MootError
from moot.realtime.close_codes import CloseCode
from moot.realtime.envelope import EventHead
from moot.realtime.gateway import Grant, Reply
from moot.realtime.topics import topic

_GONE = (CloseCode.SESSION_REVOKED, "the account was deleted")


class Accounts(Protocol):
    async def existing_accounts(self, account_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        """Of these accounts, those that exist."""


def _never(head: EventHead, subscriber: uuid.UUID) -> None:
    """No event on the topic ends a subscription: the account's sockets close when their
    session ends (realtime/sessions.py)."""
    return None


class UserTopic:
    """The gateway's `user` topic kind."""

    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    async def grant(self, caller: uuid.UUID, topic_id: str) -> Grant:
        """The caller is signed in as this very account (a signed-in caller's participant
        id is its account id; an anonymous identity's never is one), or is refused."""
        try:
            account_id = uuid.UUID(topic_id)
        except ValueError:
            raise MootError("unknown_topic") from None
        if account_id != caller or not await self._accounts.existing_accounts([account_id]):
            raise MootError("topic_forbidden", "Only the account itself may follow its topic.")
        return Grant(topic=topic("user", account_id), ending=_never, context=account_id)

    async def handle(self, grant: Grant, frame: str, reply: Reply) -> None:
        raise MootError("invalid_frame", "Nothing is sent on an account's topic.")

    async def released(self, grant: Grant) -> None:
        return None

    async def revoked(self, grants: Sequence[Grant]) -> list[tuple[CloseCode, str] | None]:
        """Subscriptions of accounts deleted meanwhile end (one query for all)."""
        existing = await self._accounts.existing_accounts([grant.context for grant in grants])
        return [None if grant.context in existing else _GONE for grant in grants]

    def observed(self, topic: str, head: EventHead) -> None:
        return None
