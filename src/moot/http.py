"""The HTTP edge that every domain's handlers share: who is calling, which room a path names,
where a request came from. Room references are resolved here, once; services take UUIDs."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.openapi import ResponseSpec
from litestar.params import PathParameter

from moot.errors import ERRORS, ErrorBody, ErrorCode
from moot.infra.untrusted import DECODE_FAILURES, reason
from moot.rooms.service import ClientInfo
from moot.services import Svc

Caller = NamedDependency[uuid.UUID]  # the calling participant, from X-Participant-ID

RoomRef = Annotated[
    str, PathParameter(description="The room's UUID or its code, such as `abc-defg-hij`.")
]

RoomId = NamedDependency[uuid.UUID]  # the room the `{room}` path parameter names


async def provide_room_id(room: RoomRef, services: Svc, participant: Caller) -> uuid.UUID:
    """The room's id from its UUID or code (the nil UUID if it names none: the service
    then answers 404 `room_not_found`, after the request body's own validation).

    It depends on `participant` although it does not use it: Litestar resolves dependencies
    of one depth concurrently in a task group, which costs more than the two calls (README,
    Performance). Handlers without a caller resolve `RoomRef` themselves."""
    return await services.rooms.resolve_at_edge(room)


class MootRequest(Request[Any, Any, Any]):
    """Litestar's request, whose JSON body is a 400 `invalid_request` however it is bad.

    Every handler's `data` is read through `json()`, so this is the one place for it."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except DECODE_FAILURES as exc:
            raise ClientException(f"The request body is not valid: {reason(exc)}.") from None


def client_info(request: Request[Any, Any, Any]) -> ClientInfo:
    ip: str | None = request.client.host if request.client else None
    if ip is not None:
        try:
            ip = str(ipaddress.ip_address(ip))
        except ValueError:
            ip = None
    user_agent = request.headers.get("user-agent")
    return ClientInfo(ip=ip, user_agent=user_agent[:512] if user_agent else None)


# -- the errors a route documents ------------------------------------------------------------

# Any request can be malformed, and any route that reads a store can find it unreachable.
_EVERY_ROUTE: tuple[ErrorCode, ...] = ("invalid_request", "service_unavailable")
# A route that reads the caller: the credential, then the caller's request budget.
CALLER: tuple[ErrorCode, ...] = ("invalid_credential", "rate_limited")
# A route about a room the caller must be in.
MEMBER: tuple[ErrorCode, ...] = (*CALLER, "room_not_found", "room_ended", "not_a_participant")
# A route for the room's host.
HOST: tuple[ErrorCode, ...] = (*MEMBER, "not_host")


def answers(*codes: ErrorCode) -> dict[int, ResponseSpec]:
    """A route's error answers for its OpenAPI schema (`responses=`): each status it may
    answer with, the codes that status carries there, and moot's error body."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in dict.fromkeys((*_EVERY_ROUTE, *codes)):
        by_status.setdefault(ERRORS[code][0], []).append(code)
    return {
        status: ResponseSpec(
            data_container=ErrorBody,
            description="\n".join(f"- `{code}`: {ERRORS[code][1]}" for code in carried),
            generate_examples=False,
        )
        for status, carried in sorted(by_status.items())
    }
