"""Room chat over HTTP: history, cursors, edits and deletes, limits, expiry, membership."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from redis.asyncio import Redis

from tests.conftest import Guest, Moot


async def room_with_guest(moot: Moot) -> tuple[dict, Guest, Guest]:  # type: ignore[type-arg]
    host = await moot.guest()
    guest = await moot.guest()
    room = await host.create_room(display_name="Host")
    assert (await guest.join(room["code"], "Guest")).status_code == 200
    return room, host, guest


def chat_path(room: dict) -> str:  # type: ignore[type-arg]
    return f"/api/v1/rooms/{room['code']}/chat/messages"


async def user_messages(guest: Guest, room: dict, **params: object) -> list[dict]:  # type: ignore[type-arg]
    page = await guest.get(chat_path(room), params=params)
    assert page.status_code == 200, page.text
    return [m for m in page.json()["items"] if m["message_type"] == "user"]


async def test_participants_send_and_read_messages(moot: Moot) -> None:
    room, host, guest = await room_with_guest(moot)
    sent = await guest.post(chat_path(room), json={"content": "  hello there  "})
    assert sent.status_code == 201
    message = sent.json()
    assert message["content"] == "hello there"
    assert message["display_name"] == "Guest"
    assert message["participant_id"] == guest.participant_id
    assert message["message_type"] == "user"
    assert message["room_id"] == room["id"]
    assert message["edited_at"] is None

    history = (await host.get(chat_path(room))).json()
    assert [m["content"] for m in history["items"] if m["message_type"] == "user"] == [
        "hello there"
    ]
    # Joins are announced as system messages in the same history.
    assert "Guest joined" in [m["content"] for m in history["items"]]


async def test_only_current_participants_read_or_write(moot: Moot) -> None:
    room, host, guest = await room_with_guest(moot)
    stranger = await moot.guest()
    for response in (
        await stranger.get(chat_path(room)),
        await stranger.post(chat_path(room), json={"content": "hi"}),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "not_a_participant"
    await guest.post(f"/api/v1/rooms/{room['code']}/leave")
    assert (await guest.post(chat_path(room), json={"content": "still here?"})).status_code == 403
    await host.post(f"/api/v1/rooms/{room['code']}/end")
    ended = await host.get(chat_path(room))
    assert ended.status_code == 410


async def test_content_is_trimmed_non_empty_and_bounded(moot_factory) -> None:  # type: ignore[no-untyped-def]
    moot = await moot_factory(chat_message_max_length=20)
    room, _, guest = await room_with_guest(moot)
    for body in ({"content": "   "}, {"content": "x" * 21}, {"content": 5}, {}, {"text": "hi"}):
        response = await guest.post(chat_path(room), json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_failed"
    assert (await guest.post(chat_path(room), json={"content": "x" * 20})).status_code == 201


async def test_history_pages_with_before_and_after_cursors(moot: Moot) -> None:
    room, host, _ = await room_with_guest(moot)
    for n in range(7):
        assert (await host.post(chat_path(room), json={"content": f"m{n}"})).status_code == 201
    everything = await user_messages(host, room, limit=100)
    assert [m["content"] for m in everything] == [f"m{n}" for n in range(7)]

    latest = (await host.get(chat_path(room), params={"limit": 3})).json()
    assert [m["content"] for m in latest["items"]] == ["m4", "m5", "m6"]
    assert latest["has_more"] is True

    older = (
        await host.get(chat_path(room), params={"limit": 3, "before": latest["items"][0]["id"]})
    ).json()
    assert [m["content"] for m in older["items"]] == ["m1", "m2", "m3"]
    newer = (
        await host.get(chat_path(room), params={"limit": 3, "after": everything[1]["id"]})
    ).json()
    assert [m["content"] for m in newer["items"]] == ["m2", "m3", "m4"]
    assert newer["has_more"] is True
    tail = (await host.get(chat_path(room), params={"after": everything[-1]["id"]})).json()
    assert tail == {"items": [], "has_more": False}

    for params in ({"limit": 0}, {"limit": 101}, {"before": "yesterday"}):
        bad = await host.get(chat_path(room), params=params)
        assert bad.status_code in (400, 404, 422), params
        assert "code" in bad.json()


async def test_two_messages_in_the_same_millisecond_both_survive_in_a_stable_order(
    moot: Moot,
) -> None:
    room, host, guest = await room_with_guest(moot)
    sends = [
        (host if n % 2 else guest).post(chat_path(room), json={"content": f"burst {n}"})
        for n in range(10)
    ]
    responses = await asyncio.gather(*sends)
    assert all(r.status_code == 201 for r in responses)
    ids = [r.json()["id"] for r in responses]
    assert len(set(ids)) == 10
    first = await user_messages(host, room)
    second = await user_messages(guest, room)
    assert len(first) == 10
    assert [m["id"] for m in first] == [m["id"] for m in second] == sorted(ids)


async def test_authors_edit_their_own_messages(moot: Moot) -> None:
    room, host, guest = await room_with_guest(moot)
    message = (await guest.post(chat_path(room), json={"content": "teh typo"})).json()
    edited = await guest.http.put(
        f"{chat_path(room)}/{message['id']}", json={"content": "the typo"}, headers=guest.headers
    )
    assert edited.status_code == 200
    assert edited.json()["content"] == "the typo"
    assert edited.json()["edited_at"] is not None
    assert edited.json()["created_at"] == message["created_at"]

    by_host = await host.http.put(
        f"{chat_path(room)}/{message['id']}", json={"content": "hijack"}, headers=host.headers
    )
    assert by_host.status_code == 403
    assert by_host.json()["code"] == "not_message_author"
    assert [m["content"] for m in await user_messages(host, room)] == ["the typo"]


async def test_authors_delete_their_messages_and_the_host_deletes_any(moot: Moot) -> None:
    room, host, guest = await room_with_guest(moot)
    mine = (await guest.post(chat_path(room), json={"content": "mine"})).json()
    rude = (await guest.post(chat_path(room), json={"content": "rude"})).json()
    hosts = (await host.post(chat_path(room), json={"content": "host's"})).json()

    assert (await guest.delete(f"{chat_path(room)}/{hosts['id']}")).status_code == 403
    assert (await guest.delete(f"{chat_path(room)}/{mine['id']}")).status_code == 200
    assert (await host.delete(f"{chat_path(room)}/{rude['id']}")).status_code == 200
    assert [m["content"] for m in await user_messages(host, room)] == ["host's"]

    again = await guest.delete(f"{chat_path(room)}/{mine['id']}")
    assert again.status_code == 404
    assert again.json()["code"] == "message_not_found"
    for bogus in ("nope", "1234567890123-zzzzzzzz", str(uuid.uuid4())):
        assert (await guest.delete(f"{chat_path(room)}/{bogus}")).status_code == 404


async def test_a_concurrent_edit_and_delete_leave_no_second_version_or_ghost(
    moot: Moot, redis: Redis
) -> None:
    room, host, guest = await room_with_guest(moot)
    for attempt in range(15):
        message = (await guest.post(chat_path(room), json={"content": f"v0 {attempt}"})).json()
        edit = guest.http.put(
            f"{chat_path(room)}/{message['id']}",
            json={"content": f"v1 {attempt}"},
            headers=guest.headers,
        )
        remove = host.delete(f"{chat_path(room)}/{message['id']}")
        edited, deleted = await asyncio.gather(edit, remove)
        assert deleted.status_code == 200
        assert edited.status_code in (200, 404)
        matching = [
            m for m in await user_messages(host, room, limit=100) if m["id"] == message["id"]
        ]
        assert matching == []
        # The sorted set holds no stale copy either.
        members = await redis.zrange(f"chat:room:{room['id']}:messages", 0, -1)
        assert not [m for m in members if message["id"].encode() in m]


async def test_concurrent_edits_keep_exactly_one_version(moot: Moot, redis: Redis) -> None:
    room, _, guest = await room_with_guest(moot)
    message = (await guest.post(chat_path(room), json={"content": "v0"})).json()
    results = await asyncio.gather(
        *(
            guest.http.put(
                f"{chat_path(room)}/{message['id']}",
                json={"content": f"v{n}"},
                headers=guest.headers,
            )
            for n in range(1, 11)
        )
    )
    assert {r.status_code for r in results} == {200}
    members = await redis.zrange(f"chat:room:{room['id']}:messages", 0, -1)
    copies = [m for m in members if message["id"].encode() in m]
    assert len(copies) == 1
    final = [m for m in await user_messages(guest, room) if m["id"] == message["id"]]
    assert len(final) == 1 and final[0]["content"] in {f"v{n}" for n in range(1, 11)}


async def test_sending_too_fast_is_limited_with_429(moot_factory) -> None:  # type: ignore[no-untyped-def]
    moot = await moot_factory(rate_limit_chat_message="3/second;5/minute")
    room, host, guest = await room_with_guest(moot)
    codes = [
        (await guest.post(chat_path(room), json={"content": f"spam {n}"})).status_code
        for n in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    limited = await guest.post(chat_path(room), json={"content": "more"})
    assert limited.json()["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    # The limit is per participant.
    assert (await host.post(chat_path(room), json={"content": "fine"})).status_code == 201


async def test_nothing_of_a_rooms_chat_is_left_after_the_ttl(
    moot_factory,
    redis: Redis,  # type: ignore[no-untyped-def]
) -> None:
    moot = await moot_factory(chat_ttl_seconds=1)
    room, host, _ = await room_with_guest(moot)
    await host.post(chat_path(room), json={"content": "ephemeral"})
    chat_keys = [f"chat:room:{room['id']}:*", f"room:{room['id']}:*"]

    async def leftovers() -> list[bytes | str]:
        return [key for pattern in chat_keys for key in await redis.keys(pattern)]

    assert len(await leftovers()) >= 3
    await asyncio.sleep(2.2)
    assert await leftovers() == []
    assert (await host.get(chat_path(room))).json() == {"items": [], "has_more": False}


@pytest.mark.parametrize("ttl", [3])
async def test_activity_refreshes_the_ttl(moot_factory, redis: Redis, ttl: int) -> None:  # type: ignore[no-untyped-def]
    moot = await moot_factory(chat_ttl_seconds=ttl)
    room, host, _ = await room_with_guest(moot)
    await host.post(chat_path(room), json={"content": "one"})
    await asyncio.sleep(2)
    await host.post(chat_path(room), json={"content": "two"})
    await asyncio.sleep(2)  # past the first message's original expiry
    assert [m["content"] for m in await user_messages(host, room)] == ["one", "two"]
    assert 0 < await redis.ttl(f"chat:room:{room['id']}:messages") <= ttl
