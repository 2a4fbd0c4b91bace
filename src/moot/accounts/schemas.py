"""Account and session payloads that cross the wire."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import msgspec

Email = Annotated[str, msgspec.Meta(max_length=254)]
# Long enough for any passphrase, short enough that hashing it costs nothing extra.
Password = Annotated[str, msgspec.Meta(max_length=1024)]
DisplayName = Annotated[str, msgspec.Meta(max_length=200)]


class Register(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password
    display_name: DisplayName


class Login(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email
    password: Password


class UpdateAccount(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Change the display name, the email or both; a new email needs the current password."""

    display_name: DisplayName | None = None
    email: Email | None = None
    current_password: Password | None = None


class ChangePassword(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    current_password: Password
    new_password: Password


class ConfirmPassword(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    password: Password


class PasswordResetRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    email: Email


class PasswordResetConfirm(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    token: Annotated[str, msgspec.Meta(max_length=128)]  # from the link in the mail
    password: Password  # the new one


class AccountView(msgspec.Struct, kw_only=True):
    id: uuid.UUID  # also the participant id the account has in every meeting
    email: str
    display_name: str


class SignedIn(msgspec.Struct, kw_only=True):
    """A new session: `token` for `Authorization: Bearer`; browsers also get it as a cookie."""

    account: AccountView
    token: str


class SessionView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    device: str  # read from the User-Agent at sign-in, such as "Firefox on Linux"
    current: bool  # the session this request was made with
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


class SessionList(msgspec.Struct, kw_only=True):
    items: list[SessionView]


# -- events on the account's own topic (user:{account_id}) ---------------------------------

RevokedBecause = Literal[
    "signed_out", "revoked", "signed_out_everywhere", "password_changed", "password_reset"
]


class SessionRevoked(msgspec.Struct, kw_only=True, tag="session.revoked", tag_field="type"):
    """Sessions of the account ended: other devices refresh their sessions list."""

    session_ids: list[uuid.UUID]
    reason: RevokedBecause


class AccountUpdated(msgspec.Struct, kw_only=True, tag="account.updated", tag_field="type"):
    """The account's display name or email changed."""

    account: AccountView
