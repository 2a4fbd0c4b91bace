"""Space meetings against real PostgreSQL and Redis: rooms that stay (no idle end, no
lifetime), members-only spaces (member yes, guest no, removed member no), sessions with who
came and their transcripts (read, exported, deleted by admins, expired by retention), the
`space:` gateway topic (events arrive, outsiders are refused, a removed member's subscription
ends on every instance), and the authorization matrix of these routes."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from moot.infra.metrics import Metrics
from moot.transcription.schemas import Segment
from moot.transcription.writer import BatchWriter
from tests.conftest import Guest, LiveMoot, Moot
from tests.conftest import TestStores as Stores
from tests.test_chat_ws import next_of
from tests.test_spaces import PASSWORD, Person, code_of, invite, join, new_space

LiveFactory = Callable[..., Awaitable[LiveMoot]]
People = Callable[..., Awaitable[Person]]


def people_of(http: httpx.AsyncClient) -> People:
    async def make(name: str = "Ada") -> Person:
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
        response = await http.post(
            "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": name}
        )
        assert response.status_code == 201, response.text
        http.cookies.clear()  # each person signs in by their bearer token only
        return Person(http, response.json())

    return make


@pytest.fixture
def person(moot: Moot) -> People:
    return people_of(moot.http)


async def team(person: People) -> tuple[dict[str, Any], Person, Person, Person]:
    """A space with its owner, an admin and a member."""
    owner, admin, member = await person("Owner"), await person("Admin"), await person("Member")
    space = await new_space(owner)
    code = await invite(owner, space)
    for someone in (admin, member):
        assert (await join(someone, code)).status_code == 200
    made = await owner.request(
        "PATCH", f"/api/v1/spaces/{space['id']}/members/{admin.id}", json={"role": "admin"}
    )
    assert made.status_code == 200, made.text
    return space, owner, admin, member


async def new_room(admin: Person, space: dict[str, Any], title: str = "Standup") -> dict[str, Any]:
    response = await admin.request(
        "POST", f"/api/v1/spaces/{space['id']}/rooms", json={"title": title}
    )
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    return room


async def enter(who: Person | Guest, room: dict[str, Any], name: str = "Guest") -> httpx.Response:
    """Join a room: an account as itself (no name needed), a guest with a name."""
    path = f"/api/v1/rooms/{room['code']}/join"
    if isinstance(who, Person):
        return await who.request("POST", path, json={})
    return await who.join(room["code"], name)


async def leave(who: Person | Guest, room: dict[str, Any]) -> None:
    path = f"/api/v1/rooms/{room['code']}/leave"
    if isinstance(who, Person):
        response = await who.request("POST", path)
    else:
        response = await who.post(path)
    assert response.status_code == 200, response.text


async def sessions(who: Person, space: dict[str, Any], **params: Any) -> dict[str, Any]:
    response = await who.request("GET", f"/api/v1/spaces/{space['id']}/sessions", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- rooms that stay -----------------------------------------------------------------------


async def test_admins_create_rooms_members_list_them_and_join_as_themselves(
    moot: Moot, person: People
) -> None:
    space, _, admin, member = await team(person)
    room = await new_room(admin, space)
    assert room["space_id"] == space["id"]
    assert (room["status"], room["expires_at"], room["participant_count"]) == ("active", None, 0)
    refused = await member.request(
        "POST", f"/api/v1/spaces/{space['id']}/rooms", json={"title": "Mine"}
    )
    assert code_of(refused) == (403, "insufficient_role")

    joined = await enter(member, room)
    assert joined.status_code == 200, joined.text
    you = joined.json()["you"]
    assert (you["participant_id"], you["display_name"], you["role"]) == (
        member.id,
        "Member",
        "host",  # the first one in hosts the meeting
    )
    guest = await moot.guest()
    assert (await enter(guest, room, "Grace")).status_code == 200  # guests come by link

    listed = (await member.request("GET", f"/api/v1/spaces/{space['id']}/rooms")).json()
    [only] = listed["items"]
    assert (only["id"], only["code"], only["participant_count"]) == (room["id"], room["code"], 2)
    assert [p["display_name"] for p in only["meeting"]["participants"]] == ["Member", "Grace"]
    assert [p["account_id"] for p in only["meeting"]["participants"]] == [member.id, None]


async def test_a_space_room_never_ends_by_itself(
    moot: Moot, person: People, db: asyncpg.Connection
) -> None:
    space, _, admin, _ = await team(person)
    room = await new_room(admin, space)
    guest = await moot.guest()
    anonymous = await guest.create_room()
    for made in (room, anonymous):
        await db.execute(
            """
            UPDATE rooms SET last_activity_at = now() - interval '30 days',
                             created_at = now() - interval '30 days'
            WHERE id = $1
            """,
            uuid.UUID(made["id"]),
        )
    await leave(guest, anonymous)  # empty: the anonymous room may idle out; so may the space's
    await db.execute(
        "UPDATE rooms SET last_activity_at = now() - interval '30 days' WHERE id = $1",
        uuid.UUID(anonymous["id"]),
    )
    report = await moot.app.state.services.rooms.clean_up()
    assert report.ended_room_ids == [uuid.UUID(anonymous["id"])]
    status = "SELECT status, expires_at FROM rooms WHERE id = $1"
    row = await db.fetchrow(status, uuid.UUID(room["id"]))
    assert row is not None and tuple(row) == ("active", None)
    # Weeks later its link still works.
    assert (await enter(guest, room, "Grace")).status_code == 200


async def test_admins_delete_a_room_with_its_history_and_members_cannot(
    moot: Moot, person: People, db: asyncpg.Connection
) -> None:
    space, _, admin, member = await team(person)
    room = await new_room(admin, space)
    assert (await enter(member, room)).status_code == 200
    await leave(member, room)
    path = f"/api/v1/spaces/{space['id']}/rooms/{room['code']}"
    assert code_of(await member.request("DELETE", path)) == (403, "insufficient_role")
    other = await new_space(admin, "Elsewhere")
    elsewhere = f"/api/v1/spaces/{other['id']}/rooms/{room['code']}"
    assert code_of(await admin.request("DELETE", elsewhere)) == (404, "room_not_found")
    assert (await admin.request("DELETE", path)).status_code == 204
    assert await db.fetchval("SELECT count(*) FROM rooms WHERE id = $1", uuid.UUID(room["id"])) == 0
    assert await db.fetchval("SELECT count(*) FROM space_sessions") == 0
    assert code_of(await enter(member, room)) == (404, "room_not_found")


# -- members only --------------------------------------------------------------------------


async def test_a_members_only_space_admits_members_and_keeps_guests_and_the_removed_out(
    moot: Moot, person: People
) -> None:
    space, owner, admin, member = await team(person)
    room = await new_room(admin, space)
    guest, stranger = await moot.guest(), await person("Stranger")
    assert (await enter(guest, room, "Early guest")).status_code == 200
    settings = f"/api/v1/spaces/{space['id']}"
    by_member = await member.request("PATCH", settings, json={"members_only": True})
    assert code_of(by_member) == (403, "insufficient_role")
    changed = await admin.request("PATCH", settings, json={"members_only": True})
    assert changed.status_code == 200, changed.text
    assert changed.json()["members_only"] is True
    # The guest who was in is sent out at once.
    seat = await guest.get(f"/api/v1/rooms/{room['code']}/participants")
    assert code_of(seat) == (403, "not_a_participant")

    assert code_of(await enter(guest, room, "Grace")) == (403, "members_only")
    assert code_of(await enter(stranger, room)) == (403, "members_only")
    # Even the room's page tells a guest no more than that it is members-only.
    assert code_of(await moot.http.get(f"/api/v1/rooms/{room['code']}")) == (403, "members_only")
    as_stranger = await stranger.request("GET", f"/api/v1/rooms/{room['code']}")
    assert code_of(as_stranger) == (403, "members_only")
    as_member = await member.request("GET", f"/api/v1/rooms/{room['code']}")
    assert as_member.status_code == 200 and as_member.json()["id"] == room["id"]

    assert (await enter(member, room)).status_code == 200
    assert (await enter(owner, room)).status_code == 200
    removed = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{member.id}")
    assert removed.status_code == 204
    # Out of the meeting at once, and kept out.
    participants = await owner.request("GET", f"/api/v1/rooms/{room['code']}/participants")
    assert [p["display_name"] for p in participants.json()["items"]] == ["Owner"]
    assert code_of(await enter(member, room)) == (403, "members_only")
    assert code_of(await member.request("GET", f"/api/v1/rooms/{room['code']}")) == (
        403,
        "members_only",
    )

    # Opened again, guests come by link.
    assert (await admin.request("PATCH", settings, json={"members_only": False})).is_success
    assert (await enter(guest, room, "Grace")).status_code == 200


# -- sessions --------------------------------------------------------------------------------


async def test_each_meeting_is_a_session_with_who_came_and_when(moot: Moot, person: People) -> None:
    space, _, admin, member = await team(person)
    room = await new_room(admin, space)
    guest = await moot.guest()

    assert (await enter(member, room)).status_code == 200
    assert (await enter(guest, room, "Grace")).status_code == 200
    [running] = (await sessions(member, space))["items"]
    assert (running["room_code"], running["ended_at"], running["end_reason"]) == (
        room["code"],
        None,
        None,
    )
    await leave(guest, room)
    await leave(member, room)  # the room is empty: the meeting is over
    [first] = (await sessions(member, space))["items"]
    assert first["id"] == running["id"] and first["end_reason"] == "empty"
    assert first["ended_at"] is not None
    came = [(a["display_name"], a["account_id"]) for a in first["attendees"]]
    assert came == [("Member", member.id), ("Grace", None)]
    assert all(a["left_at"] is not None for a in first["attendees"])
    assert first["attendees"][0]["joined_at"] <= first["attendees"][1]["joined_at"]

    # The room stays for the next one; its host ending it sends everyone out.
    assert (await enter(guest, room, "Grace")).status_code == 200
    assert (await enter(admin, room)).status_code == 200
    ended = await guest.post(f"/api/v1/rooms/{room['code']}/end")  # the guest came first: host
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "active"
    assert ended.json()["participant_count"] == 0
    assert code_of(await admin.request("GET", f"/api/v1/rooms/{room['code']}/participants")) == (
        403,
        "not_a_participant",
    )
    listed = await sessions(member, space)
    second = listed["items"][0]
    assert second["end_reason"] == "host"
    assert [a["display_name"] for a in second["attendees"]] == ["Grace", "Admin"]
    assert (await enter(admin, room)).status_code == 200  # and a third begins
    await leave(admin, room)

    page = await sessions(member, space, limit=2)
    assert page["has_more"] is True and len(page["items"]) == 2
    rest = await sessions(member, space, limit=2, before=page["next_before"])
    assert rest["has_more"] is False
    ids = [s["id"] for s in page["items"] + rest["items"]]
    assert ids[1:] == [second["id"], first["id"]] and len(set(ids)) == 3
    one = await member.request("GET", f"/api/v1/spaces/{space['id']}/sessions/{first['id']}")
    assert one.json() == first
    only_room = await sessions(member, space, room=room["code"], limit=100)
    assert len(only_room["items"]) == 3


@asynccontextmanager
async def writer(pool: asyncpg.Pool) -> AsyncIterator[BatchWriter]:
    """Transcription's own batch writer, flushed on exit."""
    batch = BatchWriter(pool, flush_interval=0.05, batch_size=100, metrics=Metrics())
    batch.start()
    try:
        yield batch
    finally:
        await batch.close(timeout=10)


@pytest.fixture
async def pool(stores: Stores) -> AsyncIterator[asyncpg.Pool]:
    created = await asyncpg.create_pool(stores.database_url, min_size=1, max_size=2)
    try:
        yield created
    finally:
        await created.close()


async def offset_of(db: asyncpg.Connection, room: dict[str, Any]) -> float:
    """Seconds from the room's creation to its running session's start."""
    seconds: float = await db.fetchval(
        """
        SELECT extract(epoch FROM s.started_at - r.created_at)::float8
        FROM space_sessions s JOIN rooms r ON r.id = s.room_id
        WHERE s.room_id = $1 AND s.ended_at IS NULL
        """,
        uuid.UUID(room["id"]),
    )
    return seconds


async def say(
    pool: asyncpg.Pool, room: dict[str, Any], speaker: str, lines: list[str], at: float
) -> None:
    async with writer(pool) as batch:
        for n, text in enumerate(lines):
            batch.put(
                Segment(
                    room_id=uuid.UUID(room["id"]),
                    participant_id=uuid.UUID(speaker),
                    utterance_id=f"u-{uuid.uuid4()}",
                    text=text,
                    language="en",
                    started_at=at + 2 * n,
                    ended_at=at + 2 * n + 1.5,
                )
            )


async def test_a_sessions_transcript_is_read_and_exported_by_members_and_deleted_by_admins(
    person: People, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    space, _, admin, member = await team(person)
    room = await new_room(admin, space)
    assert (await enter(member, room)).status_code == 200
    await say(pool, room, member.id, ["good morning", "first item"], await offset_of(db, room) + 3)
    await leave(member, room)
    assert (await enter(admin, room)).status_code == 200
    await say(pool, room, admin.id, ["second meeting"], await offset_of(db, room) + 1)
    second, first = (await sessions(member, space))["items"]
    base = f"/api/v1/spaces/{space['id']}/sessions"

    page = await member.request("GET", f"{base}/{first['id']}/transcript", params={"limit": 1})
    body = page.json()
    assert [s["text"] for s in body["items"]] == ["good morning"] and body["has_more"] is True
    assert body["items"][0]["started_at"] == pytest.approx(3.0, abs=0.01)  # from its start
    rest = await member.request(
        "GET", f"{base}/{first['id']}/transcript", params={"after": body["next_after"]}
    )
    assert [s["text"] for s in rest.json()["items"]] == ["first item"]
    current = (await member.request("GET", f"{base}/{second['id']}/transcript")).json()
    assert [s["text"] for s in current["items"]] == ["second meeting"]

    srt = await member.request("GET", f"{base}/{first['id']}/transcript/export?format=srt")
    assert srt.status_code == 200
    assert "00:00:03,000 --> 00:00:04,500\nMember: good morning" in srt.text
    assert "second meeting" not in srt.text
    assert srt.headers["content-disposition"].endswith('-transcript.srt"')
    vtt = await member.request("GET", f"{base}/{first['id']}/transcript/export?format=vtt")
    assert vtt.headers["content-type"] == "text/vtt; charset=utf-8"

    by_member = await member.request("DELETE", f"{base}/{first['id']}")
    assert code_of(by_member) == (403, "insufficient_role")
    running = await admin.request("DELETE", f"{base}/{second['id']}")
    assert code_of(running) == (409, "session_in_progress")
    assert (await admin.request("DELETE", f"{base}/{first['id']}")).status_code == 204
    assert code_of(await member.request("GET", f"{base}/{first['id']}")) == (
        404,
        "session_not_found",
    )
    texts = await db.fetch("SELECT text FROM transcript_segments ORDER BY id")
    assert [r["text"] for r in texts] == ["second meeting"]
    attendees = "SELECT count(*) FROM space_session_attendees WHERE session_id = $1"
    assert await db.fetchval(attendees, uuid.UUID(first["id"])) == 0
    assert [s["id"] for s in (await sessions(member, space))["items"]] == [second["id"]]


async def test_retention_deletes_older_sessions_and_their_transcripts(
    moot: Moot, person: People, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    space, owner, admin, member = await team(person)
    kept_space = await new_space(owner, "Archive")
    rooms = [await new_room(admin, space), await new_room(owner, kept_space)]
    for room in rooms:
        assert (await enter(owner, room)).status_code == 200
        await say(pool, room, owner.id, ["old words"], await offset_of(db, room))
        await leave(owner, room)
    assert (await enter(member, rooms[0])).status_code == 200  # a recent one, still going
    await say(pool, rooms[0], member.id, ["new words"], await offset_of(db, rooms[0]))
    await db.execute(
        """
        UPDATE space_sessions SET started_at = started_at - interval '40 days',
                                  ended_at = ended_at - interval '40 days'
        WHERE ended_at IS NOT NULL
        """
    )
    await db.execute(
        """
        UPDATE transcript_segments SET created_at = created_at - interval '40 days'
        WHERE text = 'old words'
        """
    )
    bad = await admin.request(
        "PATCH", f"/api/v1/spaces/{space['id']}", json={"session_retention_days": 0}
    )
    assert code_of(bad) == (422, "validation_failed")
    set_ = await admin.request(
        "PATCH", f"/api/v1/spaces/{space['id']}", json={"session_retention_days": 30}
    )
    assert set_.json()["session_retention_days"] == 30
    assert set_.json()["members_only"] is False  # what was not given stays

    report = await moot.app.state.services.rooms.clean_up()
    assert report.meetings_expired == 1
    assert [s["end_reason"] for s in (await sessions(member, space))["items"]] == [None]
    words = await db.fetch(
        "SELECT room_id, text FROM transcript_segments ORDER BY room_id = $1 DESC, text",
        uuid.UUID(rooms[0]["id"]),
    )
    assert [(str(r["room_id"]), r["text"]) for r in words] == [
        (rooms[0]["id"], "new words"),
        (rooms[1]["id"], "old words"),  # the other space keeps them until deleted
    ]
    assert len((await sessions(owner, kept_space))["items"]) == 1
    forever = await admin.request(
        "PATCH", f"/api/v1/spaces/{space['id']}", json={"session_retention_days": None}
    )
    assert forever.json()["session_retention_days"] is None


# -- the space topic -------------------------------------------------------------------------


async def user_events(redis: Redis, who: Person) -> list[dict[str, Any]]:
    """What was published on the account's own topic, `user:{id}` (its log in Redis)."""
    log: Any = await redis.xrange(f"user:{who.id}:log")
    return [json.loads(fields[b"e"]) for _, fields in log]


@asynccontextmanager
async def gateway(live: LiveMoot, who: Person | Guest) -> AsyncIterator[ClientConnection]:
    """A gateway socket: an account's session in its header, a guest's credential as ?token=."""
    if isinstance(who, Person):
        opened = connect(f"{live.ws_url}/ws", additional_headers=who.headers)
    else:
        opened = connect(f"{live.ws_url}/ws?token={who.token}")
    async with opened as ws:
        await next_of(ws, "ready")
        yield ws


async def subscribe(ws: ClientConnection, space: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "subscribe", "topic": f"space:{space['id']}"}))
    answer: dict[str, Any] = json.loads(await ws.recv())
    return answer


async def test_members_hear_the_space_and_a_removed_members_subscription_ends_everywhere(
    live_factory: LiveFactory, redis: Redis
) -> None:
    one, two = await live_factory(), await live_factory()  # two instances, one Redis
    person = people_of(one.http)
    space, owner, admin, member = await team(person)
    stranger = await person("Stranger")
    async with (
        gateway(one, admin) as admins,
        gateway(two, member) as members,
        gateway(two, stranger) as strangers,
        gateway(one, await one.guest()) as anonymous,
    ):
        subscribed = await subscribe(admins, space)
        assert (subscribed["type"], subscribed["topic"], subscribed["role"]) == (
            "subscribed",
            f"space:{space['id']}",
            "admin",
        )
        assert (await subscribe(members, space))["type"] == "subscribed"
        for outsider in (strangers, anonymous):
            refused = await subscribe(outsider, space)
            assert (refused["type"], refused["code"]) == ("error", "not_space_member")

        room = await new_room(admin, space)
        created = await next_of(members, "room.created")
        assert (created["topic"], created["room"]["code"]) == (f"space:{space['id']}", room["code"])
        assert (await enter(member, room)).status_code == 200
        started = await next_of(admins, "meeting.started")
        assert [p["display_name"] for p in started["meeting"]["participants"]] == ["Member"]
        guest = await one.guest()
        assert (await enter(guest, room, "Grace")).status_code == 200
        updated = await next_of(members, "meeting.updated")
        assert [p["display_name"] for p in updated["meeting"]["participants"]] == [
            "Member",
            "Grace",
        ]

        newcomer = await person("Lin")
        code = await invite(admin, space, max_uses=5)
        assert (await join(newcomer, code)).status_code == 200
        joined = await next_of(members, "member.joined")
        assert joined["member"]["account_id"] == newcomer.id
        used = await next_of(members, "invite.used")
        assert (used["code"], used["uses"], used["max_uses"]) == (code, 1, 5)
        promoted = await owner.request(
            "PATCH", f"/api/v1/spaces/{space['id']}/members/{newcomer.id}", json={"role": "admin"}
        )
        assert promoted.status_code == 200
        changed = await next_of(admins, "role.changed")
        assert (changed["member"]["account_id"], changed["member"]["role"]) == (
            newcomer.id,
            "admin",
        )

        # Removed through instance one; the member's socket is on instance two.
        removed = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{member.id}")
        assert removed.status_code == 204
        told = await next_of(members, "member.removed")
        assert (told["participant_id"], told["by"]) == (member.id, admin.id)
        ended = await next_of(members, "unsubscribed")
        assert (ended["topic"], ended["code"]) == (f"space:{space['id']}", 4403)
        seen = await next_of(admins, "member.removed")
        assert seen["participant_id"] == member.id
        # They were in the meeting: sent out of it too.
        left = await next_of(admins, "meeting.updated")
        assert [p["display_name"] for p in left["meeting"]["participants"]] == ["Grace"]
        again = await subscribe(members, space)
        assert (again["type"], again["code"]) == ("error", "not_space_member")
        frame = json.dumps({"type": "hello", "topic": f"space:{space['id']}"})
        await admins.send(frame)
        assert (await next_of(admins, "error"))["code"] == "invalid_frame"

        await leave(guest, room)
        over = await next_of(admins, "meeting.ended")
        assert (over["room_id"], over["reason"]) == (room["id"], "empty")
        deleted = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/rooms/{room['id']}")
        assert deleted.status_code == 204
        assert (await next_of(admins, "room.deleted"))["room_id"] == room["id"]

    # The member's other devices hear of it on their own topic (`user:`), in its log.
    events = await user_events(redis, member)
    assert [e["type"] for e in events] == ["space.joined", "space.left"]
    assert events[-1] == {"type": "space.left", "space_id": space["id"], "reason": "removed"}


async def test_a_meeting_ends_when_its_last_socket_stays_away_past_the_grace_period(
    live_factory: LiveFactory,
) -> None:
    live = await live_factory(presence_grace_seconds=1)
    space, _, admin, member = await team(people_of(live.http))
    room = await new_room(admin, space)
    async with gateway(live, admin) as watcher:
        assert (await subscribe(watcher, space))["type"] == "subscribed"
        assert (await enter(member, room)).status_code == 200
        started = await next_of(watcher, "meeting.started")
        url = f"{live.ws_url}/ws/chat/{room['code']}"
        async with connect(url, additional_headers=member.headers) as tab:
            await next_of(tab, "ready")
        # The tab is gone (no leave); a grace period later the room is empty.
        ended = await next_of(watcher, "meeting.ended")
        assert (ended["session_id"], ended["reason"]) == (started["meeting"]["session_id"], "empty")
    [session] = (await sessions(member, space))["items"]
    assert session["end_reason"] == "empty"
    assert session["attendees"][0]["left_at"] is not None


async def test_deleting_a_space_ends_every_subscription_and_tells_each_member(
    live: LiveMoot, redis: Redis
) -> None:
    person = people_of(live.http)
    space, owner, _, member = await team(person)
    async with gateway(live, member) as ws:
        assert (await subscribe(ws, space))["type"] == "subscribed"
        assert (await owner.request("DELETE", f"/api/v1/spaces/{space['id']}")).status_code == 204
        await next_of(ws, "space.deleted")
        ended = await next_of(ws, "unsubscribed")
        assert ended["code"] == 4404
    last = (await user_events(redis, member))[-1]
    assert last == {"type": "space.left", "space_id": space["id"], "reason": "deleted"}


# -- who may call what -------------------------------------------------------------------------


async def test_authorization_matrix_of_space_meetings(
    moot: Moot, person: People, db: asyncpg.Connection
) -> None:
    space, _, admin, member = await team(person)
    stranger, removed = await person("Stranger"), await person("Removed")
    assert (await join(removed, await invite(admin, space))).status_code == 200
    kicked = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{removed.id}")
    assert kicked.status_code == 204
    room = await new_room(admin, space)
    assert (await enter(member, room)).status_code == 200
    await leave(member, room)
    [session] = (await sessions(member, space))["items"]
    sid, base = session["id"], f"/api/v1/spaces/{space['id']}"

    async def fresh_room() -> str:
        return str((await new_room(admin, space, "Spare"))["code"])

    async def fresh_session() -> str:
        spare = await new_room(admin, space, "Spare")
        assert (await enter(member, spare)).status_code == 200
        await leave(member, spare)
        found = await sessions(member, space, room=spare["code"])
        return str(found["items"][0]["id"])

    # (method, path, body, what an admin's success needs made first)
    actions: list[tuple[str, str, Any, Callable[[], Awaitable[str]] | None]] = [
        ("POST", f"{base}/rooms", {"title": "New"}, None),
        ("GET", f"{base}/rooms", None, None),
        ("DELETE", f"{base}/rooms/{{made}}", None, fresh_room),
        ("GET", f"{base}/sessions", None, None),
        ("GET", f"{base}/sessions/{sid}", None, None),
        ("GET", f"{base}/sessions/{sid}/transcript", None, None),
        ("GET", f"{base}/sessions/{sid}/transcript/export?format=vtt", None, None),
        ("DELETE", f"{base}/sessions/{{made}}", None, fresh_session),
        ("PATCH", base, {"members_only": False, "session_retention_days": None}, None),
    ]
    outsider = [(403, "not_space_member")] * len(actions)
    expected: dict[str, list[tuple[int, str]]] = {
        "signed out": [(401, "not_signed_in")] * len(actions),
        "another account": outsider,
        "removed member": outsider,
        "member": [
            (403, "insufficient_role"),
            (200, ""),
            (403, "insufficient_role"),
            *[(200, "")] * 4,
            (403, "insufficient_role"),
            (403, "insufficient_role"),
        ],
        "admin": [(201, ""), (200, ""), (204, ""), *[(200, "")] * 4, (204, ""), (200, "")],
    }
    callers = {
        "signed out": None,
        "another account": stranger,
        "removed member": removed,
        "member": member,
        "admin": admin,
    }
    wrong = []
    for who, caller in callers.items():
        for (method, path, body, make), want in zip(actions, expected[who], strict=True):
            if make is not None:
                path = path.replace("{made}", await make())
            if caller is None:
                response = await moot.http.request(method, path, json=body)
            else:
                response = await caller.request(method, path, json=body)
            if code_of(response) != want:
                wrong.append(f"{who} {method} {path}: {code_of(response)}, expected {want}")
    assert not wrong, "\n".join(wrong)
    assert await db.fetchval("SELECT count(*) FROM space_sessions WHERE id = $1", uuid.UUID(sid))


async def test_a_removal_from_a_space_room_lasts_for_its_meeting_not_for_ever(
    person: People, moot: Moot
) -> None:
    """The room stays for the next meeting, and so may the person the host sent out of this
    one: refused while anyone who saw the removal is still in, welcome once they have all gone."""
    space, _, admin, member = await team(person)
    room = await new_room(admin, space)
    guest = await moot.guest()
    assert (await enter(member, room)).status_code == 200  # the first in hosts the meeting
    assert (await enter(admin, room)).status_code == 200
    assert (await enter(guest, room, "Mallory")).status_code == 200
    path = f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}"
    removed = await member.request("DELETE", path)
    assert removed.status_code == 200, removed.text
    assert code_of(await enter(guest, room, "Mallory")) == (403, "removed_from_room")
    await leave(member, room)  # the host goes; the admin keeps the meeting going
    assert code_of(await enter(guest, room, "Mallory")) == (403, "removed_from_room")
    await leave(admin, room)  # the room is empty: that meeting is over
    assert (await enter(guest, room, "Mallory")).status_code == 200
