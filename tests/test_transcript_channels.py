"""Every speaker, attributed: the transcription host's socket carries one channel per speaker
(a `channels` text frame, then interleaved PCM16), Gladia (the stand-in) transcribes each
channel on its own, and each line is stored and shown under the participant who spoke it."""

from __future__ import annotations

import array
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Guest, LiveMoot
from tests.gladia_standin import GladiaStandIn, GladiaState
from tests.test_chat_ws import closed_with, next_of, socket
from tests.test_transcription import (
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


FRAMES = 1600  # 100 ms at 16 kHz


def voices(*levels: int, seconds: float = 1.0) -> list[bytes]:
    """Interleaved PCM16 in 100 ms chunks: channel c holds the constant sample `levels[c]`
    (0 is silence)."""
    chunk = array.array("h", list(levels) * FRAMES).tobytes()
    return [chunk] * round(seconds * 10)


async def three_people(live: LiveMoot) -> tuple[dict[str, Any], Guest, Guest, Guest]:
    host, grace, linus = await live.guest(), await live.guest(), await live.guest()
    room = await host.create_room(display_name="Ada")
    assert (await grace.join(room["code"], "Grace")).status_code == 200
    assert (await linus.join(room["code"], "Linus")).status_code == 200
    return room, host, grace, linus


async def channels(mic: ClientConnection, *people: Guest) -> None:
    ids = [person.participant_id for person in people]
    await mic.send(json.dumps({"type": "channels", "participant_ids": ids}))


async def finals_by_speaker(watcher: ClientConnection, n: int) -> dict[str, list[str]]:
    """The next `n` transcript.final events, their texts by participant id."""
    heard: dict[str, list[str]] = {}
    for _ in range(n):
        final = await next_of(watcher, "transcript.final")
        heard.setdefault(final["participant_id"], []).append(final["text"])
    return heard


async def test_two_channels_from_two_participants_are_stored_and_shown_under_their_names(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, grace, linus = await three_people(live)
    gladia.channel_texts = [["hello from ada"], ["hello from grace"]]
    started = await start(host, room)
    assert started["max_channels"] == 8

    async with socket(live, room["code"], linus) as watcher:
        await next_of(watcher, "ready")
        async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
            await channels(mic, host, grace)
            await stream(mic, voices(1000, -1000, seconds=2))
            heard = await finals_by_speaker(watcher, 4)  # one a second on each channel
            await mic.send(json.dumps({"type": "stop"}))
            await closed_with(mic)

    assert heard == {
        host.participant_id: ["hello from ada"] * 2,
        grace.participant_id: ["hello from grace"] * 2,
    }
    # The socket opened mono; the channels frame moved it to a two-channel session.
    mono, stereo = gladia.sessions.values()
    assert mono.init_body["channels"] == 1 and mono.bytes_received == 0
    assert stereo.init_body["channels"] == 2 and stereo.bytes_received == 2 * 2 * 32_000
    sent = stereo.transcripts()
    assert {t["utterance"]["channel"] for t in sent} == {0, 1}

    await eventually(lambda: _count(db, room["id"], 4))
    stored = await rows(db, room["id"])
    assert {(r["participant_id"], r["text"]) for r in stored} == {
        (uuid.UUID(host.participant_id), "hello from ada"),
        (uuid.UUID(grace.participant_id), "hello from grace"),
    }
    page = (await linus.get(f"/api/v1/rooms/{room['code']}/transcripts")).json()
    assert {(item["display_name"], item["text"]) for item in page["items"]} == {
        ("Ada", "hello from ada"),
        ("Grace", "hello from grace"),
    }
    vtt = (await linus.get(f"/api/v1/rooms/{room['code']}/transcripts/export?format=vtt")).text
    assert "<v Grace>hello from grace" in vtt and "<v Ada>hello from ada" in vtt

    # Usage: two seconds of audio, four channel-seconds (Gladia bills every channel).
    state = (await linus.get(f"/api/v1/rooms/{room['code']}/transcription")).json()
    assert state["seconds_used"] == pytest.approx(2.0, abs=0.01)
    assert state["channel_seconds_used"] == pytest.approx(4.0, abs=0.01)
    metrics = (await live.http.get("/metrics")).text
    assert "moot_transcription_audio_seconds_total 2.0" in metrics
    assert "moot_transcription_channel_seconds_total 4.0" in metrics


async def _count(db: asyncpg.Connection, room_id: str, n: int) -> bool:
    return len(await rows(db, room_id)) >= n


async def test_a_silent_channel_says_nothing(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, grace, linus = await three_people(live)
    gladia.channel_texts = [["ada speaks"], ["grace is silent"], ["linus speaks"]]
    started = await start(host, room)
    async with socket(live, room["code"], grace) as watcher:
        await next_of(watcher, "ready")
        async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
            await channels(mic, host, grace, linus)
            await stream(mic, voices(500, 0, 700, seconds=1))
            heard = await finals_by_speaker(watcher, 2)
            await mic.send(json.dumps({"type": "stop"}))
            await closed_with(mic)
    assert heard == {host.participant_id: ["ada speaks"], linus.participant_id: ["linus speaks"]}
    assert all(t["utterance"]["channel"] != 1 for t in gladia.session_list()[-1].transcripts())


async def test_a_new_speaker_list_opens_a_new_session_and_nothing_is_lost_across_it(
    live_factory: LiveFactory, gladia: GladiaState, db: asyncpg.Connection
) -> None:
    live = await live_factory(**gladia_settings(gladia))
    room, host, grace, _ = await three_people(live)
    gladia.channel_texts = [["ada"], ["grace"]]
    started = await start(host, room)
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await channels(mic, host)  # what the socket opened with: the mono session goes on
        await stream(mic, voices(800, seconds=1.5))  # a final at 1 s, half an utterance open
        await channels(mic, host, grace)  # Grace's audio arrives
        await stream(mic, voices(800, 900, seconds=1))
        await channels(mic, host, grace)  # the same list again: no new session
        await mic.send(json.dumps({"type": "stop"}))
        await closed_with(mic)

    first, second = gladia.session_list()
    assert (first.init_body["channels"], second.init_body["channels"]) == (1, 2)
    # The one-channel session was stopped, not dropped: its half utterance became a final.
    assert first.stopped and first.bytes_received == 1.5 * 32_000
    assert second.bytes_received == 2 * 32_000
    await eventually(lambda: _count(db, room["id"], 4))
    stored = await rows(db, room["id"])
    by_speaker = sorted((str(r["participant_id"]), r["text"], r["started_at"]) for r in stored)
    assert [(who, text) for who, text, _ in by_speaker] == sorted(
        [(host.participant_id, "ada")] * 3 + [(grace.participant_id, "grace")]
    )
    # One timeline: the second session's lines start after the first one's.
    ada = sorted(at for who, _, at in by_speaker if who == host.participant_id)
    assert ada[0] < ada[1] < ada[2]
    sessions = await db.fetch(
        "SELECT channels, audio_seconds, channel_seconds, end_reason FROM transcription_sessions"
        " WHERE room_id = $1 ORDER BY started_at",
        uuid.UUID(room["id"]),
    )
    assert [tuple(s) for s in sessions] == [
        (1, 1.5, 1.5, "channels"),
        (2, 1.0, 2.0, "client_stopped"),
    ]


async def test_a_refused_speaker_list_is_answered_and_its_audio_dropped(
    live_factory: LiveFactory, gladia: GladiaState
) -> None:
    live = await live_factory(**gladia_settings(gladia, transcription_max_channels=2))
    room, host, grace, linus = await three_people(live)
    outsider = await live.guest()
    started = await start(host, room)
    assert started["max_channels"] == 2
    async with connect(f"{started['worker_url']}?token={started['token']}") as mic:
        await channels(mic, host, grace, linus)
        refused = json.loads(await mic.recv())
        assert refused["code"] == "too_many_channels" and refused["max_channels"] == 2
        await stream(mic, voices(1, 2, 3, seconds=0.3))  # three channels: dropped, not sent

        await channels(mic, host, outsider)
        refused = json.loads(await mic.recv())
        assert refused["code"] == "participant_not_found"
        assert refused["participant_ids"] == [outsider.participant_id]

        malformed: list[dict[str, Any]] = [
            {"participant_ids": ["not-an-id"]},
            {"participant_ids": []},
            {},
        ]
        for bad in malformed:
            await mic.send(json.dumps({"type": "channels", **bad}))
            assert json.loads(await mic.recv())["code"] == "invalid_frame"
        dup = [host.participant_id, host.participant_id]
        await mic.send(json.dumps({"type": "channels", "participant_ids": dup}))
        assert json.loads(await mic.recv())["code"] == "invalid_frame"

        await channels(mic, host, grace)  # accepted: audio flows again
        await stream(mic, voices(1, 2, seconds=0.5))
        # A chunk that is not whole two-channel frames ends the socket.
        await mic.send(b"\x00\x00" * 3)
        assert (await closed_with(mic))[0] == 1007
    # Only the half second after the accepted list reached Gladia: 2 channels of 32,000 B/s.
    assert sum(s.bytes_received for s in gladia.sessions.values()) == 32_000
    assert [s.init_body["channels"] for s in gladia.session_list()] == [1, 2]
    metrics = (await live.http.get("/metrics")).text
    assert 'moot_worker_chunks_total{outcome="dropped"} 3.0' in metrics
