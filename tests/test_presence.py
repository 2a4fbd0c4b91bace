"""Presence: a participant whose room sockets are all gone for a grace period has left; a
reconnect in time keeps the seat; someone who never opened a socket is never touched."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from moot.rooms.presence import DUE_KEY, SWEPT_KEY, Presence
from tests.conftest import Guest, LiveMoot
from tests.test_chat_ws import meeting, next_of, socket

LiveFactory = Callable[..., Awaitable[LiveMoot]]


async def present(live: LiveMoot, room: dict[str, Any], who: Guest, viewer: Guest) -> bool:
    people = (await viewer.get(f"/api/v1/rooms/{room['code']}/participants")).json()["items"]
    return any(p["participant_id"] == who.participant_id for p in people)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - polling the API, nothing to wait on
            await asyncio.sleep(0.1)


async def test_a_vanished_socket_frees_the_seat_after_the_grace_period(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], host) as host_ws:
        await next_of(host_ws, "ready")
        async with socket(live, room["code"], guest) as guest_ws:
            await next_of(guest_ws, "ready")
        # The guest's tab is gone (socket closed without a leave): a second later they left.
        left = await next_of(host_ws, "participant.left", timeout=10)
        assert left["participant_id"] == guest.participant_id and left["reason"] == "left"
    assert not await present(live, room, guest, host)


async def test_the_host_role_passes_on_when_the_hosts_tab_vanishes(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as guest_ws:
        await next_of(guest_ws, "ready")
        async with socket(live, room["code"], host) as host_ws:
            await next_of(host_ws, "ready")
        changed = await next_of(guest_ws, "host.changed", timeout=10)
        assert changed["host"]["participant_id"] == guest.participant_id


async def test_a_reload_within_the_grace_period_keeps_the_seat(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=2)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as first:
        await next_of(first, "ready")
    async with socket(live, room["code"], guest) as second:  # the reloaded tab
        await next_of(second, "ready")
        await asyncio.sleep(3)  # past the grace period (the departure must have been cancelled)
        assert await present(live, room, guest, host)


async def test_one_of_two_tabs_closing_keeps_the_seat(live_factory: LiveFactory) -> None:
    live = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as stays:
        await next_of(stays, "ready")
        async with socket(live, room["code"], guest) as closes:
            await next_of(closes, "ready")
        await asyncio.sleep(2.5)
        assert await present(live, room, guest, host)


async def test_participants_without_sockets_are_never_removed(live_factory: LiveFactory) -> None:
    live = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(live)
    await asyncio.sleep(2.5)
    assert await present(live, room, guest, host)
    assert await present(live, room, host, guest)


async def test_a_departure_is_handled_once_across_instances(live_factory: LiveFactory) -> None:
    a = await live_factory(presence_grace_seconds=1)
    b = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(a)
    async with socket(b, room["code"], host) as host_ws:
        await next_of(host_ws, "ready")
        async with socket(a, room["code"], guest) as guest_ws:
            await next_of(guest_ws, "ready")
        await next_of(host_ws, "participant.left", timeout=10)
        await until(lambda: _not_present(a, room, guest, host))
        # Only one instance acted: a single "left" system message in the chat.
        messages = (await host.get(f"/api/v1/rooms/{room['code']}/chat/messages")).json()
        lefts = [m for m in messages["items"] if m["content"] == "Guest left"]
        assert len(lefts) == 1


async def _not_present(live: LiveMoot, room: dict[str, Any], who: Guest, viewer: Guest) -> bool:
    return not await present(live, room, who, viewer)


async def test_leaving_and_joining_again_without_a_socket_keeps_the_new_seat(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=1)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as ws:
        await next_of(ws, "ready")
    # The socket is gone (a departure is due in a second), but the guest leaves and joins again
    # over the API: the new seat was taken after that socket closed, so it stays.
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    assert (await guest.join(room["code"], "Guest again")).status_code == 200
    await asyncio.sleep(2.5)
    assert await present(live, room, guest, host)


async def test_the_due_set_expires_and_leaves_nothing_behind(redis: Redis) -> None:
    presence = Presence(redis, grace_seconds=30)
    room, who = uuid.uuid4(), uuid.uuid4()
    await presence.arrived(room, who)
    await presence.departed(room, who)
    # If no instance were left to sweep it, the set would still go: a day past its deadline.
    assert 30 < await redis.ttl(DUE_KEY) <= 30 + 24 * 3600
    # A reconnect takes the last entry out, and no empty key stays behind.
    await presence.arrived(room, who)
    assert await redis.exists(DUE_KEY) == 0


async def test_a_deadline_that_passed_while_nobody_swept_gets_a_fresh_grace_period(
    redis: Redis,
) -> None:
    """Every instance was stopped (or the stores were out) for longer than the grace period:
    the first sweep after it lets nobody go, and counts their grace period from now."""
    presence = Presence(redis, grace_seconds=30)
    room, who = uuid.uuid4(), uuid.uuid4()
    await presence.arrived(room, who)
    await presence.departed(room, who)
    # As a stopped server leaves Redis: the last sweep two minutes ago, the deadline passed
    # a minute and a half ago.
    now_ms = int(time.time() * 1000)
    await redis.set(SWEPT_KEY, now_ms - 120_000)
    await redis.zadd(DUE_KEY, {f"{room}:{who}": now_ms - 90_000})

    gone: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []

    async def on_gone(room_id: uuid.UUID, participant_id: uuid.UUID, at: datetime) -> None:
        gone.append((room_id, participant_id, at))

    before_ms = int(time.time() * 1000)
    assert await presence.sweep(on_gone) == 0
    assert gone == []
    deadline = await redis.zscore(DUE_KEY, f"{room}:{who}")
    assert deadline is not None
    assert before_ms + 30_000 <= deadline <= time.time() * 1000 + 30_000
    # They come back in time (the client reconnected after the restart): nothing is due.
    assert await presence.arrived(room, who) is True
    assert await redis.exists(DUE_KEY) == 0


async def test_a_deadline_that_passes_while_instances_sweep_is_kept(redis: Redis) -> None:
    presence = Presence(redis, grace_seconds=30)
    room, who = uuid.uuid4(), uuid.uuid4()
    await presence.arrived(room, who)
    departed_before = datetime.now(UTC)
    await presence.departed(room, who)
    now_ms = int(time.time() * 1000)
    await redis.set(SWEPT_KEY, now_ms - 1000)  # swept a second ago, as a running server does
    await redis.zadd(DUE_KEY, {f"{room}:{who}": now_ms - 500})

    gone: list[tuple[uuid.UUID, uuid.UUID, datetime]] = []

    async def on_gone(room_id: uuid.UUID, participant_id: uuid.UUID, at: datetime) -> None:
        gone.append((room_id, participant_id, at))

    assert await presence.sweep(on_gone) == 1
    # When their socket closed, not when the deadline was: a seat taken after it is kept.
    assert [(r, p) for r, p, _ in gone] == [(room, who)]
    assert departed_before - timedelta(seconds=1) <= gone[0][2] <= datetime.now(UTC)


async def test_a_departure_that_fails_on_the_database_stays_due(redis: Redis) -> None:
    presence = Presence(redis, grace_seconds=30)
    room, who = uuid.uuid4(), uuid.uuid4()
    await presence.arrived(room, who)
    await presence.departed(room, who)
    now_ms = int(time.time() * 1000)
    await redis.set(SWEPT_KEY, now_ms - 1000)
    await redis.zadd(DUE_KEY, {f"{room}:{who}": now_ms - 500})

    async def on_gone(room_id: uuid.UUID, participant_id: uuid.UUID, at: datetime) -> None:
        raise ConnectionRefusedError("PostgreSQL is away")

    with pytest.raises(ConnectionRefusedError):
        await presence.sweep(on_gone)
    assert await redis.zscore(DUE_KEY, f"{room}:{who}") == now_ms - 500
    # That sweep did not complete: it is not noted as one.
    assert await redis.get(SWEPT_KEY) == str(now_ms - 1000).encode()


async def test_a_socket_that_says_its_tab_is_closing_leaves_sooner(
    live_factory: LiveFactory,
) -> None:
    """The web client sends `away` as its page unloads: a closed tab leaves after the
    closed-tab wait, not the whole grace period, and the host role passes on with it."""
    live = await live_factory(presence_grace_seconds=60, presence_closed_tab_seconds=1)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as guest_ws:
        await next_of(guest_ws, "ready")
        async with socket(live, room["code"], host) as host_ws:
            await next_of(host_ws, "ready")
            await host_ws.send(json.dumps({"type": "away"}))
        reconnecting = await next_of(guest_ws, "participant.reconnecting")
        assert reconnecting["participant_id"] == host.participant_id
        left = await next_of(guest_ws, "participant.left", timeout=10)
        assert left["participant_id"] == host.participant_id
        changed = await next_of(guest_ws, "host.changed")
        assert changed["host"]["participant_id"] == guest.participant_id


async def test_others_hear_that_a_reloading_participant_is_reconnecting_and_back(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=30)
    room, host, guest = await meeting(live)
    async with socket(live, room["code"], guest) as guest_ws:
        await next_of(guest_ws, "ready")
        async with socket(live, room["code"], host) as first:
            await next_of(first, "ready")
            await first.send(json.dumps({"type": "away"}))  # the page reloads
        assert (await next_of(guest_ws, "participant.reconnecting"))["participant_id"] == (
            host.participant_id
        )
        async with socket(live, room["code"], host) as reloaded:
            ready = await next_of(reloaded, "ready")
            assert ready["you"]["role"] == "host"  # the seat and the role, kept
            back = await next_of(guest_ws, "participant.reconnected")
            assert back["participant_id"] == host.participant_id
