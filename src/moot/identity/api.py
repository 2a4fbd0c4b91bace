"""Identity endpoint and the dependency that tells every handler who is calling."""

from __future__ import annotations

import uuid
from typing import Any, cast

from litestar import Request, post

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
async def create_identity(services: Svc) -> Identity:
    """A fresh anonymous identity. Send `token` back as the `X-Participant-ID` header."""
    return services.identity.issue()


async def provide_participant(request: Request[Any, Any, Any], services: Svc) -> uuid.UUID:
    """The caller's participant id.

    A request without a credential gets a fresh identity, returned in the response's
    `X-Participant-ID` header; a forged or malformed one is refused with 401.
    """
    identity = services.identity
    credential = request.headers.get(PARTICIPANT_HEADER, "").strip()
    if credential:
        participant_id = identity.verify(credential)
    else:
        issued = identity.issue()
        cast(dict[str, Any], request.scope)[ISSUED_IDENTITY_KEY] = issued
        participant_id = issued.participant_id
    await services.limiter.check("participant_requests", str(participant_id))
    return participant_id
