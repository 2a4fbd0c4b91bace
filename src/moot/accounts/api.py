"""HTTP handlers for accounts and sessions, and how a request proves it is signed in.

A session token arrives as `Authorization: Bearer <token>` (API clients) or as the HttpOnly
`moot_session` cookie (browsers). A cookie is sent by the browser on its own, so an unsafe
request (anything but GET, HEAD, OPTIONS) signed in by cookie must show it comes from this
site's own pages: its `Origin` (or, failing that, its `Referer`) must name this host or one
of `MOOT_CORS_ORIGINS`, else 403 `cross_site_request`. Bearer requests need no such check:
no browser attaches that header by itself.
"""

from __future__ import annotations

import uuid
from typing import Any, cast
from urllib.parse import urlsplit

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody

from moot.accounts.schemas import (
    AccountView,
    ChangePassword,
    ConfirmPassword,
    Login,
    PasswordResetConfirm,
    PasswordResetRequest,
    Register,
    SessionList,
    SignedIn,
    UpdateAccount,
)
from moot.accounts.service import AccountSession
from moot.errors import ErrorCode, MootError
from moot.http import answers, client_info
from moot.services import Svc

SESSION_COOKIE = "moot_session"
_CALLER_KEY = "moot.account"  # where a request's resolved session is kept for its handlers
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A 204 that may clear the session cookie: no body (the handler returns a Response to set it).
SIGNED_OUT = {204: ResponseSpec(data_container=None, description="Done; nothing follows")}
# A 202 with no body: the answer says nothing but "received".
ACCEPTED = {202: ResponseSpec(data_container=None, description="Received; nothing follows")}
# What a route for the signed-in account may answer before it does anything (its OpenAPI).
SIGNED_IN: tuple[ErrorCode, ...] = (
    "not_signed_in",
    "session_expired",
    "cross_site_request",
    "rate_limited",
)

Account = NamedDependency[AccountSession]  # the signed-in caller; 401 when there is none


# -- who is signed in ----------------------------------------------------------------------


def presented_session(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, bool] | None:
    """(the session token, whether it came as the cookie), or None if the request has none."""
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), False
    cookie = connection.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


async def signed_in(
    connection: ASGIConnection[Any, Any, Any, Any], services: Svc, *, unsafe: bool
) -> AccountSession | None:
    """The account the request is signed in as, or None if it presents no session.

    A session that is presented but dead is 401 `session_expired`, not anonymous use: the
    client learns its sign-in lapsed instead of silently becoming someone else. A dead cookie
    is cleared in that answer, so the browser's next request is simply anonymous again."""
    scope = cast(dict[str, Any], connection.scope)
    if _CALLER_KEY in scope:
        return cast(AccountSession | None, scope[_CALLER_KEY])
    presented = presented_session(connection)
    caller: AccountSession | None = None
    if presented is not None:
        token, from_cookie = presented
        if from_cookie and unsafe and not _same_site(connection, services.settings.cors_origins):
            raise MootError("cross_site_request")
        try:
            caller = await services.accounts.authenticate(token)
        except MootError as exc:
            if from_cookie:
                exc.headers["Set-Cookie"] = _cleared_cookie(connection).to_header(header="")
            raise
    scope[_CALLER_KEY] = caller
    return caller


def current_account(request: Request[Any, Any, Any]) -> AccountSession | None:
    """The caller's account, if the `participant` or `account` dependency found one."""
    return cast(AccountSession | None, cast(dict[str, Any], request.scope).get(_CALLER_KEY))


async def provide_account(request: Request[Any, Any, Any], services: Svc) -> AccountSession:
    caller = await signed_in(request, services, unsafe=request.method not in SAFE_METHODS)
    if caller is None:
        raise MootError("not_signed_in")
    await services.limiter.check("participant_requests", str(caller.account.id))
    return caller


def _same_site(connection: ASGIConnection[Any, Any, Any, Any], cors_origins: str) -> bool:
    origin = connection.headers.get("origin") or _origin_of(connection.headers.get("referer"))
    if not origin or origin == "null":
        return False
    allowed = {o.strip().rstrip("/") for o in cors_origins.split(",") if o.strip()}
    if origin.rstrip("/") in allowed:
        return True
    # Scheme aside: TLS usually ends at a proxy, so the app may see http for an https page.
    return urlsplit(origin).netloc.lower() == connection.headers.get("host", "").lower()


def _origin_of(referer: str | None) -> str | None:
    if not referer:
        return None
    parts = urlsplit(referer)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


# -- the cookie ----------------------------------------------------------------------------


def _session_cookie(
    connection: ASGIConnection[Any, Any, Any, Any], token: str, max_age: int
) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=connection.url.scheme == "https",
    )


def _cleared_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> Cookie:
    return _session_cookie(connection, "", 0)


def _with_session(request: Request[Any, Any, Any], services: Svc, body: SignedIn) -> Response[Any]:
    cookie = _session_cookie(request, body.token, services.settings.session_ttl_seconds)
    return Response(body, status_code=201, cookies=[cookie])


def _signed_out(request: Request[Any, Any, Any]) -> Response[None]:
    return Response(None, status_code=204, cookies=[_cleared_cookie(request)])


# -- handlers ------------------------------------------------------------------------------


class AccountController(Controller):
    path = "/api/v1"
    tags = ["accounts"]

    @post(
        "/accounts",
        status_code=201,
        summary="Create an account; signs it in",
        responses=answers("validation_failed", "weak_password", "email_taken", "rate_limited"),
    )
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[Register], services: Svc
    ) -> Response[SignedIn]:
        client = client_info(request)
        body = await services.accounts.register(data, client.ip, client.user_agent)
        return _with_session(request, services, body)

    @patch(
        "/me",
        summary="Change the display name or the email (the email needs the password)",
        responses=answers(*SIGNED_IN, "validation_failed", "email_taken", "wrong_password"),
    )
    async def update_me(
        self, data: JSONBody[UpdateAccount], services: Svc, account: Account
    ) -> AccountView:
        return await services.accounts.update(account, data)

    @post(
        "/me/password",
        status_code=204,
        summary="Change the password; signs out every other session",
        responses=answers(*SIGNED_IN, "validation_failed", "wrong_password", "weak_password"),
    )
    async def change_password(
        self, data: JSONBody[ChangePassword], services: Svc, account: Account
    ) -> None:
        await services.accounts.change_password(account, data)

    @post(
        "/me/delete",
        status_code=204,
        summary="Delete the account (needs the password); its personal data is erased",
        responses=answers(*SIGNED_IN, "validation_failed", "wrong_password") | SIGNED_OUT,
    )
    async def delete_me(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ConfirmPassword],
        services: Svc,
        account: Account,
    ) -> Response[None]:
        await services.accounts.delete(account, data.password)
        return _signed_out(request)


class SessionController(Controller):
    path = "/api/v1/sessions"
    tags = ["accounts"]

    @post(
        "/",
        status_code=201,
        summary="Sign in (401 invalid_login)",
        responses=answers("validation_failed", "invalid_login", "rate_limited"),
    )
    async def login(
        self, request: Request[Any, Any, Any], data: JSONBody[Login], services: Svc
    ) -> Response[SignedIn]:
        client = client_info(request)
        body = await services.accounts.login(data, client.ip, client.user_agent)
        return _with_session(request, services, body)

    @get("/", summary="The account's sessions: device, last seen", responses=answers(*SIGNED_IN))
    async def list_sessions(self, services: Svc, account: Account) -> SessionList:
        return SessionList(items=await services.accounts.list_sessions(account))

    @delete(
        "/current",
        status_code=204,
        summary="Sign out this session",
        responses=answers(*SIGNED_IN) | SIGNED_OUT,
    )
    async def sign_out(
        self, request: Request[Any, Any, Any], services: Svc, account: Account
    ) -> Response[None]:
        await services.accounts.revoke_session(account, account.session_id)
        return _signed_out(request)

    @delete(
        "/",
        status_code=204,
        summary="Sign out everywhere (every session, this one too)",
        responses=answers(*SIGNED_IN) | SIGNED_OUT,
    )
    async def sign_out_everywhere(
        self, request: Request[Any, Any, Any], services: Svc, account: Account
    ) -> Response[None]:
        await services.accounts.sign_out_everywhere(account)
        return _signed_out(request)

    @delete(
        "/{session_id:uuid}",
        status_code=204,
        summary="Revoke one of the account's sessions",
        responses=answers(*SIGNED_IN, "not_found") | SIGNED_OUT,
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        services: Svc,
        account: Account,
        session_id: FromPath[uuid.UUID],
    ) -> Response[None]:
        await services.accounts.revoke_session(account, session_id)
        if session_id == account.session_id:
            return _signed_out(request)
        return Response(None, status_code=204)


class PasswordResetController(Controller):
    path = "/api/v1/password-resets"
    tags = ["accounts"]

    @post(
        "/",
        status_code=202,
        summary="Mail a password-reset link (202 whether or not the email has an account)",
        responses=answers("validation_failed", "rate_limited", "email_unavailable") | ACCEPTED,
    )
    async def request_reset(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[PasswordResetRequest],
        services: Svc,
    ) -> Response[bytes]:
        """If an account has this email, a link to `<MOOT_PUBLIC_URL>/reset-password?token=…`
        is mailed to it, valid for `MOOT_PASSWORD_RESET_TTL_SECONDS` and once. The answer
        never says whether there was one."""
        await services.accounts.request_password_reset(data.email, client_info(request).ip)
        return Response(b"", status_code=202)

    @post(
        "/confirm",
        status_code=204,
        summary="Set a new password with the link's token; signs out every session",
        responses=answers("validation_failed", "invalid_reset_token", "weak_password"),
    )
    async def confirm_reset(self, data: JSONBody[PasswordResetConfirm], services: Svc) -> None:
        await services.accounts.confirm_password_reset(data)
