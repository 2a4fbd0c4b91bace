"""The room WebSocket: authentication, live events, replay on reconnect, bad frames, kicks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Guest, LiveMoot


@asynccontextmanager
async def socket(
    live: LiveMoot,
    room: str,
    guest: Guest | None,
    since: str | None = None,
    token: str | None = None,
) -> AsyncIterator[ClientConnection]:
    query = f"token={token if token is not None else guest.token if guest else ''}"
    if since:
        query += f"&since={since}"
    async with connect(f"{live.ws_url}/ws/chat/{room}?{query}", max_size=2**22) as ws:
        yield ws


async def frames_until(ws: ClientConnection, kind: str, timeout: float = 5) -> list[dict[str, Any]]:
    """Read frames up to and including the first of type `kind`."""
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if frame["type"] == kind:
                return seen


async def next_of(ws: ClientConnection, kind: str, timeout: float = 5) -> dict[str, Any]:
    return (await frames_until(ws, kind, timeout))[-1]


async def closed_with(ws: ClientConnection, timeout: float = 5) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        async with asyncio.timeout(timeout):
            while True:
                await ws.recv()
    assert info.value.rcvd is not None
    return info.value.rcvd.code, info.value.rcvd.reason


async def meeting(live: LiveMoot) -> tuple[dict[str, Any], Guest, Guest]:
    host = await live.guest()
    guest = await live.guest()
    room = await host.create_room(display_name="Host")
    assert (await guest.join(room["code"], "Guest")).status_code == 200
    return room, host, guest


async def test_a_socket_needs_a_valid_credential_and_a_seat(live: LiveMoot) -> None:
    room, host, _ = await meeting(live)
    stranger = await live.guest()
    cases: list[tuple[dict[str, Any], str, int, str]] = [
        ({"token": "forged.credential"}, room["code"], 4401, "invalid_credential"),
        ({"token": ""}, room["code"], 4401, "invalid_credential"),
        ({"guest": stranger}, room["code"], 4403, "not_a_participant"),
        ({"guest": host}, "zzz-zzzz-zzz", 4404, "room_not_found"),
    ]
    for kwargs, ref, code, reason in cases:
        async with socket(live, ref, kwargs.get("guest"), token=kwargs.get("token")) as ws:
            error = json.loads(await ws.recv())
            assert error["type"] == "error" and error["code"] == reason
            assert await closed_with(ws) == (code, reason)

    await host.post(f"/api/v1/rooms/{room['code']}/end")
    async with socket(live, room["code"], host) as ws:
        assert (await closed_with(ws))[0] == 4410


async def test_everyone_in_the_room_hears_messages_edits_deletes_and_typing(
    live: LiveMoot,
) -> None:
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["id"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        ready = await next_of(host_ws, "ready")
        assert ready["you"]["role"] == "host"
        await next_of(guest_ws, "ready")

        await guest_ws.send(
            json.dumps({"type": "message.send", "content": "hi all", "client_id": "c1"})
        )
        created = await next_of(host_ws, "message.created")
        assert created["message"]["content"] == "hi all"
        assert created["message"]["display_name"] == "Guest"
        assert created["cursor"]
        assert (await next_of(guest_ws, "message.sent"))["client_id"] == "c1"

        message_id = created["message"]["id"]
        path = f"/api/v1/rooms/{room['code']}/chat/messages/{message_id}"
        await guest.http.put(path, json={"content": "hi everyone"}, headers=guest.headers)
        edited = await next_of(host_ws, "message.edited")
        assert edited["message"]["content"] == "hi everyone"
        await host.delete(path)
        deleted = await next_of(guest_ws, "message.deleted")
        assert deleted == {
            "type": "message.deleted",
            "cursor": deleted["cursor"],
            "message_id": message_id,
            "deleted_by": host.participant_id,
        }

        await guest_ws.send(json.dumps({"type": "typing"}))
        typing = await next_of(host_ws, "typing")
        assert typing["participant_id"] == guest.participant_id
        assert "cursor" not in typing  # ephemeral: never replayed

        await host_ws.send(json.dumps({"type": "ping"}))
        assert await next_of(host_ws, "pong") == {"type": "pong"}


async def test_joins_leaves_and_host_changes_are_pushed_with_system_messages(
    live: LiveMoot,
) -> None:
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
        newcomer = await live.guest()
        await newcomer.join(room["code"], "Newcomer")
        joined = await next_of(ws, "participant.joined")
        assert joined["participant"]["display_name"] == "Newcomer"
        system = await next_of(ws, "message.created")
        assert system["message"]["message_type"] == "system"
        assert system["message"]["content"] == "Newcomer joined"

        await host.post(f"/api/v1/rooms/{room['code']}/leave")
        left = await next_of(ws, "participant.left")
        assert left["participant_id"] == host.participant_id and left["reason"] == "left"
        changed = await next_of(ws, "host.changed")
        assert changed["host"]["participant_id"] == guest.participant_id


async def test_a_member_who_joins_again_under_a_new_name_is_announced_renamed(
    live: LiveMoot,
) -> None:
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], host) as ws:
        await next_of(ws, "ready")
        assert (await guest.join(room["code"], "Grace H.")).status_code == 200
        updated = await next_of(ws, "participant.updated")
        assert updated["participant"]["participant_id"] == guest.participant_id
        assert updated["participant"]["display_name"] == "Grace H."
        system = await next_of(ws, "message.created")
        assert system["message"]["content"].endswith(" is now Grace H.")

        # The same name again changes nothing and says nothing.
        assert (await guest.join(room["code"], "Grace H.")).status_code == 200
        await host.post(f"/api/v1/rooms/{room['code']}/lock")
        between = await frames_until(ws, "room.updated")
        assert [f["type"] for f in between if f["type"].startswith("participant.")] == []
    people = (await host.get(f"/api/v1/rooms/{room['code']}/participants")).json()["items"]
    assert {p["display_name"] for p in people} >= {"Grace H."}


async def test_a_removed_participant_is_told_and_disconnected(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        await next_of(host_ws, "ready")
        await next_of(guest_ws, "ready")
        await host.delete(f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}")
        left = await next_of(guest_ws, "participant.left")
        assert left["reason"] == "removed"
        assert await closed_with(guest_ws) == (4403, "removed by the host")
        # The host stays connected.
        await host_ws.send(json.dumps({"type": "ping"}))
        await next_of(host_ws, "pong")


async def test_ending_the_room_closes_every_socket_with_4410(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with (
        socket(live, room["code"], host) as host_ws,
        socket(live, room["code"], guest) as guest_ws,
    ):
        await next_of(host_ws, "ready")
        await next_of(guest_ws, "ready")
        await host.post(f"/api/v1/rooms/{room['code']}/end")
        for ws in (host_ws, guest_ws):
            ended = await next_of(ws, "room.ended")
            assert ended["reason"] == "host"
            assert await closed_with(ws) == (4410, "the meeting has ended")


async def test_a_reconnecting_client_gets_what_it_missed_in_order(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        cursor = (await next_of(ws, "ready"))["cursor"]
    chat = f"/api/v1/rooms/{room['code']}/chat/messages"
    sent = [(await host.post(chat, json={"content": f"while away {n}"})).json() for n in range(3)]
    await host.http.put(
        f"{chat}/{sent[0]['id']}", json={"content": "edited while away"}, headers=host.headers
    )

    async with socket(live, room["code"], guest, since=cursor) as ws:
        frames = await frames_until(ws, "ready")
    replayed = [f for f in frames if f["type"] != "ready"]
    assert [f["type"] for f in replayed] == ["message.created"] * 3 + ["message.edited"]
    assert [f["message"]["content"] for f in replayed[:3]] == [f"while away {n}" for n in range(3)]
    cursors = [f["cursor"] for f in replayed]
    assert cursors == sorted(cursors, key=lambda c: tuple(map(int, c.split("-"))))
    assert frames[-1]["cursor"] == cursors[-1]

    # Nothing is replayed twice: reconnecting from the newest cursor yields no events.
    async with socket(live, room["code"], guest, since=frames[-1]["cursor"]) as ws:
        assert [f["type"] for f in await frames_until(ws, "ready")] == ["ready"]


async def test_a_cursor_older_than_the_kept_events_asks_for_a_resync(live_factory) -> None:  # type: ignore[no-untyped-def]
    live = await live_factory(chat_events_kept=10)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        cursor = (await next_of(ws, "ready"))["cursor"]
    chat = f"/api/v1/rooms/{room['code']}/chat/messages"
    for n in range(150):
        await host.post(chat, json={"content": f"flood {n}"})
    async with socket(live, room["code"], guest, since=cursor) as ws:
        frames = await frames_until(ws, "ready")
    assert [f["type"] for f in frames] == ["resync", "ready"]
    async with socket(live, room["code"], guest, since="not-a-cursor") as ws:
        frames = await frames_until(ws, "ready")
    assert [f["type"] for f in frames] == ["error", "resync", "ready"]


async def test_bad_frames_get_error_events_and_the_socket_lives_on(live_factory) -> None:  # type: ignore[no-untyped-def]
    live = await live_factory(ws_max_frame_bytes=1024)
    room, _, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
        bad_frames: list[str | bytes] = [
            "not json",
            json.dumps({"type": "launch.rockets"}),
            json.dumps({"type": "message.send"}),
            json.dumps({"type": "message.send", "content": "   "}),
            json.dumps(["array"]),
            b"\x00\x01binary",
            json.dumps({"type": "message.send", "content": "x" * 2000}),
        ]
        expected = ["invalid_frame"] * 3 + [
            "validation_failed",
            "invalid_frame",
            "invalid_frame",
            "frame_too_large",
        ]
        for frame, code in zip(bad_frames, expected, strict=True):
            await ws.send(frame)
            error = await next_of(ws, "error")
            assert error["code"] == code, frame
        await ws.send(json.dumps({"type": "ping"}))
        assert await next_of(ws, "pong") == {"type": "pong"}

        # Far past the limit the server refuses the frame itself: 1009, message too big.
        await ws.send("y" * 8192)
        assert (await closed_with(ws))[0] == 1009


async def test_sending_too_fast_over_the_socket_gets_an_error_event(live_factory) -> None:  # type: ignore[no-untyped-def]
    live = await live_factory(rate_limit_chat_message="2/second;100/minute")
    room, _, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
        for n in range(3):
            await ws.send(json.dumps({"type": "message.send", "content": f"n{n}"}))
        error = await next_of(ws, "error")
        assert error["code"] == "rate_limited"
        assert error["retry_after"] >= 1


async def test_two_instances_in_one_process_share_a_room(live_factory) -> None:  # type: ignore[no-untyped-def]
    first = await live_factory()
    second = await live_factory()
    room, host, guest = await meeting(first)
    async with socket(first, room["code"], host) as a, socket(second, room["code"], guest) as b:
        await next_of(a, "ready")
        await next_of(b, "ready")
        await a.send(json.dumps({"type": "message.send", "content": "from A"}))
        assert (await next_of(b, "message.created"))["message"]["content"] == "from A"
        assert (await next_of(a, "message.created"))["message"]["content"] == "from A"
        await b.send(json.dumps({"type": "message.send", "content": "from B"}))
        assert (await next_of(a, "message.created"))["message"]["content"] == "from B"


async def test_locking_and_unlocking_reach_everyone_as_room_updated(live: LiveMoot) -> None:
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
        assert (await host.post(f"/api/v1/rooms/{room['code']}/lock")).status_code == 200
        locked = await next_of(ws, "room.updated")
        assert locked["locked"] is True and "cursor" in locked
        note = await next_of(ws, "message.created")
        assert note["message"]["content"] == "The host locked the room"
        await host.post(f"/api/v1/rooms/{room['code']}/unlock")
        assert (await next_of(ws, "room.updated"))["locked"] is False


async def test_a_refused_message_send_names_its_client_id_in_the_error(live_factory) -> None:  # type: ignore[no-untyped-def]
    live = await live_factory(rate_limit_chat_message="1/minute")
    room, _, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
        await ws.send(json.dumps({"type": "message.send", "content": "first", "client_id": "c1"}))
        assert (await next_of(ws, "message.sent"))["client_id"] == "c1"
        created = await next_of(ws, "message.created")
        assert created["message"]["content"] == "first" and created["client_id"] == "c1"

        # Over the limit: the error says which message it refused, and when to try again.
        await ws.send(json.dumps({"type": "message.send", "content": "second", "client_id": "c2"}))
        refused = await next_of(ws, "error")
        assert refused["code"] == "rate_limited" and refused["client_id"] == "c2"
        assert refused["limit"] == "chat_message" and refused["retry_after"] >= 1

        # Every error a message.send frame ends in names it: a blank message, a frame whose
        # content is not text; one sent without a client_id gets its error as before.
        await ws.send(json.dumps({"type": "message.send", "content": "  ", "client_id": "c3"}))
        blank = await next_of(ws, "error")
        assert blank["code"] == "validation_failed" and blank["client_id"] == "c3"
        await ws.send(json.dumps({"type": "message.send", "content": 7, "client_id": "c4"}))
        undecodable = await next_of(ws, "error")
        assert undecodable["code"] == "invalid_frame" and undecodable["client_id"] == "c4"
        await ws.send(json.dumps({"type": "message.send", "content": "third"}))
        anonymous = await next_of(ws, "error")
        assert anonymous["code"] == "rate_limited" and "client_id" not in anonymous

    # On the gateway the error carries the topic as well.
    async with connect(f"{live.ws_url}/ws?token={guest.token}") as ws:
        await next_of(ws, "ready")
        topic = f"room:{room['id']}"
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        await next_of(ws, "subscribed")
        frame = {"type": "message.send", "topic": topic, "content": "again", "client_id": "g1"}
        await ws.send(json.dumps(frame))
        refused = await next_of(ws, "error")
        assert refused["code"] == "rate_limited"
        assert refused["client_id"] == "g1" and refused["topic"] == topic


async def test_system_messages_carry_what_happened_as_a_typed_note(live: LiveMoot) -> None:
    host = await live.guest()
    room = await host.create_room(display_name="Ada")
    ref = room["code"]
    guest = await live.guest()
    assert (await guest.join(ref, "Grace")).status_code == 200
    async with socket(live, ref, guest) as ws:
        ready = await next_of(ws, "ready")
        assert (await guest.join(ref, "Grace H.")).status_code == 200
        await host.post(f"/api/v1/rooms/{ref}/lock")
        await host.post(f"/api/v1/rooms/{ref}/unlock")
        await host.post(f"/api/v1/rooms/{ref}/host", json={"participant_id": guest.participant_id})
        await host.post(f"/api/v1/rooms/{ref}/leave")
        live_notes: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while len(live_notes) < 5:
                frame = json.loads(await ws.recv())
                if frame["type"] == "message.created":
                    live_notes.append(frame["message"])
    grace, ada = guest.participant_id, host.participant_id
    expected = [
        ("Grace is now Grace H.", {"kind": "renamed", "participant_id": grace, "name": "Grace H.",
                                    "previous_name": "Grace"}),
        ("The host locked the room", {"kind": "locked"}),
        ("The host unlocked the room", {"kind": "unlocked"}),
        ("Grace H. is now the host", {"kind": "host_changed", "participant_id": grace,
                                      "name": "Grace H."}),
        ("Ada left", {"kind": "left", "participant_id": ada, "name": "Ada"}),
    ]  # fmt: skip
    assert [(m["content"], m["system"]) for m in live_notes] == expected
    assert all(m["message_type"] == "system" for m in live_notes)

    newcomer = await live.guest()
    assert (await newcomer.join(ref, "Linus")).status_code == 200
    await guest.delete(f"/api/v1/rooms/{ref}/participants/{newcomer.participant_id}")
    await guest.post(f"/api/v1/rooms/{ref}/chat/messages", json={"content": "hello"})
    # History over REST has the notes, from the creator's own join on; user messages have none.
    history = (await guest.get(f"/api/v1/rooms/{ref}/chat/messages")).json()["items"]
    notes = [(m["content"], m["system"]) for m in history]
    assert notes[0] == ("Ada joined", {"kind": "joined", "participant_id": ada, "name": "Ada"})
    assert notes[-3:] == [
        ("Linus joined", {"kind": "joined", "participant_id": newcomer.participant_id,
                          "name": "Linus"}),
        ("Linus was removed by the host", {"kind": "removed",
                                           "participant_id": newcomer.participant_id,
                                           "name": "Linus"}),
        ("hello", None),
    ]  # fmt: skip
    # A socket that comes back with its cursor gets them replayed, typed as they were.
    async with socket(live, ref, guest, since=ready["cursor"]) as ws:
        frames = await frames_until(ws, "ready")
        replayed = [f["message"] for f in frames if f["type"] == "message.created"]
        assert [(m["content"], m["system"]) for m in replayed[:5]] == expected
        # The end of the meeting, the last note before the socket closes.
        await guest.post(f"/api/v1/rooms/{ref}/end")
        frames = await frames_until(ws, "room.ended")
    ended = [f["message"] for f in frames if f["type"] == "message.created"]
    assert [(m["content"], m["system"]) for m in ended] == [
        ("The meeting has ended", {"kind": "ended"})
    ]
