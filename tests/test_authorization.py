"""Who may call what: every endpoint (and the room socket, and subscribing on the gateway)
against every kind of caller, as one table. The routes are read from the app, so a new route
without a row here fails the test until someone decides who may call it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from litestar.routes import HTTPRoute
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from moot.app import create_app
from tests.conftest import Guest, LiveMoot, make_settings
from tests.test_presence import LiveFactory

# The kinds of caller, as the audit named them.
NONE = "none"  # no credential at all (a fresh identity is issued on the spot)
FORGED = "forged"  # a credential whose signature is not ours
BARE = "bare public id"  # a member's public participant id, without its signature
OUTSIDER = "outsider"  # a valid identity that is in no room
REMOVED = "removed"  # removed from the room by its host
GUEST = "guest on host actions"  # a participant, not the host
OTHER = "member of another room"
ENDED = "ended room"  # the former host of a room that has ended
CALLERS = (NONE, FORGED, BARE, OUTSIDER, REMOVED, GUEST, OTHER, ENDED)

# An outcome: (HTTP status, error code or None) for HTTP; for sockets (close code, reason)
# when the server closes, or ("error", code) for an error event on a socket that stays open.
Outcome = tuple[int | str, str | None]

UNSIGNED: Outcome = (401, "invalid_credential")
NOT_IN: Outcome = (403, "not_a_participant")
NOT_HOST: Outcome = (403, "not_host")
GONE: Outcome = (410, "room_ended")


def members_only(**overrides: Outcome) -> dict[str, Outcome]:
    """What an endpoint for the room's participants answers those who are not."""
    cells = {
        NONE: NOT_IN,
        FORGED: UNSIGNED,
        BARE: UNSIGNED,
        OUTSIDER: NOT_IN,
        REMOVED: NOT_IN,
        OTHER: NOT_IN,
        ENDED: GONE,
    }
    return {**cells, **overrides}


def host_only(**overrides: Outcome) -> dict[str, Outcome]:
    return members_only(**{GUEST: NOT_HOST, **overrides})


@dataclass(frozen=True)
class Row:
    method: str  # an HTTP method, or "WS"
    route: str  # the route's path as the app declares it
    path: str  # the path requested: {room}, {target}, {message}, {self} filled in per caller
    cells: dict[str, Outcome]
    body: dict[str, Any] | None = None
    note: str = ""  # what sets this row apart from another of the same route

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}{f' ({self.note})' if self.note else ''}"


R = "/api/v1/rooms/{room:str}"
ROWS = [
    Row(
        "POST",
        "/api/v1/rooms",
        "/api/v1/rooms",
        {c: (201, None) for c in (NONE, OUTSIDER, REMOVED, OTHER, ENDED)}
        | {FORGED: UNSIGNED, BARE: UNSIGNED},
        body={},
    ),
    Row(
        "GET",
        R,
        "/api/v1/rooms/{room}",
        # The room's page is for anyone with the link; it takes no credential at all.
        {c: (200, None) for c in (NONE, FORGED, BARE, OUTSIDER, REMOVED, OTHER, ENDED)},
    ),
    Row(
        "POST",
        f"{R}/join",
        "/api/v1/rooms/{room}/join",
        members_only(
            **{
                NONE: (200, None),
                OUTSIDER: (200, None),
                OTHER: (200, None),
                REMOVED: (403, "removed_from_room"),
            }
        ),
        body={"display_name": "Someone"},
    ),
    Row("POST", f"{R}/leave", "/api/v1/rooms/{room}/leave", members_only()),
    Row("GET", f"{R}/participants", "/api/v1/rooms/{room}/participants", members_only()),
    Row("POST", f"{R}/end", "/api/v1/rooms/{room}/end", host_only()),
    Row("POST", f"{R}/lock", "/api/v1/rooms/{room}/lock", host_only()),
    Row("POST", f"{R}/unlock", "/api/v1/rooms/{room}/unlock", host_only()),
    Row(
        "DELETE",
        f"{R}/participants/{{target:uuid}}",
        "/api/v1/rooms/{room}/participants/{target}",
        host_only(),
    ),
    Row(
        "DELETE",
        f"{R}/participants/{{target:uuid}}",
        "/api/v1/rooms/{room}/participants/{self}",
        host_only(),
        note="removing oneself",
    ),
    Row(
        "POST",
        f"{R}/host",
        "/api/v1/rooms/{room}/host",
        host_only(),
        body={"participant_id": "{target}"},
    ),
    Row(
        "GET",
        f"{R}/chat/messages",
        "/api/v1/rooms/{room}/chat/messages",
        members_only(),
    ),
    Row(
        "POST",
        f"{R}/chat/messages",
        "/api/v1/rooms/{room}/chat/messages",
        members_only(),
        body={"content": "hello"},
    ),
    Row(
        "PUT",
        f"{R}/chat/messages/{{message_id:str}}",
        "/api/v1/rooms/{room}/chat/messages/{message}",
        members_only(**{GUEST: (403, "not_message_author")}),
        body={"content": "edited"},
    ),
    Row(
        "DELETE",
        f"{R}/chat/messages/{{message_id:str}}",
        "/api/v1/rooms/{room}/chat/messages/{message}",
        members_only(**{GUEST: (403, "not_message_author")}),
    ),
    Row("POST", f"{R}/media/token", "/api/v1/rooms/{room}/media/token", members_only()),
    Row("POST", f"{R}/ws-ticket", "/api/v1/rooms/{room}/ws-ticket", members_only()),
    Row(
        "POST",
        "/api/v1/ws-ticket",
        "/api/v1/ws-ticket",
        # The gateway's ticket names no room: any valid identity may open the gateway, and
        # each subscription is then asked of its topic (the gateway rows below).
        {c: (200, None) for c in (NONE, OUTSIDER, REMOVED, OTHER, ENDED)}
        | {FORGED: UNSIGNED, BARE: UNSIGNED},
    ),
    Row(
        "POST",
        f"{R}/participants/{{target:uuid}}/mute",
        "/api/v1/rooms/{room}/participants/{target}/mute",
        host_only(),
        body={"kind": "audio"},
    ),
    Row("GET", f"{R}/media/webrtc", "/api/v1/rooms/{room}/media/webrtc", members_only()),
    Row("GET", "/api/v1/config/webrtc", "/api/v1/config/webrtc?room={room}", members_only()),
    Row(
        "GET",
        "/api/v1/config/webrtc",
        "/api/v1/config/webrtc",
        members_only(**{ENDED: NOT_IN}),
        note="no room named",
    ),
    # The transcript and its usage outlive the meeting for those who were in it.
    Row(
        "GET",
        f"{R}/transcription",
        "/api/v1/rooms/{room}/transcription",
        members_only(**{ENDED: (200, None)}),
    ),
    Row(
        "POST",
        f"{R}/transcription/start",
        "/api/v1/rooms/{room}/transcription/start",
        members_only(**{GUEST: (403, "not_transcription_host")}),
    ),
    Row(
        "POST",
        f"{R}/transcription/stop",
        "/api/v1/rooms/{room}/transcription/stop",
        members_only(**{GUEST: (403, "not_transcription_host")}),
    ),
    Row(
        "POST",
        f"{R}/transcription/host",
        "/api/v1/rooms/{room}/transcription/host",
        host_only(),
        body={"participant_id": "{target}"},
    ),
    Row(
        "GET",
        f"{R}/transcripts",
        "/api/v1/rooms/{room}/transcripts",
        members_only(**{ENDED: (200, None)}),
    ),
    Row(
        "GET",
        f"{R}/transcripts/export",
        "/api/v1/rooms/{room}/transcripts/export?format=txt",
        members_only(**{ENDED: (200, None)}),
    ),
    Row(
        "DELETE",
        f"{R}/transcripts",
        "/api/v1/rooms/{room}/transcripts",
        # The host deletes it at any time: after the end, whoever was host last.
        host_only(**{ENDED: (200, None)}),
    ),
    Row(
        "WS",
        "/ws/chat/{room:str}",
        "/ws/chat/{room}",
        {
            NONE: (4401, "invalid_credential"),
            FORGED: (4401, "invalid_credential"),
            BARE: (4401, "invalid_credential"),
            OUTSIDER: (4403, "not_a_participant"),
            REMOVED: (4403, "not_a_participant"),
            OTHER: (4403, "not_a_participant"),
            ENDED: (4410, "room_ended"),
        },
    ),
    Row(
        "WS",
        "/ws",
        "/ws subscribe room:{room}",
        {
            NONE: (4401, "invalid_credential"),
            FORGED: (4401, "invalid_credential"),
            BARE: (4401, "invalid_credential"),
            OUTSIDER: ("error", "not_a_participant"),
            REMOVED: ("error", "not_a_participant"),
            OTHER: ("error", "not_a_participant"),
            ENDED: ("error", "room_ended"),
        },
    ),
]

# Routes outside the table, and why.
NOT_IN_TABLE = {
    ("GET", "/health"): "public: liveness",
    ("GET", "/ready"): "public: readiness",
    ("GET", "/metrics"): "public: Prometheus (the proxy keeps it internal; deploy/)",
    ("GET", "/docs"): "public: API documentation",
    ("GET", "/docs/openapi.json"): "public: API documentation",
    ("GET", "/docs/{path:str}"): "public: API documentation",
    ("GET", "/docs/oauth2-redirect.html"): "public: API documentation",
    ("GET", "/"): "public: the web client",
    ("GET", "/{path:path}"): "public: the web client",
    ("POST", "/api/v1/identity"): "public: issues identities",
    ("POST", "/api/v1/livekit/webhook"): "LiveKit's signature, not a caller (test_media.py)",
    ("WS", "/ws/transcribe"): "a worker token from /transcription/start (test_transcription.py)",
    # Accounts and spaces: their callers are sessions, not room seats; their own matrix of
    # signed out, another account, member, admin, owner and removed member is
    # test_spaces.py::test_authorization_matrix; every account route's (signed out, expired
    # session, revoked session, another account) is test_account_routes_authorization_matrix.
    ("POST", "/api/v1/accounts"): "public: registration (test_accounts.py)",
    ("POST", "/api/v1/sessions"): "public: sign-in (test_accounts.py)",
    ("POST", "/api/v1/password-resets"): "public: mails a link (test_password_reset.py)",
    ("POST", "/api/v1/password-resets/confirm"): "the mailed token (test_password_reset.py)",
    ("GET", "/api/v1/invites/{code:str}"): "public: the invite preview (test_spaces.py)",
    **{
        route: "its own account (test_accounts.py::test_account_routes_authorization_matrix)"
        for route in (
            ("GET", "/api/v1/me"),
            ("PATCH", "/api/v1/me"),
            ("POST", "/api/v1/me/delete"),
            ("POST", "/api/v1/me/password"),
            ("GET", "/api/v1/sessions"),
            ("DELETE", "/api/v1/sessions"),
            ("DELETE", "/api/v1/sessions/current"),
            ("DELETE", "/api/v1/sessions/{session_id:uuid}"),
        )
    },
    **{
        route: "space roles (test_spaces.py::test_authorization_matrix)"
        for route in (
            ("GET", "/api/v1/spaces"),
            ("POST", "/api/v1/spaces"),
            ("PATCH", "/api/v1/spaces/{space_id:uuid}"),
            ("DELETE", "/api/v1/spaces/{space_id:uuid}"),
            ("POST", "/api/v1/spaces/{space_id:uuid}/activate"),
            ("POST", "/api/v1/spaces/{space_id:uuid}/invites"),
            ("DELETE", "/api/v1/spaces/{space_id:uuid}/invites/{code:str}"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/members"),
            ("PATCH", "/api/v1/spaces/{space_id:uuid}/members/{member_id:uuid}"),
            ("DELETE", "/api/v1/spaces/{space_id:uuid}/members/{member_id:uuid}"),
            ("POST", "/api/v1/invites/{code:str}/accept"),
        )
    },
    **{
        route: "space roles (test_space_meetings.py::test_authorization_matrix_of_space_meetings)"
        for route in (
            ("POST", "/api/v1/spaces/{space_id:uuid}/rooms"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/rooms"),
            ("DELETE", "/api/v1/spaces/{space_id:uuid}/rooms/{room:str}"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/sessions"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/sessions/{session_id:uuid}"),
            ("DELETE", "/api/v1/spaces/{space_id:uuid}/sessions/{session_id:uuid}"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/sessions/{session_id:uuid}/transcript"),
            (
                "GET",
                "/api/v1/spaces/{space_id:uuid}/sessions/{session_id:uuid}/transcript/export",
            ),
        )
    },
    **{
        route: "space roles and private channels (test_channels.py::test_authorization_matrix)"
        for route in (
            ("GET", "/api/v1/spaces/{space_id:uuid}/channels"),
            ("POST", "/api/v1/spaces/{space_id:uuid}/channels"),
            ("GET", "/api/v1/spaces/{space_id:uuid}/search"),
            ("PATCH", "/api/v1/channels/{channel_id:uuid}"),
            ("DELETE", "/api/v1/channels/{channel_id:uuid}"),
            ("GET", "/api/v1/channels/{channel_id:uuid}/messages"),
            ("POST", "/api/v1/channels/{channel_id:uuid}/messages"),
            ("PATCH", "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}"),
            ("DELETE", "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}"),
            (
                "PUT",
                "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}/reactions/{emoji:str}",
            ),
            (
                "DELETE",
                "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}/reactions/{emoji:str}",
            ),
            ("PUT", "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}/pin"),
            ("DELETE", "/api/v1/channels/{channel_id:uuid}/messages/{message_id:int}/pin"),
            ("GET", "/api/v1/channels/{channel_id:uuid}/pins"),
            ("PUT", "/api/v1/channels/{channel_id:uuid}/read"),
        )
    },
}


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, web client included."""
    settings = make_settings()
    app = create_app(
        settings, database_url="postgresql://unused", redis_url="redis://unused", secret_key="x"
    )
    routes: set[tuple[str, str]] = set()
    for route in app.routes:
        methods: set[str] = {"WS"}
        if isinstance(route, HTTPRoute):
            methods = {str(m) for h in route.route_handlers for m in h.http_methods} - {"OPTIONS"}
        routes |= {(method, route.path) for method in methods}
    return routes | {("GET", "/"), ("GET", "/{path:path}")}  # served once the client is built


def test_every_route_has_a_row_or_a_reason() -> None:
    covered = {(row.method, row.route) for row in ROWS} | set(NOT_IN_TABLE)
    assert app_routes() - covered == set(), "routes without a row in the authorization table"
    assert covered - app_routes() == set(), "rows for routes the app no longer serves"
    for row in ROWS:
        assert set(row.cells) | {GUEST} >= set(CALLERS) - {GUEST}, row.name


@dataclass
class World:
    """Room R (host, guest, someone removed, a chat message), room R2 of other people, and
    room E that has ended."""

    live: LiveMoot
    room: dict[str, Any]
    host: Guest
    guest: Guest
    removed: Guest
    message: str
    ended_room: dict[str, Any]
    ended_host: Guest
    ended_guest: Guest
    ended_message: str
    other_room: dict[str, Any]


async def post_message(who: Guest, room: dict[str, Any]) -> str:
    sent = await who.post(f"/api/v1/rooms/{room['code']}/chat/messages", {"content": "hi"})
    assert sent.status_code == 201, sent.text
    return str(sent.json()["id"])


async def build_world(live: LiveMoot) -> World:
    host, guest, removed = await live.guest(), await live.guest(), await live.guest()
    room = await host.create_room(max_participants=100)
    for who in (guest, removed):
        assert (await who.join(room["code"])).status_code == 200
    kicked = await host.delete(
        f"/api/v1/rooms/{room['code']}/participants/{removed.participant_id}"
    )
    assert kicked.status_code == 200
    ended_host, ended_guest = await live.guest(), await live.guest()
    ended_room = await ended_host.create_room()
    assert (await ended_guest.join(ended_room["code"])).status_code == 200
    ended_message = await post_message(ended_host, ended_room)
    assert (await ended_host.post(f"/api/v1/rooms/{ended_room['code']}/end")).status_code == 200
    other_room = await (await live.guest()).create_room(max_participants=100)
    return World(
        live,
        room,
        host,
        guest,
        removed,
        await post_message(host, room),
        ended_room,
        ended_host,
        ended_guest,
        ended_message,
        other_room,
    )


@dataclass(frozen=True)
class Caller:
    token: str | None  # None: no credential sent at all
    participant_id: str
    room: dict[str, Any]  # the room the request names
    target: str  # a participant of that room to act on
    message: str  # a message in that room's chat, not the caller's


async def caller_for(kind: str, world: World) -> Caller:
    live, room, guest = world.live, world.room, world.guest
    someone = guest.participant_id
    if kind == NONE:
        return Caller(None, "", room, someone, world.message)
    if kind == FORGED:
        return Caller(f"{someone}.not-our-signature", someone, room, someone, world.message)
    if kind == BARE:
        return Caller(someone, someone, room, someone, world.message)
    if kind == ENDED:
        who = world.ended_host
        ended = world.ended_room
        return Caller(
            who.token,
            who.participant_id,
            ended,
            world.ended_guest.participant_id,
            world.ended_message,
        )
    if kind == GUEST:  # acting on the host (and on themselves in the {self} row)
        host = world.host.participant_id
        return Caller(guest.token, guest.participant_id, room, host, world.message)
    if kind == REMOVED:
        who = world.removed
    else:  # a fresh identity each time: a join that succeeds must not change later cells
        who = await live.guest()
        if kind == OTHER:
            assert (await who.join(world.other_room["code"])).status_code == 200
    return Caller(who.token, who.participant_id, room, someone, world.message)


def fill(template: str, caller: Caller) -> str:
    values = {
        "{room}": caller.room["code"],
        "{target}": caller.target,
        "{message}": caller.message,
        "{self}": caller.participant_id or caller.target,
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template


async def http_outcome(live: LiveMoot, row: Row, caller: Caller) -> Outcome:
    headers = {} if caller.token is None else {"X-Participant-ID": caller.token}
    body = None
    if row.body is not None:
        body = json.loads(fill(json.dumps(row.body), caller))
    response = await live.http.request(
        row.method, fill(row.path, caller), json=body, headers=headers
    )
    code = None
    if response.status_code >= 400:
        code = response.json()["code"]
    return response.status_code, code


async def socket_outcome(live: LiveMoot, row: Row, caller: Caller) -> Outcome:
    token = caller.token or ""
    room = caller.room["code"]
    gateway = row.route == "/ws"
    url = (
        f"{live.ws_url}/ws?token={token}"
        if gateway
        else f"{live.ws_url}/ws/chat/{room}?token={token}"
    )
    async with connect(url) as ws:
        try:
            first = json.loads(await ws.recv())
            if first["type"] == "error":
                await ws.recv()  # the close that follows it
            if not gateway or first["type"] != "ready":
                return first["type"], first.get("code")
            await ws.send(json.dumps({"type": "subscribe", "topic": f"room:{caller.room['id']}"}))
            answer = json.loads(await ws.recv())
            return answer["type"], answer.get("code")
        except ConnectionClosed as closed:
            received = closed.rcvd
            return (received.code, received.reason) if received else ("no close frame", None)


def success(outcome: Outcome) -> bool:
    return isinstance(outcome[0], int) and outcome[0] < 400


async def test_the_authorization_matrix(live_factory: LiveFactory) -> None:
    # Transcription configured (Gladia is never reached: nobody in the table may start it),
    # so its endpoints answer who may call them rather than that it is off.
    live = await live_factory(gladia_api_key="not-used", gladia_base_url="http://127.0.0.1:9")
    world = await build_world(live)
    wrong: list[str] = []
    cells = 0
    for row in ROWS:
        for kind, expected in row.cells.items():
            caller = await caller_for(kind, world)
            run: Callable[..., Any] = socket_outcome if row.method == "WS" else http_outcome
            got = await run(live, row, caller)
            cells += 1
            matches = got == expected or (
                success(expected) and success(got) and got[0] == expected[0]
            )
            if not matches:
                wrong.append(f"{row.name} as {kind}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)
    assert cells > 200
