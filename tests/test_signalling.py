"""Mesh mode: WebRTC signalling relayed over the room WebSocket to one participant, host mute
requests, the mesh size limit, and the media/ICE payloads a mesh client starts from."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection

from tests.conftest import Guest, LiveMoot
from tests.test_chat_ws import closed_with, frames_until, meeting, next_of, socket

LiveFactory = Callable[..., Awaitable[LiveMoot]]

OFFER_SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
ANSWER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n"
CANDIDATE = {
    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.7 54321 typ srflx",
    "sdpMid": "0",
    "sdpMLineIndex": 0,
    "usernameFragment": "f1Yx",
}


def offer(to: str, sdp: str = OFFER_SDP) -> dict[str, Any]:
    return {"type": "signal.offer", "to": to, "sdp": sdp}


def answer(to: str, sdp: str = ANSWER_SDP) -> dict[str, Any]:
    return {"type": "signal.answer", "to": to, "sdp": sdp}


def ice(to: str, candidate: dict[str, Any] | None = CANDIDATE) -> dict[str, Any]:
    return {"type": "signal.ice", "to": to, "candidate": candidate}


def relayed(frame: dict[str, Any], sender: str) -> dict[str, Any]:
    """What the addressed participant should receive for `frame`: the same, plus `from`."""
    return {**frame, "from": sender}


def is_addressed(frame: dict[str, Any]) -> bool:
    kind: str = frame["type"]
    return kind.startswith("signal.") or kind == "media.mute_requested"


async def next_addressed(ws: ClientConnection, timeout: float = 5) -> dict[str, Any]:
    """The next signal or mute request on this socket, whatever type it is: skipping room
    events only, so one that should not have come here cannot be skipped unseen."""
    async with asyncio.timeout(timeout):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if is_addressed(frame):
                return frame


async def send(ws: ClientConnection, frame: dict[str, Any]) -> None:
    await ws.send(json.dumps(frame))


async def say(ws: ClientConnection, text: str) -> None:
    await send(ws, {"type": "message.send", "content": text})


async def frames_until_said(
    ws: ClientConnection, text: str, timeout: float = 5
) -> list[dict[str, Any]]:
    """Frames up to and including the chat message `text`: a marker published after whatever
    came before it on the room's channel, so what is absent here was never sent."""
    seen: list[dict[str, Any]] = []
    while True:
        seen += await frames_until(ws, "message.created", timeout)
        if seen[-1]["message"]["content"] == text:
            return seen


async def until_pong(ws: ClientConnection) -> list[dict[str, Any]]:
    """Ping and read up to the pong: every frame the server queued for us before it."""
    await send(ws, {"type": "ping"})
    return await frames_until(ws, "pong")


async def rejected(ws: ClientConnection, frame: dict[str, Any] | str) -> dict[str, Any]:
    """Send a frame that must be refused: exactly one error comes back, nothing addressed,
    and the socket still answers a ping."""
    await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
    frames = await until_pong(ws)
    errors = [f for f in frames if f["type"] == "error"]
    assert len(errors) == 1, (frame, frames)
    assert not [f for f in frames if is_addressed(f)], frames
    return errors[0]


async def ready(*sockets: ClientConnection) -> list[dict[str, Any]]:
    return [await next_of(ws, "ready") for ws in sockets]


async def join(live: LiveMoot, room: dict[str, Any], name: str) -> Guest:
    someone = await live.guest()
    response = await someone.join(room["code"], name)
    assert response.status_code == 200, response.text
    return someone


# -- relay -------------------------------------------------------------------------------------


async def test_offer_answer_and_ice_reach_the_addressed_peer_in_both_directions(
    live: LiveMoot,
) -> None:
    room, host, guest = await meeting(live)
    h, g = host.participant_id, guest.participant_id
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["id"], guest) as guest_ws,
    ):
        await ready(host_ws, guest_ws)

        # Caller side: offer and candidates, host -> guest.
        host_only = {"candidate": "candidate:1 1 udp 2122260223 ::1 9 typ host"}
        for frame in (offer(g), ice(g), ice(g, host_only)):
            await send(host_ws, frame)
            received = await next_addressed(guest_ws)
            assert received == relayed(frame, h)
            assert "cursor" not in received  # never stored, so never a replay position

        # Callee side: answer, candidates and end-of-candidates (per m-line, as an empty
        # candidate line, and for good, as null), guest -> host.
        end_of_line = {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}
        for frame in (answer(h), ice(h), ice(h, end_of_line), ice(h, None)):
            await send(guest_ws, frame)
            assert await next_addressed(host_ws) == relayed(frame, g)

        # The wire shape, spelled out once: camelCase candidate keys, null ends candidates.
        await send(host_ws, ice(g))
        assert await next_addressed(guest_ws) == {
            "type": "signal.ice",
            "from": h,
            "to": g,
            "candidate": {
                "candidate": CANDIDATE["candidate"],
                "sdpMid": "0",
                "sdpMLineIndex": 0,
                "usernameFragment": "f1Yx",
            },
        }
        await send(guest_ws, {"type": "signal.ice", "to": h, "candidate": None})
        assert await next_addressed(host_ws) == {
            "type": "signal.ice",
            "from": g,
            "to": h,
            "candidate": None,
        }

        # `from` is who sent it, whatever the frame claims; `to` may be spelled in capitals.
        third = await join(live, room, "Third")
        spoofed = {**offer(g.upper()), "from": third.participant_id}
        await send(host_ws, spoofed)
        assert await next_addressed(guest_ws) == relayed(offer(g), h)

        # Neither side hears its own signals back.
        for ws in (host_ws, guest_ws):
            assert not [f for f in await until_pong(ws) if is_addressed(f)]


async def test_nobody_else_in_the_room_or_in_another_room_hears_a_signal(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    third = await join(live, room, "Third")
    # The guest is also in a second meeting: that socket must not get room one's signals.
    other_room, other_host, _ = await meeting(live)
    assert (await guest.join(other_room["code"], "Guest elsewhere")).status_code == 200

    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
        socket(live, room["code"], third) as third_ws,
        socket(live, other_room["code"], guest) as guest_elsewhere_ws,
        socket(live, other_room["code"], other_host) as other_host_ws,
    ):
        await ready(host_ws, guest_ws, third_ws, guest_elsewhere_ws, other_host_ws)
        frames = [
            offer(guest.participant_id),
            ice(guest.participant_id),
            ice(guest.participant_id, None),
        ]
        for frame in frames:
            await send(host_ws, frame)
        await send(guest_ws, answer(host.participant_id))
        # Each marker goes out on the socket that sent the signals before it, so it arrives
        # after them (two sockets' frames are not ordered against each other).
        await say(guest_ws, "answered")
        await say(host_ws, "after the signals")
        await say(other_host_ws, "after the signals, next door")

        got = [f for f in await frames_until_said(guest_ws, "after the signals") if is_addressed(f)]
        assert got == [relayed(f, host.participant_id) for f in frames]
        got = [f for f in await frames_until_said(host_ws, "answered") if is_addressed(f)]
        assert got == [relayed(answer(host.participant_id), guest.participant_id)]

        for ws, marker in (
            (third_ws, "after the signals"),
            (guest_elsewhere_ws, "after the signals, next door"),
            (other_host_ws, "after the signals, next door"),
        ):
            seen = await frames_until_said(ws, marker)
            assert not [f for f in seen if is_addressed(f)], seen


async def test_a_participant_with_two_tabs_gets_the_signal_in_both(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as tab_one,
        socket(live, room["code"], guest) as tab_two,
    ):
        await ready(host_ws, tab_one, tab_two)
        await send(host_ws, offer(guest.participant_id))
        expected = relayed(offer(guest.participant_id), host.participant_id)
        assert await next_addressed(tab_one) == expected
        assert await next_addressed(tab_two) == expected

        # One tab answers; the host hears it once, the other tab not at all.
        await send(tab_one, answer(host.participant_id))
        await say(tab_one, "answered")
        seen = await frames_until_said(host_ws, "answered")
        assert [f for f in seen if is_addressed(f)] == [
            relayed(answer(host.participant_id), guest.participant_id)
        ]
        seen = await frames_until_said(tab_two, "answered")
        assert not [f for f in seen if is_addressed(f)]


async def test_a_signal_crosses_from_one_instance_to_another(live_factory: LiveFactory) -> None:
    first = await live_factory()
    second = await live_factory()
    room, host, guest = await meeting(first)
    third = await join(first, room, "Third")
    async with (
        socket(first, room["code"], host) as host_on_a,
        socket(second, room["code"], guest) as guest_on_b,
        socket(second, room["code"], third) as third_on_b,
    ):
        await ready(host_on_a, guest_on_b, third_on_b)
        h, g = host.participant_id, guest.participant_id

        for frame in (offer(g), ice(g), ice(g, None)):
            await send(host_on_a, frame)
            assert await next_addressed(guest_on_b) == relayed(frame, h)
        for frame in (answer(h), ice(h)):
            await send(guest_on_b, frame)
            assert await next_addressed(host_on_a) == relayed(frame, g)

        await say(host_on_a, "done signalling")
        seen = await frames_until_said(third_on_b, "done signalling")
        assert not [f for f in seen if is_addressed(f)]


# -- refusals ----------------------------------------------------------------------------------


async def test_bad_or_misaddressed_signals_get_an_error_and_the_socket_lives_on(
    live: LiveMoot,
) -> None:
    room, host, guest = await meeting(live)
    never_joined = await live.guest()
    other_room, _, elsewhere = await meeting(live)
    h, g, e = host.participant_id, guest.participant_id, elsewhere.participant_id

    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
        socket(live, other_room["code"], elsewhere) as elsewhere_ws,
    ):
        await ready(host_ws, guest_ws, elsewhere_ws)

        for frame in (
            offer(never_joined.participant_id),
            answer(never_joined.participant_id),
            ice(never_joined.participant_id),
            offer(e),  # in another room
            ice(e, None),
        ):
            error = await rejected(host_ws, frame)
            assert error["code"] == "participant_not_found", frame
            assert error["to"] == frame["to"]

        for frame in (offer(h), answer(h), ice(h), ice(h, None), offer(h.upper())):
            error = await rejected(host_ws, frame)
            assert error["code"] == "invalid_request", frame

        malformed: list[dict[str, Any] | str] = [
            {"type": "signal.offer", "sdp": OFFER_SDP},
            {"type": "signal.answer", "sdp": ANSWER_SDP},
            {"type": "signal.ice", "candidate": CANDIDATE},
            {"type": "signal.offer", "to": g},
            {"type": "signal.answer", "to": g},
            offer(g, sdp=""),
            offer("not-a-uuid"),
            answer(g[:-1]),
            ice("12345"),
            offer(None),  # type: ignore[arg-type]
            ice(g, {**CANDIDATE, "candidate": "c" * 2001}),
            ice(g, {"sdpMid": "0"}),  # a candidate without its candidate line
            ice(g, {**CANDIDATE, "sdpMLineIndex": -1}),
            ice(g, {**CANDIDATE, "sdpMid": "m" * 65}),
            ice(g, {**CANDIDATE, "usernameFragment": "u" * 257}),
            ice(g, "candidate:1 1 udp 1 ::1 9 typ host"),  # type: ignore[arg-type]
        ]
        for bad in malformed:
            error = await rejected(host_ws, bad)
            assert error["code"] == "invalid_frame", bad

        # Nothing above was relayed: the first signal the guest gets is the good one below,
        # and the participant in the other room heard nothing.
        await send(host_ws, offer(g))
        await say(host_ws, "after the good offer")
        seen = await frames_until_said(guest_ws, "after the good offer")
        assert [f for f in seen if is_addressed(f)] == [relayed(offer(g), h)]
        await say(elsewhere_ws, "next door")
        seen = await frames_until_said(elsewhere_ws, "next door")
        assert not [f for f in seen if is_addressed(f)]

        # A candidate at its size limit is fine.
        big = {**CANDIDATE, "candidate": "c" * 2000}
        await send(host_ws, ice(g, big))
        assert await next_addressed(guest_ws) == relayed(ice(g, big), h)


async def test_someone_who_left_or_was_removed_cannot_be_signalled(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    other = await join(live, room, "Other")
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
        socket(live, room["code"], other) as other_ws,
    ):
        await ready(host_ws, guest_ws, other_ws)

        assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
        assert (await closed_with(guest_ws))[0] == 1000
        error = await rejected(host_ws, offer(guest.participant_id))
        assert (error["code"], error["to"]) == ("participant_not_found", guest.participant_id)

        removed = await host.delete(
            f"/api/v1/rooms/{room['code']}/participants/{other.participant_id}"
        )
        assert removed.status_code == 200, removed.text
        assert (await closed_with(other_ws))[0] == 4403
        for frame in (offer(other.participant_id), ice(other.participant_id, None)):
            error = await rejected(host_ws, frame)
            assert (error["code"], error["to"]) == ("participant_not_found", other.participant_id)

    # Back in the room, the guest can be signalled again.
    assert (await guest.join(room["code"], "Guest")).status_code == 200
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        await ready(host_ws, guest_ws)
        await send(host_ws, offer(guest.participant_id))
        received = await next_addressed(guest_ws)
        assert received == relayed(offer(guest.participant_id), host.participant_id)


async def test_signals_are_never_replayed_on_reconnect(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], host) as host_ws:
        await ready(host_ws)
        async with socket(live, room["code"], guest) as guest_ws:
            cursor = (await next_of(guest_ws, "ready"))["cursor"]
            await send(host_ws, offer(guest.participant_id))
            await next_addressed(guest_ws)
            await send(guest_ws, answer(host.participant_id))
            await next_addressed(host_ws)

        # Signalled while away: still in the room, so accepted, but delivered to no one.
        await send(host_ws, offer(guest.participant_id, sdp="v=0 while away"))
        await send(host_ws, ice(guest.participant_id))
        assert not [f for f in await until_pong(host_ws) if f["type"] == "error"]
        await say(host_ws, "while away")
        await next_of(host_ws, "message.created")

    async with socket(live, room["code"], guest, since=cursor) as guest_ws:
        replayed = await frames_until(guest_ws, "ready")
        assert [f["type"] for f in replayed] == ["message.created", "ready"]
        assert replayed[0]["message"]["content"] == "while away"
        assert not [f for f in await until_pong(guest_ws) if is_addressed(f)]

    # Without `since` nothing old arrives either.
    async with socket(live, room["code"], guest) as guest_ws:
        assert [f["type"] for f in await frames_until(guest_ws, "ready")] == ["ready"]
        assert not [f for f in await until_pong(guest_ws) if is_addressed(f)]


# -- host mute requests --------------------------------------------------------------------


async def test_in_mesh_mode_the_host_asks_only_the_target_to_mute(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    third = await join(live, room, "Third")
    mute = f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}/mute"
    chat = f"/api/v1/rooms/{room['code']}/chat/messages"
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
        socket(live, room["code"], guest) as guest_tab_two,
        socket(live, room["code"], third) as third_ws,
    ):
        await ready(host_ws, guest_ws, guest_tab_two, third_ws)
        for kind in ("audio", "video", "all"):
            response = await host.post(mute, json={"kind": kind})
            assert response.status_code == 200, response.text
            assert response.json() == {"mode": "mesh", "muted_tracks": [], "requested": True}
            expected = {
                "type": "media.mute_requested",
                "to": guest.participant_id,
                "kind": kind,
                "by": host.participant_id,
            }
            assert await next_addressed(guest_ws) == expected
            assert await next_addressed(guest_tab_two) == expected

        assert (await host.post(chat, json={"content": "muted"})).status_code == 201
        for ws in (host_ws, third_ws):
            seen = await frames_until_said(ws, "muted")
            assert not [f for f in seen if is_addressed(f)], seen


async def test_mute_requests_are_for_the_host_and_for_people_in_the_room(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    leaver = await join(live, room, "Leaver")
    assert (await leaver.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    stranger = await live.guest()
    _, other_host, elsewhere = await meeting(live)

    def mute(who: Guest) -> str:
        return f"/api/v1/rooms/{room['code']}/participants/{who.participant_id}/mute"

    async with socket(live, room["code"], guest) as guest_ws:
        await ready(guest_ws)
        cases: list[tuple[Guest, str, Any, int, str]] = [
            (guest, mute(host), {"kind": "audio"}, 403, "not_host"),
            (stranger, mute(guest), {"kind": "audio"}, 403, "not_a_participant"),
            (other_host, mute(guest), {"kind": "audio"}, 403, "not_a_participant"),
            (host, mute(stranger), {"kind": "audio"}, 404, "participant_not_found"),
            (host, mute(leaver), {"kind": "video"}, 404, "participant_not_found"),
            (host, mute(elsewhere), {"kind": "all"}, 404, "participant_not_found"),
        ]
        for caller, path, body, status, code in cases:
            response = await caller.post(path, json=body)
            assert (response.status_code, response.json()["code"]) == (status, code), path
        for body in ({"kind": "audio", "force": True}, {"kind": "screen"}, {"kind": 1}):
            response = await host.post(mute(guest), json=body)
            assert response.status_code in (400, 422), body
            assert response.json()["code"] in ("invalid_request", "validation_failed"), body

        # None of the refused requests reached the guest.
        chat = f"/api/v1/rooms/{room['code']}/chat/messages"
        assert (await host.post(chat, json={"content": "after refusals"})).status_code == 201
        seen = await frames_until_said(guest_ws, "after refusals")
        assert not [f for f in seen if is_addressed(f)], seen


# -- mesh size, media token, ICE configuration ---------------------------------------------


async def test_a_room_reports_the_capacity_it_keeps(live_factory: LiveFactory) -> None:
    """A 10-seat room in mesh mode seats the mesh's cap, and says so wherever it is shown."""
    live = await live_factory(mesh_max_participants=6)
    host = await live.guest()
    room = await host.create_room(display_name="Ada", max_participants=10)
    assert (room["max_participants"], room["capacity"], room["capacity_limited_by"]) == (
        10,
        6,
        "mesh",
    )
    shown = (await live.http.get(f"/api/v1/rooms/{room['code']}")).json()
    assert (shown["capacity"], shown["capacity_limited_by"]) == (6, "mesh")
    joined = (await (await live.guest()).join(room["code"], "Grace")).json()
    assert (joined["capacity"], joined["capacity_limited_by"]) == (6, "mesh")

    small = await host.create_room(display_name="Ada", max_participants=4)
    assert (small["capacity"], small["capacity_limited_by"]) == (4, "room")


async def test_a_mesh_room_turns_away_the_one_past_the_mesh_limit(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(mesh_max_participants=3)
    room, _, guest = await meeting(live)
    third = await join(live, room, "Third")

    late = await live.guest()
    response = await late.join(room["code"], "Late")
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "mesh_room_full"
    assert body["mesh_max_participants"] == 3

    # Those already in may join again (a reload, a second tab), even under a new name.
    for someone, name in ((guest, "Guest"), (third, "Third, renamed")):
        again = await someone.join(room["code"], name)
        assert again.status_code == 200, again.text
        assert again.json()["you"]["display_name"] == name
    assert (await late.join(room["code"], "Late")).json()["code"] == "mesh_room_full"

    # A seat that frees up can be taken.
    assert (await third.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    assert (await late.join(room["code"], "Late")).status_code == 200

    # A room capped below the mesh limit is plainly full.
    host = await live.guest()
    small = await host.create_room(display_name="Host", max_participants=2)
    assert (await (await live.guest()).join(small["code"])).status_code == 200
    response = await (await live.guest()).join(small["code"])
    assert response.status_code == 409
    assert response.json()["code"] == "room_full"
    assert response.json()["max_participants"] == 2


async def test_the_media_token_in_mesh_mode_says_mesh_and_carries_no_token(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(mesh_max_participants=4)
    room, host, guest = await meeting(live)
    for who in (host, guest):
        response = await who.post(f"/api/v1/rooms/{room['code']}/media/token")
        assert response.status_code == 200, response.text
        access = response.json()
        assert access["mode"] == "mesh"
        assert access["mesh_max_participants"] == 4
        assert access["url"] is None and access["token"] is None

    stranger = await live.guest()
    response = await stranger.post(f"/api/v1/rooms/{room['code']}/media/token")
    assert (response.status_code, response.json()["code"]) == (403, "not_a_participant")


async def test_joining_a_mesh_room_says_mesh_in_the_join_response(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(mesh_max_participants=4)
    host, guest = await live.guest(), await live.guest()
    room = await host.create_room()
    joined = (await guest.join(room["code"], "Grace")).json()
    for session in (room, joined):
        assert session["media"] == {
            "mode": "mesh",
            "mesh_max_participants": 4,
            "url": None,
            "token": None,
            "expires_in": None,
            "room_name": None,
        }


async def test_the_webrtc_config_lists_stun_turn_with_fresh_credentials_and_fallbacks(
    live_factory: LiveFactory,
) -> None:
    secret = "coturn-static-auth-secret"
    live = await live_factory(
        mesh_max_participants=5,
        stun_servers="stun:stun.example.org:3478, stun:stun2.example.org:3478",
        turn_servers="turn:turn.example.org:3478?transport=udp,turns:turn.example.org:5349",
        turn_secret=secret,
        turn_credential_ttl_seconds=3600,
        turn_fallback_servers=json.dumps(
            [{"urls": ["turn:fallback.example.net:3478"], "username": "u", "credential": "p"}]
        ),
    )
    guest = await live.guest()
    room = await guest.create_room()
    before = int(time.time())
    response = await guest.get("/api/v1/config/webrtc", params={"room": room["code"]})
    after = int(time.time())
    assert response.status_code == 200, response.text
    config = response.json()
    assert config["mode"] == "mesh"
    assert config["mesh_max_participants"] == 5
    assert config["ttl_seconds"] == 3600
    assert config["fallback_count"] == 1

    stun, turn, fallback = config["iceServers"]
    assert stun == {"urls": ["stun:stun.example.org:3478", "stun:stun2.example.org:3478"]}
    assert turn["urls"] == [
        "turn:turn.example.org:3478?transport=udp",
        "turns:turn.example.org:5349",
    ]
    expiry, _, who = turn["username"].partition(":")
    assert who == guest.participant_id
    assert before + 3600 <= int(expiry) <= after + 3600
    digest = hmac.new(secret.encode(), turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    assert fallback == {
        "urls": ["turn:fallback.example.net:3478"],
        "username": "u",
        "credential": "p",
    }

    # With nothing configured the list is empty, but the mode is still mesh.
    bare = await live_factory()
    alone = await bare.guest()
    response = await alone.get(f"/api/v1/rooms/{(await alone.create_room())['code']}/media/webrtc")
    assert response.json()["mode"] == "mesh"
    assert response.json()["iceServers"] == []
    assert response.json()["fallback_count"] == 0
