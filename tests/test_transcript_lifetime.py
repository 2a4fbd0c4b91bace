"""The transcript outlives the meeting, for the people who were in it: after the end they read
and export it until the room's retention deletes it; outsiders (and the removed) get the
`room_ended` they got before; the host deletes it for everyone, rows and all, at any time."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from moot.transcription import store
from moot.transcription.schemas import Segment
from tests.conftest import Guest, LiveMoot
from tests.gladia_standin import GladiaStandIn, GladiaState
from tests.test_chat_ws import closed_with, next_of, socket
from tests.test_transcription import (
    audio,
    eventually,
    gladia_settings,
    rows,
    start,
    stream,
)

LiveFactory = Callable[..., Awaitable[LiveMoot]]


@pytest.fixture
async def gladia() -> AsyncIterator[GladiaState]:
    async with GladiaStandIn() as state:
        yield state


READS = (
    "/transcripts",
    "/transcription",
    *(f"/transcripts/export?format={fmt}" for fmt in ("txt", "srt", "vtt", "json")),
)


async def said(db: asyncpg.Connection, room: dict[str, Any], who: Guest, *texts: str) -> None:
    """Final segments as the worker's writer stores them."""
    segments = [
        Segment(
            room_id=uuid.UUID(room["id"]),
            participant_id=uuid.UUID(who.participant_id),
            utterance_id=f"s:{uuid.uuid4()}",
            text=text,
            language="en",
            started_at=float(at),
            ended_at=float(at) + 1,
        )
        for at, text in enumerate(texts)
    ]
    assert await store.insert_segments(db, segments) == len(texts)


async def a_meeting_that_ended(
    live: LiveMoot, db: asyncpg.Connection
) -> tuple[dict[str, Any], dict[str, Guest]]:
    """Ada hosts; Grace stays to the end; Linus left before it; Mallory was removed; Oscar
    never came."""
    people = {name: await live.guest() for name in ("Ada", "Grace", "Linus", "Mallory", "Oscar")}
    room = await people["Ada"].create_room(display_name="Ada")
    code = room["code"]
    for name in ("Grace", "Linus", "Mallory"):
        assert (await people[name].join(code, name)).status_code == 200
    await said(db, room, people["Grace"], "good morning", "let us begin")
    assert (await people["Linus"].post(f"/api/v1/rooms/{code}/leave")).status_code == 200
    mallory = people["Mallory"].participant_id
    assert (await people["Ada"].delete(f"/api/v1/rooms/{code}/participants/{mallory}")).is_success
    assert (await people["Ada"].post(f"/api/v1/rooms/{code}/end")).status_code == 200
    return room, people


async def test_after_the_end_those_who_were_in_it_read_and_export_it_and_no_one_else(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, people = await a_meeting_that_ended(live, db)
    base = f"/api/v1/rooms/{room['code']}"

    for name in ("Ada", "Grace", "Linus"):
        for path in READS:
            response = await people[name].get(base + path)
            assert response.status_code == 200, (name, path, response.text)
        page = (await people[name].get(f"{base}/transcripts")).json()
        assert [(i["display_name"], i["text"]) for i in page["items"]] == [
            ("Grace", "good morning"),
            ("Grace", "let us begin"),
        ]
        srt = await people[name].get(f"{base}/transcripts/export?format=srt")
        assert "Grace: let us begin" in srt.text
        assert srt.headers["content-disposition"].endswith('transcript.srt"')
    state = (await people["Linus"].get(f"{base}/transcription")).json()
    assert state["status"] == "idle" and state["channel_seconds_used"] == 0

    # Outsiders, and the participant the host removed, get what they got before: 410.
    for name in ("Oscar", "Mallory"):
        for path in READS:
            refused = await people[name].get(base + path)
            assert (refused.status_code, refused.json()["code"]) == (410, "room_ended"), name
    # Still nothing to do in the meeting itself.
    assert (await people["Grace"].get(f"{base}/participants")).json()["code"] == "room_ended"


async def test_during_the_meeting_only_those_seated_read_it(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    host, guest = await live.guest(), await live.guest()
    room = await host.create_room(display_name="Ada")
    await guest.join(room["code"], "Grace")
    await said(db, room, guest, "hello")
    await guest.post(f"/api/v1/rooms/{room['code']}/leave")
    refused = await guest.get(f"/api/v1/rooms/{room['code']}/transcripts")
    assert (refused.status_code, refused.json()["code"]) == (403, "not_a_participant")
    assert (await host.get(f"/api/v1/rooms/{room['code']}/transcripts")).status_code == 200


async def test_after_the_end_the_last_host_deletes_it_and_it_is_gone_for_everyone(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, people = await a_meeting_that_ended(live, db)
    path = f"/api/v1/rooms/{room['code']}/transcripts"

    refused = await people["Grace"].delete(path)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_host")
    refused = await people["Oscar"].delete(path)
    assert (refused.status_code, refused.json()["code"]) == (410, "room_ended")
    assert len(await rows(db, room["id"])) == 2

    deleted = await people["Ada"].delete(path)
    assert deleted.status_code == 200
    assert deleted.json() == {"deleted": 2, "stopped": False}
    assert await rows(db, room["id"]) == []
    for name in ("Ada", "Grace"):
        assert (await people[name].get(path)).json()["items"] == []
        txt = await people[name].get(f"{path}/export?format=txt")
        assert (txt.status_code, txt.text) == (200, "")
    assert (await people["Ada"].delete(path)).json()["deleted"] == 0  # twice is fine


async def test_the_host_deletes_it_while_it_runs_and_even_its_last_finals_are_gone(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection, redis: Redis
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    host, guest = await live.guest(), await live.guest()
    room = await host.create_room(display_name="Ada")
    await guest.join(room["code"], "Grace")
    started = await start(host, room)
    path = f"/api/v1/rooms/{room['code']}/transcripts"

    async with socket(live, room["code"], guest) as watcher:
        await next_of(watcher, "ready")
        async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
            await stream(mic, audio(1.5))  # a final at 1 s; half an utterance still open
            await next_of(watcher, "transcript.final")
            await eventually(lambda: _stored(db, room["id"]))
            refused = await guest.delete(path)
            assert (refused.status_code, refused.json()["code"]) == (403, "not_host")

            deleted = await host.delete(path)
            assert deleted.json() == {"deleted": 1, "stopped": True}
            # Deleting stops the transcription: the worker closes the socket, asks Gladia to
            # stop, and the open half utterance comes back as a final after the delete.
            assert (await closed_with(mic))[0] == 4409
        update = await next_of(watcher, "transcription.updated")
        assert update["status"] == "idle"
        gone = await next_of(watcher, "transcript.deleted")
        assert gone["by"] == host.participant_id and "cursor" in gone

    finals = [t for t in gladia.session.transcripts() if t["is_final"]]
    assert len(finals) == 2  # the late one existed
    await eventually(lambda: _session_closed(db, room["id"]))
    assert await rows(db, room["id"]) == []  # rows and all
    assert (await guest.get(path)).json()["items"] == []
    # The finals kept for replaying the room socket are gone too.
    log: Any = await redis.xrange(f"room:{room['id']}:log", "-", "+")
    kinds = [json.loads(fields[b"e"])["type"] for _, fields in log]
    assert "transcript.deleted" in kinds and "transcript.final" not in kinds


async def _stored(db: asyncpg.Connection, room_id: str) -> bool:
    return len(await rows(db, room_id)) >= 1


async def _session_closed(db: asyncpg.Connection, room_id: str) -> bool:
    return bool(
        await db.fetchval(
            "SELECT bool_and(ended_at IS NOT NULL) FROM transcription_sessions WHERE room_id = $1",
            uuid.UUID(room_id),
        )
    )
