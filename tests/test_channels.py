"""Channels and their durable messages against real PostgreSQL and Redis: channel management,
private channels, slow mode, messages with replies, reactions, pins and mentions, history
cursors, read state across two devices, search in Russian and English, the `channel:` topic
on the gateway, and the authorization matrix of every channel route."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect

from moot.realtime.topics import stream_key
from tests.conftest import LiveMoot
from tests.test_chat_ws import frames_until, next_of
from tests.test_spaces import PASSWORD, Accounts, Person, code_of, invite, join, team

FAST = {"rate_limit_channel_message": "1000/second", "channel_access_check_seconds": 3600}


@pytest.fixture
async def live(live_factory: Callable[..., Awaitable[LiveMoot]]) -> LiveMoot:
    return await live_factory(**FAST)


@pytest.fixture
def person(live: LiveMoot) -> Accounts:
    async def make(name: str = "Ada") -> Person:
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
        response = await live.http.post(
            "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": name}
        )
        assert response.status_code == 201, response.text
        live.http.cookies.clear()
        return Person(live.http, response.json())

    return make


async def second_device(live: LiveMoot, someone: Person, email: str) -> Person:
    """The same account signed in again: another session, as a phone beside a laptop."""
    response = await live.http.post("/api/v1/sessions", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    live.http.cookies.clear()
    device = Person(live.http, response.json())
    assert device.id == someone.id
    return device


async def channel(
    admin: Person, space: dict[str, Any], name: str = "general", **body: Any
) -> dict[str, Any]:
    response = await admin.request(
        "POST", f"/api/v1/spaces/{space['id']}/channels", json={"name": name, **body}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def send(someone: Person, chan: dict[str, Any], content: str, **body: Any) -> dict[str, Any]:
    response = await someone.request(
        "POST", f"/api/v1/channels/{chan['id']}/messages", json={"content": content, **body}
    )
    assert response.status_code == 201, response.text
    sent: dict[str, Any] = response.json()
    return sent


async def listing(someone: Person, space: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = await someone.request("GET", f"/api/v1/spaces/{space['id']}/channels")
    assert response.status_code == 200, response.text
    return {c["name"]: c for c in response.json()["items"]}


@asynccontextmanager
async def gateway(live: LiveMoot, someone: Person) -> AsyncIterator[ClientConnection]:
    async with connect(f"{live.ws_url}/ws", additional_headers=someone.headers) as ws:
        await next_of(ws, "ready")
        yield ws


async def subscribe(ws: ClientConnection, chan: dict[str, Any]) -> dict[str, Any]:
    topic = f"channel:{chan['id']}"
    await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
    frames = await frames_until_any(ws, {"subscribed", "error"})
    return frames[-1]


async def frames_until_any(
    ws: ClientConnection, kinds: set[str], timeout: float = 5
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if frame["type"] in kinds:
                return seen


async def logged(redis: Redis, topic: str) -> list[dict[str, Any]]:
    """The events published on a topic, from its log in Redis (the `space:` and `user:`
    topics' subscription side is not this domain's)."""
    rows: Any = await redis.xrange(stream_key(topic))
    return [json.loads(fields[b"e"]) for _, fields in rows]


async def user_events(redis: Redis, account_id: str) -> list[dict[str, Any]]:
    """The channel events on an account's own topic (what spaces and sessions publish there,
    `space.joined` and the like, are not this domain's)."""
    events = await logged(redis, f"user:{account_id}")
    return [event for event in events if event["type"].startswith(("channel.", "read."))]


async def space_events(redis: Redis, space: dict[str, Any]) -> list[dict[str, Any]]:
    """The channel events on the space's topic (members' and meetings' events share it)."""
    events = await logged(redis, f"space:{space['id']}")
    return [event for event in events if event["type"].startswith("channel.")]


# -- channels ------------------------------------------------------------------------------


async def test_admins_create_rename_set_topic_reorder_and_delete_channels(
    person: Accounts, redis: Redis
) -> None:
    space, owner, admin, member = await team(person)
    general = await channel(admin, space, "general")
    voice = await channel(admin, space, "Lounge", kind="voice")
    random = await channel(owner, space, "random", topic="anything goes")
    assert (general["kind"], voice["kind"], random["topic"]) == ("text", "voice", "anything goes")
    assert [general["position"], voice["position"], random["position"]] == [0, 1, 2]

    seen = await listing(member, space)
    assert list(seen) == ["general", "Lounge", "random"]
    assert seen["general"]["read"] == {
        "last_read_id": 0,
        "last_message_id": 0,
        "unread_count": 0,
        "mention_count": 0,
    }
    assert "read" not in seen["Lounge"]  # a voice channel has no messages

    refused = await member.request(
        "POST", f"/api/v1/spaces/{space['id']}/channels", json={"name": "mine"}
    )
    assert code_of(refused) == (403, "insufficient_role")
    changed = await admin.request(
        "PATCH",
        f"/api/v1/channels/{random['id']}",
        json={"name": "off-topic", "topic": "cats", "position": 0},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["topic"]) == ("off-topic", "cats")
    assert list(await listing(member, space)) == ["general", "off-topic", "Lounge"]
    blank = await admin.request("PATCH", f"/api/v1/channels/{random['id']}", json={"name": " "})
    assert code_of(blank) == (422, "validation_failed")
    voice_message = await member.request(
        "POST", f"/api/v1/channels/{voice['id']}/messages", json={"content": "hi"}
    )
    assert code_of(voice_message) == (409, "not_a_text_channel")

    deleted = await admin.request("DELETE", f"/api/v1/channels/{general['id']}")
    assert deleted.status_code == 204
    assert list(await listing(member, space)) == ["off-topic", "Lounge"]
    gone = await member.request("GET", f"/api/v1/channels/{general['id']}/messages")
    assert code_of(gone) == (404, "channel_not_found")

    # Every change of a public channel went to the space's topic.
    events = [
        (e["type"], e.get("channel", {}).get("name")) for e in await space_events(redis, space)
    ]
    assert events == [
        ("channel.created", "general"),
        ("channel.created", "Lounge"),
        ("channel.created", "random"),
        ("channel.updated", "off-topic"),
        ("channel.deleted", None),
    ]


async def test_authorization_matrix(person: Accounts, live: LiveMoot) -> None:
    space, owner, admin, member = await team(person)
    stranger, removed = await person("Stranger"), await person("Removed")
    assert (await join(removed, await invite(owner, space))).status_code == 200
    chan = await channel(admin, space)
    mine = await send(member, chan, "a message of the member's")
    gone = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{removed.id}")
    assert gone.status_code == 204
    sid, cid, mid = space["id"], chan["id"], mine["id"]
    C = f"/api/v1/channels/{cid}"

    def actions() -> list[tuple[str, str, Any]]:
        return [
            ("GET", f"/api/v1/spaces/{sid}/channels", None),
            ("GET", f"/api/v1/spaces/{sid}/search?q=message", None),
            ("GET", f"{C}/messages", None),
            ("GET", f"{C}/pins", None),
            ("PUT", f"{C}/read", {"message_id": mid}),
            ("PUT", f"{C}/messages/{mid}/reactions/👍", None),
            ("DELETE", f"{C}/messages/{mid}/reactions/👍", None),
            ("PUT", f"{C}/messages/{mid}/pin", None),
            ("DELETE", f"{C}/messages/{mid}/pin", None),
            ("POST", f"{C}/messages", {"content": "hello"}),
            ("PATCH", f"{C}/messages/{mid}", {"content": "edited"}),
            ("POST", f"/api/v1/spaces/{sid}/channels", {"name": "new"}),
            ("PATCH", C, {"topic": "new topic"}),
        ]

    ok = [(200, "")] * 9 + [(201, "")]
    outsider = [(403, "not_space_member")] * 13
    expected: dict[str, list[tuple[int, str]]] = {
        "signed out": [(401, "not_signed_in")] * 13,
        "another account": outsider,
        "removed member": outsider,
        "member": [*ok, (200, ""), (403, "insufficient_role"), (403, "insufficient_role")],
        # The message is the member's own: nobody else edits it, admins included.
        "admin": [*ok, (403, "not_message_author"), (201, ""), (200, "")],
    }
    callers: dict[str, Person | None] = {
        "signed out": None,
        "another account": stranger,
        "removed member": removed,
        "member": member,
        "admin": admin,
    }
    for who, caller in callers.items():
        for (method, path, body), want in zip(actions(), expected[who], strict=True):
            if caller is None:
                response = await live.http.request(method, path, json=body)
            else:
                response = await caller.request(method, path, json=body)
            assert code_of(response) == want, (who, method, path, response.text)

    # Deleting: a member deletes their own message, not another's; an admin deletes any
    # message, and the channel; a member never the channel.
    admins = await send(admin, chan, "the admin's")
    assert code_of(await member.request("DELETE", f"{C}/messages/{admins['id']}")) == (
        403,
        "not_message_author",
    )
    assert code_of(await member.request("DELETE", C)) == (403, "insufficient_role")
    for caller in (stranger, removed):
        assert code_of(await caller.request("DELETE", f"{C}/messages/{mid}")) == (
            403,
            "not_space_member",
        )
        assert code_of(await caller.request("DELETE", C)) == (403, "not_space_member")
    assert (await admin.request("DELETE", f"{C}/messages/{mid}")).status_code == 204
    assert (await member.request("DELETE", f"{C}/messages/{admins['id']}")).status_code == 403
    assert (await owner.request("DELETE", C)).status_code == 204
    unknown = f"/api/v1/channels/{uuid.uuid4()}/messages"
    assert code_of(await member.request("GET", unknown)) == (404, "channel_not_found")


async def test_private_channels_are_seen_by_their_members_and_roles_only(
    person: Accounts, live: LiveMoot, redis: Redis
) -> None:
    space, owner, admin, member = await team(person)
    other = await person("Other")
    assert (await join(other, await invite(owner, space))).status_code == 200
    secret = await channel(admin, space, "secret", private=True, member_ids=[member.id])
    assert sorted(secret["member_ids"]) == sorted([admin.id, member.id])  # the creator too
    admins_only = await channel(owner, space, "staff", private=True, roles=["admin"])
    said = await send(member, secret, "the launch date is a secret")

    assert set(await listing(member, space)) == {"secret"}
    assert set(await listing(other, space)) == set()
    assert set(await listing(admin, space)) == {"secret", "staff"}
    assert set(await listing(owner, space)) == {"secret", "staff"}  # the owner sees all
    for path in (
        f"/api/v1/channels/{secret['id']}/messages",
        f"/api/v1/channels/{secret['id']}/pins",
        f"/api/v1/channels/{admins_only['id']}/messages",
    ):
        assert code_of(await other.request("GET", path)) == (404, "channel_not_found")
    posted = await other.request(
        "POST", f"/api/v1/channels/{secret['id']}/messages", json={"content": "let me in"}
    )
    assert code_of(posted) == (404, "channel_not_found")
    react = await other.request(
        "PUT", f"/api/v1/channels/{secret['id']}/messages/{said['id']}/reactions/x"
    )
    assert code_of(react) == (404, "channel_not_found")
    for someone, hits in ((other, 0), (member, 1), (owner, 1)):
        found = await someone.request("GET", f"/api/v1/spaces/{space['id']}/search?q=launch")
        assert len(found.json()["items"]) == hits, someone.id
    # Nobody outside heard its name: its events went to its viewers' own topics only.
    assert all(e["channel"]["name"] != "secret" for e in await space_events(redis, space))
    assert [e["type"] for e in await user_events(redis, member.id)][:1] == ["channel.created"]
    assert await user_events(redis, other.id) == []

    async with gateway(live, other) as outsider_ws, gateway(live, member) as member_ws:
        refused = await subscribe(outsider_ws, secret)
        assert (refused["type"], refused["code"]) == ("error", "channel_not_found")
        subscribed = await subscribe(member_ws, secret)
        assert subscribed["type"] == "subscribed"
        assert subscribed["channel"]["name"] == "secret"

        # The member is taken off the list: their subscription ends at once.
        changed = await admin.request(
            "PATCH",
            f"/api/v1/channels/{secret['id']}",
            json={"member_ids": [admin.id, other.id]},
        )
        assert changed.status_code == 200, changed.text
        ended = await next_of(member_ws, "unsubscribed")
        assert (ended["topic"], ended["code"]) == (f"channel:{secret['id']}", 4403)
        assert code_of(await member.request("GET", f"/api/v1/channels/{secret['id']}/pins")) == (
            404,
            "channel_not_found",
        )
        assert (await subscribe(outsider_ws, secret))["type"] == "subscribed"
    assert [e["type"] for e in await user_events(redis, member.id)][-1] == "channel.deleted"
    assert [e["type"] for e in await user_events(redis, other.id)] == ["channel.created"]

    # Made public, everyone sees it.
    public = await admin.request(
        "PATCH", f"/api/v1/channels/{secret['id']}", json={"private": False}
    )
    assert public.json()["member_ids"] == []
    assert "secret" in await listing(member, space)


async def test_slow_mode_spaces_out_a_members_messages_but_not_an_admins(
    person: Accounts,
) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space, slow_mode_seconds=30)
    # A message refused for what it is costs no wait.
    for body in ({"content": " "}, {"content": "x", "reply_to": 2**62}):
        refused = await member.request("POST", f"/api/v1/channels/{chan['id']}/messages", json=body)
        assert refused.status_code in (404, 422), refused.text
    await send(member, chan, "first")
    second = await member.request(
        "POST", f"/api/v1/channels/{chan['id']}/messages", json={"content": "second"}
    )
    assert code_of(second) == (429, "rate_limited")
    assert second.json()["limit"] == "slow_mode"
    assert 1 <= second.json()["retry_after"] <= 30
    # The refused one was not written.
    await send(admin, chan, "admins are exempt")
    await send(admin, chan, "admins are exempt, twice")
    off = await admin.request(
        "PATCH", f"/api/v1/channels/{chan['id']}", json={"slow_mode_seconds": 0}
    )
    assert off.json()["slow_mode_seconds"] == 0
    await send(member, chan, "free again")
    page = (await member.request("GET", f"/api/v1/channels/{chan['id']}/messages")).json()
    assert [m["content"] for m in page["items"]] == [
        "first",
        "admins are exempt",
        "admins are exempt, twice",
        "free again",
    ]


# -- messages ------------------------------------------------------------------------------


async def test_edit_delete_reply_react_and_pin(person: Accounts, live: LiveMoot) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    C = f"/api/v1/channels/{chan['id']}"
    async with gateway(live, admin) as ws:
        assert (await subscribe(ws, chan))["type"] == "subscribed"
        first = await send(member, chan, "  Does anyone have the agenda?  ")
        assert (first["content"], first["author_id"], first["edited_at"]) == (
            "Does anyone have the agenda?",
            member.id,
            None,
        )
        created = await next_of(ws, "message.created")
        assert (created["topic"], created["message"]["id"]) == (
            f"channel:{chan['id']}",
            first["id"],
        )
        assert created["cursor"]

        reply = await send(admin, chan, "Here it is", reply_to=first["id"])
        assert reply["reply_to"] == {
            "id": first["id"],
            "author_id": member.id,
            "content": "Does anyone have the agenda?",
            "deleted": False,
        }
        await next_of(ws, "message.created")

        edited = await member.request(
            "PATCH", f"{C}/messages/{first['id']}", json={"content": "Who has the agenda?"}
        )
        assert edited.json()["edited_at"] is not None
        assert (await next_of(ws, "message.edited"))["message"]["content"] == "Who has the agenda?"

        for someone in (member, admin, admin):  # twice from one account counts once
            reacted = await someone.request("PUT", f"{C}/messages/{reply['id']}/reactions/👍")
            assert reacted.status_code == 200, reacted.text
        assert reacted.json() == {"message_id": reply["id"], "emoji": "👍", "count": 2, "me": True}
        updates = [await next_of(ws, "reaction.updated") for _ in range(2)]
        assert [u["count"] for u in updates] == [1, 2]
        taken = await member.request("DELETE", f"{C}/messages/{reply['id']}/reactions/👍")
        assert (taken.json()["count"], taken.json()["me"]) == (1, False)
        assert (await next_of(ws, "reaction.updated"))["added"] is False
        bad = await member.request("PUT", f"{C}/messages/{reply['id']}/reactions/a%20b")
        assert code_of(bad) == (422, "validation_failed")

        pinned = await member.request("PUT", f"{C}/messages/{reply['id']}/pin")
        assert pinned.json()["pinned"] is True and pinned.json()["pinned_by"] == member.id
        assert (await next_of(ws, "pin.updated"))["pinned"] is True
        pins = (await admin.request("GET", f"{C}/pins")).json()["items"]
        assert [p["id"] for p in pins] == [reply["id"]]

        deleted = await member.request("DELETE", f"{C}/messages/{first['id']}")
        assert deleted.status_code == 204
        gone = await next_of(ws, "message.deleted")
        assert (gone["message_id"], gone["deleted_by"]) == (first["id"], member.id)
        again = await member.request("DELETE", f"{C}/messages/{first['id']}")
        assert code_of(again) == (404, "message_not_found")
        edit_gone = await member.request(
            "PATCH", f"{C}/messages/{first['id']}", json={"content": "back"}
        )
        assert code_of(edit_gone) == (404, "message_not_found")

    page = (await member.request("GET", f"{C}/messages")).json()["items"]
    tombstone, answer = page
    assert (tombstone["deleted"], tombstone["content"]) == (True, "")
    # The reply still makes sense: it points at the tombstone.
    assert answer["reply_to"] == {
        "id": first["id"],
        "author_id": member.id,
        "content": "",
        "deleted": True,
    }
    assert answer["reactions"] == [{"emoji": "👍", "count": 1, "me": False}]
    mine = (await admin.request("GET", f"{C}/messages")).json()["items"][1]
    assert mine["reactions"] == [{"emoji": "👍", "count": 1, "me": True}]

    for body in (
        {"content": ""},
        {"content": "x" * 4001},
        {"content": "a\u0000b"},
        {"content": "x", "reply_to": 0},
        {"content": "x", "attachment_ids": ["a"]},
    ):
        refused = await member.request("POST", f"{C}/messages", json=body)
        assert code_of(refused) == (422, "validation_failed"), body
    elsewhere = await member.request(
        "POST", f"{C}/messages", json={"content": "x", "reply_to": 2**62}
    )
    assert code_of(elsewhere) == (404, "message_not_found")
    huge = await member.request("PUT", f"{C}/messages/{2**70}/pin")
    assert code_of(huge) == (404, "message_not_found")
    not_there = await member.request("PUT", f"{C}/messages/{2**62}/pin")
    assert code_of(not_there) == (404, "message_not_found")


async def test_history_pages_by_cursor_50_by_default_100_at_most(person: Accounts) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    ids = [(await send(member, chan, f"message {i}"))["id"] for i in range(120)]
    assert ids == sorted(ids)
    C = f"/api/v1/channels/{chan['id']}/messages"

    latest = (await member.request("GET", C)).json()
    assert [m["id"] for m in latest["items"]] == ids[-50:] and latest["has_more"] is True
    most = (await member.request("GET", f"{C}?limit=100")).json()
    assert [m["id"] for m in most["items"]] == ids[-100:]
    over = await member.request("GET", f"{C}?limit=101")
    assert code_of(over) == (422, "validation_failed")
    older = (await member.request("GET", f"{C}?before={ids[20]}&limit=30")).json()
    assert [m["id"] for m in older["items"]] == ids[:20] and older["has_more"] is False
    newer = (await member.request("GET", f"{C}?after={ids[100]}")).json()
    assert [m["id"] for m in newer["items"]] == ids[101:] and newer["has_more"] is False
    middle = (await member.request("GET", f"{C}?after={ids[9]}&limit=10")).json()
    assert [m["id"] for m in middle["items"]] == ids[10:20] and middle["has_more"] is True
    both = await member.request("GET", f"{C}?after=1&before=5")
    assert code_of(both) == (422, "validation_failed")


# -- mentions and read state ---------------------------------------------------------------


async def test_unread_and_mention_counts_hold_across_two_devices(
    person: Accounts, live: LiveMoot, redis: Redis
) -> None:
    space, owner, admin, _ = await team(person)
    email = f"grace-{uuid.uuid4().hex[:8]}@example.org"
    registered = await live.http.post(
        "/api/v1/accounts",
        json={"email": email, "password": PASSWORD, "display_name": "Grace Hopper"},
    )
    live.http.cookies.clear()
    laptop = Person(live.http, registered.json())
    phone = await second_device(live, laptop, email)
    assert (await join(laptop, await invite(owner, space))).status_code == 200
    chan = await channel(admin, space)

    morning = await send(admin, chan, "good morning")
    await send(admin, chan, "@grace hopper could you look at this?")
    await send(owner, chan, "@Grace Hopper, and @everyone: the release is out")  # counts once
    await send(laptop, chan, "my own messages are never unread for me")
    # The laptop sent last: sending reads everything up to it.
    assert (await listing(phone, space))["general"]["read"]["unread_count"] == 0
    last = await send(admin, chan, "one more, @everyone")
    await send(admin, chan, "and the last one")

    for device in (laptop, phone):
        read = (await listing(device, space))["general"]["read"]
        assert (read["unread_count"], read["mention_count"]) == (2, 1), read

    # The phone reads up to `last`: both devices see it, and read.updated says so.
    marked = await phone.request(
        "PUT", f"/api/v1/channels/{chan['id']}/read", json={"message_id": last["id"]}
    )
    assert marked.status_code == 200, marked.text
    assert marked.json() == {
        "channel_id": chan["id"],
        "last_read_id": last["id"],
        "unread_count": 1,
        "mention_count": 0,
    }
    assert (await listing(laptop, space))["general"]["read"]["unread_count"] == 1
    # A device that lags behind reports an older message: the marker does not go back.
    stale = await laptop.request(
        "PUT", f"/api/v1/channels/{chan['id']}/read", json={"message_id": morning["id"]}
    )
    assert stale.json()["last_read_id"] == last["id"]
    assert (await listing(laptop, space))["general"]["read"]["last_read_id"] == last["id"]
    events = [e for e in await user_events(redis, laptop.id) if e["type"] == "read.updated"]
    assert events[-1]["last_read_id"] == last["id"]
    # Mentions raised the count as they happened, for every device of the account.
    mentioned = [e["mention_count"] for e in events]
    assert mentioned[:2] == [1, 2]

    foreign = await laptop.request(
        "PUT", f"/api/v1/channels/{chan['id']}/read", json={"message_id": 2**62}
    )
    assert code_of(foreign) == (404, "message_not_found")


async def test_admins_may_mention_everyone(person: Accounts) -> None:
    space, owner, admin, member = await team(person)
    chan = await channel(admin, space)
    by_member = await send(member, chan, "@everyone look")
    by_admin = await send(admin, chan, "@everyone look")
    assert (by_member["mentions_everyone"], by_admin["mentions_everyone"]) == (False, True)
    named = await send(member, chan, "thanks @Admin and @owner!")
    assert sorted(named["mentions"]) == sorted([admin.id, owner.id])
    read = (await listing(owner, space))["general"]["read"]
    assert (read["unread_count"], read["mention_count"]) == (3, 2)


# -- search --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("книги", ["Я читаю интересную книгу о кошках"]),  # книгу / книги: one stem
        ("интересные", ["Я читаю интересную книгу о кошках"]),
        ("meetings", ["The meeting about running costs was long"]),
        ("собака", []),
        ("run", ["The meeting about running costs was long"]),
        ("совещаниях", ["Совещание перенесли на пятницу"]),
    ],
)
async def test_search_finds_russian_and_english_words_in_their_forms(
    person: Accounts, query: str, expected: list[str]
) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    other = await channel(admin, space, "other")
    await send(member, chan, "Я читаю интересную книгу о кошках")
    await send(member, other, "The meeting about running costs was long")
    await send(member, chan, "Совещание перенесли на пятницу")
    gone = await send(member, chan, "удалённое совещание")
    await member.request("DELETE", f"/api/v1/channels/{chan['id']}/messages/{gone['id']}")

    response = await member.request(
        "GET", f"/api/v1/spaces/{space['id']}/search", params={"q": query}
    )
    assert response.status_code == 200, response.text
    hits = response.json()["items"]
    assert [h["message"]["content"] for h in hits] == expected
    for hit in hits:
        assert hit["channel"]["name"] in ("general", "other")
        assert hit["channel"]["id"] == hit["message"]["channel_id"]


async def test_search_needs_words(person: Accounts) -> None:
    space, _, _, member = await team(person)
    for params in ({"q": "   "}, {}, {"q": "a\u0000b"}, {"q": "x" * 201}):
        response = await member.request(
            "GET", f"/api/v1/spaces/{space['id']}/search", params=params
        )
        assert code_of(response) == (422, "validation_failed"), response.text


# -- the gateway ---------------------------------------------------------------------------


async def test_typing_and_channel_changes_reach_subscribers_and_deletion_ends_them(
    person: Accounts, live: LiveMoot
) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    async with gateway(live, admin) as admin_ws, gateway(live, member) as member_ws:
        for ws in (admin_ws, member_ws):
            assert (await subscribe(ws, chan))["type"] == "subscribed"
        await member_ws.send(json.dumps({"type": "typing", "topic": f"channel:{chan['id']}"}))
        typing = await next_of(admin_ws, "typing")
        assert (typing["account_id"], typing["channel_id"]) == (member.id, chan["id"])
        assert "cursor" not in typing  # ephemeral

        await member_ws.send(
            json.dumps({"type": "message.send", "topic": f"channel:{chan['id']}", "content": "x"})
        )
        refused = await next_of(member_ws, "error")
        assert refused["code"] == "invalid_frame"

        await admin.request("PATCH", f"/api/v1/channels/{chan['id']}", json={"topic": "news"})
        assert (await next_of(member_ws, "channel.updated"))["channel"]["topic"] == "news"

        await admin.request("DELETE", f"/api/v1/channels/{chan['id']}")
        frames = await frames_until(member_ws, "unsubscribed")
        assert [f["type"] for f in frames[-2:]] == ["channel.deleted", "unsubscribed"]
        assert frames[-1]["code"] == 4410
        gone = await subscribe(member_ws, chan)
        assert (gone["type"], gone["code"]) == ("error", "channel_not_found")


async def test_a_member_removed_from_the_space_loses_the_channel_topic(
    person: Accounts, live: LiveMoot
) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    async with gateway(live, member) as ws:
        assert (await subscribe(ws, chan))["type"] == "subscribed"
        removed = await admin.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{member.id}")
        assert removed.status_code == 204
        # At once: the space tells channels of the removal (the periodic check, an hour here,
        # is only the fallback for a lost event).
        ended = await next_of(ws, "unsubscribed")
        assert (ended["topic"], ended["code"]) == (f"channel:{chan['id']}", 4403)
        await send(admin, chan, "after the removal")
        again = await subscribe(ws, chan)
        assert (again["type"], again["code"]) == ("error", "not_space_member")


async def test_a_role_change_that_hides_a_private_channel_ends_its_subscription_at_once(
    person: Accounts, live: LiveMoot
) -> None:
    space, owner, admin, _ = await team(person)
    chan = await channel(owner, space, "admins", private=True, roles=["admin"])
    async with gateway(live, admin) as ws:
        assert (await subscribe(ws, chan))["type"] == "subscribed"
        demoted = await owner.request(
            "PATCH", f"/api/v1/spaces/{space['id']}/members/{admin.id}", json={"role": "member"}
        )
        assert demoted.status_code == 200, demoted.text
        ended = await next_of(ws, "unsubscribed")
        assert (ended["topic"], ended["code"]) == (f"channel:{chan['id']}", 4403)


async def test_a_membership_lost_without_its_event_is_found_by_the_periodic_check(
    person: Accounts, live_factory: Callable[..., Awaitable[LiveMoot]], db: asyncpg.Connection
) -> None:
    """The row goes behind moot's back (as if the event that says so were lost): the check,
    every 0.2 s on this instance, ends the subscription."""
    checking = await live_factory(**{**FAST, "channel_access_check_seconds": 0.2})
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    async with gateway(checking, member) as ws:
        assert (await subscribe(ws, chan))["type"] == "subscribed"
        await db.execute(
            "DELETE FROM space_members WHERE space_id = $1 AND account_id = $2",
            uuid.UUID(space["id"]),
            uuid.UUID(member.id),
        )
        ended = await next_of(ws, "unsubscribed")
        assert (ended["topic"], ended["code"]) == (f"channel:{chan['id']}", 4403)


async def test_a_reconnecting_socket_gets_the_messages_it_missed(
    person: Accounts, live: LiveMoot
) -> None:
    space, _, admin, member = await team(person)
    chan = await channel(admin, space)
    topic = f"channel:{chan['id']}"
    async with gateway(live, member) as ws:
        cursor = (await subscribe(ws, chan))["cursor"]
    await send(admin, chan, "while you were away")
    await send(admin, chan, "and this too")
    async with gateway(live, member) as ws:
        await ws.send(json.dumps({"type": "subscribe", "topic": topic, "since": cursor}))
        frames = await frames_until(ws, "subscribed")
        missed = [f["message"]["content"] for f in frames if f["type"] == "message.created"]
        assert missed == ["while you were away", "and this too"]


async def test_deleted_accounts_leave_their_messages_and_deleted_spaces_take_theirs(
    person: Accounts, db: asyncpg.Connection
) -> None:
    space, owner, admin, member = await team(person)
    chan = await channel(admin, space)
    said = await send(member, chan, "I will be gone soon")
    await send(admin, chan, "ok @Member", reply_to=said["id"])
    await member.request("PUT", f"/api/v1/channels/{chan['id']}/messages/{said['id']}/reactions/x")
    gone = await member.request("POST", "/api/v1/me/delete", json={"password": PASSWORD})
    assert gone.status_code == 204
    first, reply = (await admin.request("GET", f"/api/v1/channels/{chan['id']}/messages")).json()[
        "items"
    ]
    assert (first["author_id"], first["content"], first["reactions"]) == (
        None,
        "I will be gone soon",
        [],
    )
    assert reply["mentions"] == [] and reply["reply_to"]["author_id"] is None

    deleted = await owner.request("DELETE", f"/api/v1/spaces/{space['id']}")
    assert deleted.status_code == 204
    for table in ("channels", "conversations", "messages", "read_markers"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0, table
