"""Rate limits: per client IP for room creation, new identities and room lookups, per room for
joins, per identity for requests.

The counters live in Redis, so every instance sharing the stores enforces one budget.
"""

from __future__ import annotations

import uuid

import asyncpg
import httpx
from redis.asyncio import Redis

from tests.conftest import Guest, MootFactory


def assert_rate_limited(response: httpx.Response, limit: str, window: int = 60) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["limit"] == limit
    assert body["message"]
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit(), retry_after
    assert 1 <= int(retry_after) <= window
    assert body["retry_after"] == int(retry_after)


async def create(guest: Guest) -> httpx.Response:
    return await guest.post("/api/v1/rooms", json={})


# -- room creation, per client IP ----------------------------------------------------------


async def test_the_fourth_room_in_a_minute_from_one_ip_is_refused_with_429(
    moot_factory: MootFactory, db: asyncpg.Connection
) -> None:
    moot = await moot_factory(rate_limit_room_create="3/minute")
    guests = [await moot.guest() for _ in range(4)]  # different identities, one address
    for guest in guests[:3]:
        assert (await create(guest)).status_code == 201

    refused = await create(guests[3])

    assert_rate_limited(refused, "room_create")
    assert await db.fetchval("SELECT count(*) FROM rooms") == 3
    assert (
        await db.fetchval(
            "SELECT count(*) FROM room_participants WHERE participant_id = $1",
            uuid.UUID(guests[3].participant_id),
        )
        == 0
    )


async def test_another_client_ip_still_creates_rooms(moot_factory: MootFactory) -> None:
    busy = await moot_factory(client_ip="203.0.113.10", rate_limit_room_create="3/minute")
    elsewhere = await moot_factory(client_ip="198.51.100.50", rate_limit_room_create="3/minute")
    guest = await busy.guest()
    for _ in range(3):
        assert (await create(guest)).status_code == 201
    assert (await create(guest)).status_code == 429

    assert (await create(await elsewhere.guest())).status_code == 201


async def test_anonymous_requests_share_their_ips_room_creation_budget(
    moot_factory: MootFactory,
) -> None:
    moot = await moot_factory(rate_limit_room_create="3/minute")
    for _ in range(3):
        assert (await moot.http.post("/api/v1/rooms", json={})).status_code == 201
    assert_rate_limited(await moot.http.post("/api/v1/rooms", json={}), "room_create")


async def test_a_refused_request_shows_up_in_the_metrics(moot_factory: MootFactory) -> None:
    moot = await moot_factory(rate_limit_room_create="1/minute")
    guest = await moot.guest()
    assert (await create(guest)).status_code == 201
    assert (await create(guest)).status_code == 429
    metrics = (await moot.http.get("/metrics")).text
    assert 'moot_rate_limited_total{limit="room_create"} 1.0' in metrics
    assert 'route="/api/v1/rooms",status="429"' in metrics


async def test_rate_limits_can_be_switched_off(moot_factory: MootFactory) -> None:
    moot = await moot_factory(rate_limit_room_create="1/minute", rate_limit_enabled=False)
    guest = await moot.guest()
    for _ in range(3):
        assert (await create(guest)).status_code == 201


# -- new identities, per client IP ---------------------------------------------------------


async def test_the_fourth_identity_in_a_minute_from_one_ip_is_refused(
    moot_factory: MootFactory,
) -> None:
    busy = await moot_factory(rate_limit_identity_create="3/minute")
    elsewhere = await moot_factory(client_ip="198.51.100.50", rate_limit_identity_create="3/minute")
    for _ in range(3):
        assert (await busy.http.post("/api/v1/identity")).status_code == 201

    refused = await busy.http.post("/api/v1/identity")

    assert_rate_limited(refused, "identity_create")
    assert "x-participant-id" not in refused.headers
    assert (await elsewhere.http.post("/api/v1/identity")).status_code == 201


async def test_identities_issued_to_requests_without_a_credential_spend_the_same_budget(
    moot_factory: MootFactory,
) -> None:
    moot = await moot_factory(rate_limit_identity_create="2/minute")
    guest = await moot.guest()  # the first
    implicit = await moot.http.post("/api/v1/rooms", json={})  # the second, issued with it
    assert implicit.status_code == 201
    assert implicit.headers["x-participant-id"] != guest.token

    refused = await moot.http.post("/api/v1/rooms", json={})
    assert_rate_limited(refused, "identity_create")
    # Whoever already holds an identity is not affected.
    assert (await guest.post("/api/v1/rooms", json={})).status_code == 201


# -- room lookups, per client IP -----------------------------------------------------------


async def test_room_lookups_from_one_ip_are_limited_found_or_not(
    moot_factory: MootFactory,
) -> None:
    busy = await moot_factory(rate_limit_room_lookup="3/minute")
    elsewhere = await moot_factory(client_ip="198.51.100.50", rate_limit_room_lookup="3/minute")
    room = await (await busy.guest()).create_room()
    for code in (room["code"], "abc-defg-hij", "zzz-zzzz-zzz"):  # guessing codes
        assert (await busy.http.get(f"/api/v1/rooms/{code}")).status_code in (200, 404)

    refused = await busy.http.get(f"/api/v1/rooms/{room['code']}")

    assert_rate_limited(refused, "room_lookup")
    assert (await elsewhere.http.get(f"/api/v1/rooms/{room['code']}")).status_code == 200


# -- joins, per room -----------------------------------------------------------------------


async def test_the_third_newcomer_in_a_minute_is_refused_but_members_can_rejoin(
    moot_factory: MootFactory, db: asyncpg.Connection
) -> None:
    moot = await moot_factory(rate_limit_room_join="2/minute")
    host = await moot.guest()
    room = await host.create_room()  # creating a room is not a join
    first, second, third = [await moot.guest() for _ in range(3)]
    assert (await first.join(room["code"], "First")).status_code == 200
    assert (await second.join(room["code"], "Second")).status_code == 200

    refused = await third.join(room["code"], "Third")
    assert_rate_limited(refused, "room_join")
    assert (
        await db.fetchval(
            "SELECT count(*) FROM room_participants WHERE room_id = $1", uuid.UUID(room["id"])
        )
        == 3
    )

    # Re-joining (a reload, a second tab) takes no new seat and is not counted.
    for _ in range(3):
        again = await first.join(room["code"], "First")
        assert again.status_code == 200
        assert again.json()["participant_count"] == 3
    # Neither is the host, who already has a seat.
    assert (await host.join(room["code"], "Host")).status_code == 200


async def test_the_join_limit_is_per_room(moot_factory: MootFactory) -> None:
    moot = await moot_factory(rate_limit_room_join="2/minute")
    host = await moot.guest()
    busy = await host.create_room()
    quiet = await host.create_room()
    for _ in range(2):
        assert (await (await moot.guest()).join(busy["code"], "G")).status_code == 200
    assert (await (await moot.guest()).join(busy["code"], "G")).status_code == 429

    for _ in range(2):
        assert (await (await moot.guest()).join(quiet["code"], "G")).status_code == 200


# -- requests, per identity ----------------------------------------------------------------


async def test_the_sixth_request_by_one_identity_is_refused_and_others_are_unaffected(
    moot_factory: MootFactory,
) -> None:
    moot = await moot_factory(rate_limit_participant_requests="5/minute")
    chatty = await moot.guest()
    quiet = await moot.guest()
    room = await chatty.create_room()  # 1
    listing = f"/api/v1/rooms/{room['code']}/participants"
    for _ in range(4):  # 2..5
        assert (await chatty.get(listing)).status_code == 200

    assert_rate_limited(await chatty.get(listing), "participant_requests")
    assert_rate_limited(
        await chatty.post(f"/api/v1/rooms/{room['code']}/lock"), "participant_requests"
    )

    assert (await quiet.join(room["code"], "Quiet")).status_code == 200
    assert (await quiet.get(listing)).status_code == 200
    # Endpoints that do not ask who you are are not counted against you.
    assert (await chatty.get(f"/api/v1/rooms/{room['code']}")).status_code == 200
    assert (await moot.http.get("/health")).status_code == 200


# -- shared state --------------------------------------------------------------------------


async def test_room_creation_budget_is_shared_by_every_instance(
    moot_factory: MootFactory, redis: Redis
) -> None:
    one = await moot_factory(rate_limit_room_create="3/minute")
    two = await moot_factory(rate_limit_room_create="3/minute")
    assert (await create(await one.guest())).status_code == 201
    assert (await create(await two.guest())).status_code == 201
    assert (await create(await one.guest())).status_code == 201

    assert_rate_limited(await create(await two.guest()), "room_create")
    assert_rate_limited(await create(await one.guest()), "room_create")
    assert await redis.keys("moot:rl*")


async def test_an_identitys_request_budget_is_shared_by_every_instance(
    moot_factory: MootFactory,
) -> None:
    one = await moot_factory(rate_limit_participant_requests="5/minute")
    two = await moot_factory(rate_limit_participant_requests="5/minute")
    me = await one.guest()
    room = await me.create_room()  # 1, on instance one
    on_two = Guest(two.http, me.token, me.participant_id)
    listing = f"/api/v1/rooms/{room['code']}/participants"
    for instance in (on_two, me, on_two, me):  # 2..5, alternating
        assert (await instance.get(listing)).status_code == 200

    assert_rate_limited(await on_two.get(listing), "participant_requests")
    assert_rate_limited(await me.get(listing), "participant_requests")


async def test_the_join_budget_of_a_room_is_shared_by_every_instance(
    moot_factory: MootFactory,
) -> None:
    one = await moot_factory(rate_limit_room_join="2/minute")
    two = await moot_factory(rate_limit_room_join="2/minute")
    room = await (await one.guest()).create_room()
    assert (await (await one.guest()).join(room["code"], "A")).status_code == 200
    assert (await (await two.guest()).join(room["code"], "B")).status_code == 200
    assert (await (await one.guest()).join(room["code"], "C")).status_code == 429
    assert (await (await two.guest()).join(room["code"], "D")).status_code == 429
