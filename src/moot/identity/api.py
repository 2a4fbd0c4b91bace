"""Identity endpoint and the dependency that tells every handler who is calling."""

from __future__ import annotations

import uuid
from typing import Any, cast

from litestar import Request, post

from moot.accounts.api import SAFE_METHODS, signed_in
from moot.http import answers
from moot.identity.schemas import Identity
from moot.services import Svc

PARTICIPANT_HEADER = "X-Participant-ID"
ISSUED_IDENTITY_KEY = "moot.issued_identity"


@post(
    "/api/v1/identity",
    status_code=201,
    tags=["identity"],
    summary="Issue an identity",
    responses=answers("rate_limited"),
)
async def create_identity(request: Request[Any, Any, Any], services: Svc) -> Identity:
    """A fresh anonymous identity. Send `token` back as the `X-Participant-ID` header."""
    return await _mint(request, services)


async def _mint(request: Request[Any, Any, Any], services: Svc) -> Identity:
    """A new identity, counted against the client address's budget (`identity_create`),
    whether asked for or issued to a request that came without a credential."""
    client = request.client.host if request.client else "unknown"
    await services.limiter.check("identity_create", client)
    return services.identity.issue()


async def provide_participant(request: Request[Any, Any, Any], services: Svc) -> uuid.UUID:
    """The caller's participant id.

    Signed in (a session cookie or bearer token), it is the account's id, whatever
    `X-Participant-ID` says: an account holder is the same person in every meeting.
    Otherwise a request without a credential gets a fresh identity, returned in the
    response's `X-Participant-ID` header; a forged or malformed one is refused with 401.
    """
    identity = services.identity
    credential = request.headers.get(PARTICIPANT_HEADER, "").strip()
    account = await signed_in(request, services, unsafe=request.method not in SAFE_METHODS)
    if account is not None:
        participant_id = account.account.id
    elif credential:
        participant_id = identity.verify(credential)
    else:
        issued = await _mint(request, services)
        cast(dict[str, Any], request.scope)[ISSUED_IDENTITY_KEY] = issued
        participant_id = issued.participant_id
    await services.limiter.check("participant_requests", str(participant_id))
    return participant_id
