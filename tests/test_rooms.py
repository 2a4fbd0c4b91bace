"""Rooms and participants: create, join by link, leave, and what the host may do."""

from __future__ import annotations

import re
import uuid

import asyncpg

from tests.conftest import Moot


async def test_creating_a_room_makes_the_creator_its_joined_host(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room(title="Standup", display_name="Ada")

    assert re.fullmatch(r"[a-z]{3}-[a-z]{4}-[a-z]{3}", room["code"])
    assert uuid.UUID(room["id"])
    assert room["title"] == "Standup"
    assert room["status"] == "active"
    assert room["max_participants"] == 10
    assert room["participant_count"] == 1
    assert room["you"]["role"] == "host"
    assert room["you"]["participant_id"] == host.participant_id
    assert room["you"]["display_name"] == "Ada"


async def test_a_room_can_be_created_in_one_click_without_a_body(moot: Moot) -> None:
    response = await moot.http.post("/api/v1/rooms", json={})
    assert response.status_code == 201
    assert response.json()["title"] == ""  # untitled: clients show the code instead
    # No credential was sent: one was issued, and it is the host's.
    token = response.headers["X-Participant-ID"]
    assert response.headers["X-Participant-Public-ID"] == response.json()["you"]["participant_id"]
    end = await moot.http.post(
        f"/api/v1/rooms/{response.json()['code']}/end", headers={"X-Participant-ID": token}
    )
    assert end.status_code == 200


async def test_a_room_is_found_by_uuid_and_by_code(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room(title="Retro")
    by_id = await moot.http.get(f"/api/v1/rooms/{room['id']}")
    by_code = await moot.http.get(f"/api/v1/rooms/{room['code']}")
    by_upper_code = await moot.http.get(f"/api/v1/rooms/{room['code'].upper()}")
    assert by_id.status_code == by_code.status_code == by_upper_code.status_code == 200
    assert by_id.json()["id"] == by_code.json()["id"] == by_upper_code.json()["id"] == room["id"]


async def test_unknown_rooms_are_404_with_a_code(moot: Moot) -> None:
    for ref in (str(uuid.uuid4()), "abc-defg-hij", "not a room", "x" * 300):
        response = await moot.http.get(f"/api/v1/rooms/{ref}")
        assert response.status_code == 404, ref
        assert response.json()["code"] == "room_not_found"
        assert response.json()["message"]


async def test_a_guest_joins_by_code_and_both_are_listed(moot: Moot) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room(display_name="Host")

    joined = await guest.join(room["code"], "Grace")
    assert joined.status_code == 200
    assert joined.json()["you"]["role"] == "participant"
    assert joined.json()["participant_count"] == 2

    listing = await guest.get(f"/api/v1/rooms/{room['id']}/participants")
    assert listing.status_code == 200
    items = listing.json()["items"]
    assert [(p["display_name"], p["role"]) for p in items] == [
        ("Host", "host"),
        ("Grace", "participant"),
    ]
    assert {p["participant_id"] for p in items} == {host.participant_id, guest.participant_id}


async def test_joining_twice_is_idempotent_and_takes_the_new_name(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    first = await guest.join(room["code"], "Lin")
    second = await guest.join(room["code"], "Lin Wei")
    assert first.status_code == second.status_code == 200
    assert second.json()["participant_count"] == 2
    assert second.json()["you"]["display_name"] == "Lin Wei"
    rows = await db.fetchval(
        "SELECT count(*) FROM room_participants WHERE participant_id = $1",
        uuid.UUID(guest.participant_id),
    )
    assert rows == 1


async def test_display_names_are_trimmed_and_must_not_be_blank(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room()
    guest = await moot.guest()
    blank = await guest.join(room["code"], "   \t ")
    assert blank.status_code == 422
    assert blank.json()["code"] == "validation_failed"
    assert blank.json()["field"] == "display_name"
    too_long = await guest.join(room["code"], "x" * 65)
    assert too_long.status_code == 422
    spaced = await guest.join(room["code"], "  Mary   Ann \u0007 ")
    assert spaced.json()["you"]["display_name"] == "Mary Ann"


async def test_the_eleventh_guest_finds_a_ten_seat_room_full(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room(max_participants=10)
    for n in range(9):
        guest = await moot.guest()
        assert (await guest.join(room["code"], f"G{n}")).status_code == 200
    late = await moot.guest()
    response = await late.join(room["code"], "Late")
    assert response.status_code == 409
    assert response.json()["code"] == "room_full"
    assert response.json()["max_participants"] == 10


async def test_max_participants_is_bounded_by_configuration(moot_factory) -> None:  # type: ignore[no-untyped-def]
    moot = await moot_factory(room_max_participants_limit=25)
    host = await moot.guest()
    too_big = await host.post("/api/v1/rooms", json={"max_participants": 26})
    assert too_big.status_code == 422
    assert too_big.json()["field"] == "max_participants"
    too_small = await host.post("/api/v1/rooms", json={"max_participants": 1})
    assert too_small.status_code == 422
    assert (await host.post("/api/v1/rooms", json={"max_participants": 25})).status_code == 201


async def test_a_locked_room_refuses_newcomers_with_423_but_not_members(moot: Moot) -> None:
    host = await moot.guest()
    member = await moot.guest()
    room = await host.create_room()
    await member.join(room["code"], "Member")
    locked = await host.post(f"/api/v1/rooms/{room['code']}/lock")
    assert locked.status_code == 200
    assert locked.json()["locked"] is True

    newcomer = await moot.guest()
    refused = await newcomer.join(room["code"], "New")
    assert refused.status_code == 423
    assert refused.json()["code"] == "room_locked"
    assert (await member.join(room["code"], "Member")).status_code == 200

    await host.post(f"/api/v1/rooms/{room['code']}/unlock")
    assert (await newcomer.join(room["code"], "New")).status_code == 200


async def test_an_ended_room_is_gone_for_everyone_with_410(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    await guest.join(room["code"], "Guest")
    ended = await host.post(f"/api/v1/rooms/{room['code']}/end")
    assert ended.status_code == 200
    assert ended.json()["status"] == "ended"
    assert ended.json()["participant_count"] == 0

    for response in (
        await (await moot.guest()).join(room["code"], "Late"),
        await guest.join(room["code"], "Guest"),
        await guest.get(f"/api/v1/rooms/{room['code']}/participants"),
        await guest.post(f"/api/v1/rooms/{room['code']}/leave"),
        await host.post(f"/api/v1/rooms/{room['code']}/end"),
    ):
        assert response.status_code == 410
        assert response.json()["code"] == "room_ended"
    still_in = await db.fetchval(
        "SELECT count(*) FROM room_participants WHERE room_id = $1 AND left_at IS NULL",
        uuid.UUID(room["id"]),
    )
    assert still_in == 0
    # The room itself can still be looked up, so a late guest learns it has ended.
    assert (await moot.http.get(f"/api/v1/rooms/{room['code']}")).json()["status"] == "ended"


async def test_only_participants_see_the_participant_list(moot: Moot) -> None:
    host = await moot.guest()
    stranger = await moot.guest()
    room = await host.create_room()
    response = await stranger.get(f"/api/v1/rooms/{room['code']}/participants")
    assert response.status_code == 403
    assert response.json()["code"] == "not_a_participant"
    leave = await stranger.post(f"/api/v1/rooms/{room['code']}/leave")
    assert leave.status_code == 403


async def test_host_actions_are_refused_to_participants_and_strangers(moot: Moot) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    stranger = await moot.guest()
    room = await host.create_room()
    await guest.join(room["code"], "Guest")
    code = room["code"]
    actions = [
        ("post", f"/api/v1/rooms/{code}/end", None),
        ("post", f"/api/v1/rooms/{code}/lock", None),
        ("post", f"/api/v1/rooms/{code}/unlock", None),
        ("post", f"/api/v1/rooms/{code}/host", {"participant_id": guest.participant_id}),
        ("delete", f"/api/v1/rooms/{code}/participants/{host.participant_id}", None),
    ]
    # Who asks is checked before what is asked: a guest removing themselves is not the host.
    as_self = await guest.delete(f"/api/v1/rooms/{code}/participants/{guest.participant_id}")
    assert (as_self.status_code, as_self.json()["code"]) == (403, "not_host")
    for method, path, body in actions:
        kwargs = {"json": body} if body is not None else {}
        as_guest = await getattr(guest, method)(path, **kwargs)
        assert as_guest.status_code == 403, path
        assert as_guest.json()["code"] == "not_host"
        as_stranger = await getattr(stranger, method)(path, **kwargs)
        assert as_stranger.status_code == 403, path
        assert as_stranger.json()["code"] == "not_a_participant"


async def test_when_the_host_leaves_the_earliest_joined_participant_becomes_host(
    moot: Moot,
) -> None:
    host = await moot.guest()
    first = await moot.guest()
    second = await moot.guest()
    room = await host.create_room()
    await first.join(room["code"], "First")
    await second.join(room["code"], "Second")

    left = await host.post(f"/api/v1/rooms/{room['code']}/leave")
    assert left.status_code == 200
    assert left.json()["new_host"]["participant_id"] == first.participant_id

    listing = (await second.get(f"/api/v1/rooms/{room['code']}/participants")).json()["items"]
    roles = {p["participant_id"]: p["role"] for p in listing}
    assert roles == {first.participant_id: "host", second.participant_id: "participant"}
    # The new host can act as one.
    assert (await first.post(f"/api/v1/rooms/{room['code']}/lock")).status_code == 200


async def test_a_returning_host_of_an_empty_room_takes_the_role_again(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room()
    await host.post(f"/api/v1/rooms/{room['code']}/leave")
    back = await host.join(room["code"], "Host")
    assert back.json()["you"]["role"] == "host"


async def test_the_host_removes_a_participant_who_cannot_come_back(moot: Moot) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    await guest.join(room["code"], "Troll")

    removed = await host.delete(f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}")
    assert removed.status_code == 200
    assert removed.json()["display_name"] == "Troll"
    assert (await guest.get(f"/api/v1/rooms/{room['code']}/participants")).status_code == 403
    again = await guest.join(room["code"], "Troll")
    assert again.status_code == 403
    assert again.json()["code"] == "removed_from_room"

    missing = await host.delete(f"/api/v1/rooms/{room['code']}/participants/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "participant_not_found"
    self_removal = await host.delete(
        f"/api/v1/rooms/{room['code']}/participants/{host.participant_id}"
    )
    assert self_removal.status_code == 400


async def test_the_host_hands_the_role_over(moot: Moot) -> None:
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room()
    await guest.join(room["code"], "Next")
    handed = await host.post(
        f"/api/v1/rooms/{room['code']}/host", json={"participant_id": guest.participant_id}
    )
    assert handed.status_code == 200
    assert handed.json()["participant_id"] == guest.participant_id
    assert handed.json()["role"] == "host"
    assert (await host.post(f"/api/v1/rooms/{room['code']}/lock")).json()["code"] == "not_host"
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/lock")).status_code == 200

    to_self = await guest.post(
        f"/api/v1/rooms/{room['code']}/host", json={"participant_id": guest.participant_id}
    )
    assert to_self.status_code == 409
    to_stranger = await guest.post(
        f"/api/v1/rooms/{room['code']}/host", json={"participant_id": str(uuid.uuid4())}
    )
    assert to_stranger.status_code == 404


async def test_bad_bodies_get_json_errors_and_write_nothing(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    cases = [
        (b'{"title": ', 400, "invalid_request"),
        (b"\xff\xfe", 400, "invalid_request"),
        (b'{"title": 5}', 422, "validation_failed"),
        (b'{"max_participants": "ten"}', 422, "validation_failed"),
        (b'{"unknown_field": 1}', 422, "validation_failed"),
        (b"[]", 422, "validation_failed"),
        (('{"title": "' + "t" * 201 + '"}').encode(), 422, "validation_failed"),
    ]
    for raw, status, code in cases:
        response = await host.http.post(
            "/api/v1/rooms",
            content=raw,
            headers={**host.headers, "content-type": "application/json"},
        )
        assert response.status_code == status, (raw, response.text)
        body = response.json()
        assert body["code"] == code
        assert body["message"]
    assert await db.fetchval("SELECT count(*) FROM rooms") == 0
    bad_target = await host.post("/api/v1/rooms/abc-defg-hij/host", json={"participant_id": "nope"})
    assert bad_target.status_code == 422
    assert bad_target.json()["code"] == "validation_failed"


async def test_unknown_routes_and_methods_answer_in_json(moot: Moot) -> None:
    missing = await moot.http.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    wrong = await moot.http.put("/api/v1/identity")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


async def test_client_ip_and_user_agent_are_kept_on_the_participant_row(
    moot_factory,
    db: asyncpg.Connection,  # type: ignore[no-untyped-def]
) -> None:
    moot = await moot_factory(client_ip="198.51.100.23")
    host = await moot.guest()
    room = await host.post("/api/v1/rooms", json={}, headers={"User-Agent": "FakeBrowser/1.0"})
    row = await db.fetchrow(
        "SELECT host(client_ip) AS ip, user_agent FROM room_participants WHERE room_id = $1",
        uuid.UUID(room.json()["id"]),
    )
    assert row is not None
    assert row["ip"] == "198.51.100.23"
    assert row["user_agent"] == "FakeBrowser/1.0"
