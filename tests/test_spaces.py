"""Spaces, members and invites against real PostgreSQL: the last-space rule, roles, the
authorization matrix (signed out, another account, member, admin, owner, removed member),
invites with expiry and use limits, and use counts that hold under concurrency."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from moot.app import asgi_app
from tests.conftest import Moot

PASSWORD = "correct horse battery"


class Person:
    """A signed-in account and its own client (bearer token: no cookie jar to share)."""

    def __init__(self, http: httpx.AsyncClient, body: dict[str, Any]) -> None:
        self.http = http
        self.id: str = body["account"]["id"]
        self.headers = {"authorization": f"Bearer {body['token']}"}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(method, path, headers=self.headers, **kw)


Accounts = Callable[..., Awaitable[Person]]


@pytest.fixture
async def client(moot: Moot) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app(moot.app), client=("203.0.113.10", 41000))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://moot.test") as http:
        yield http


@pytest.fixture
def person(client: httpx.AsyncClient) -> Accounts:
    async def make(name: str = "Ada") -> Person:
        email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.org"
        response = await client.post(
            "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": name}
        )
        assert response.status_code == 201, response.text
        client.cookies.clear()
        return Person(client, response.json())

    return make


async def new_space(owner: Person, name: str = "Team") -> dict[str, Any]:
    response = await owner.request("POST", "/api/v1/spaces", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def invite(admin: Person, space: dict[str, Any], **body: Any) -> str:
    response = await admin.request("POST", f"/api/v1/spaces/{space['id']}/invites", json=body)
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


async def join(person: Person, code: str) -> httpx.Response:
    return await person.request("POST", f"/api/v1/invites/{code}/accept")


async def team(person: Accounts) -> tuple[dict[str, Any], Person, Person, Person]:
    """A space with its owner, an admin and a member."""
    owner, admin, member = await person("Owner"), await person("Admin"), await person("Member")
    space = await new_space(owner)
    code = await invite(owner, space)
    for someone in (admin, member):
        assert (await join(someone, code)).status_code == 200
    made = await owner.request(
        "PATCH", f"/api/v1/spaces/{space['id']}/members/{admin.id}", json={"role": "admin"}
    )
    assert made.json()["role"] == "admin"
    return space, owner, admin, member


def code_of(response: httpx.Response) -> tuple[int, str]:
    """(status, error code); the code is "" for a success."""
    if response.is_success:
        return response.status_code, ""
    return response.status_code, response.json()["code"]


# -- spaces --------------------------------------------------------------------------------


async def test_an_account_starts_with_a_space_and_can_have_more(person: Accounts) -> None:
    ada = await person()
    [first] = (await ada.request("GET", "/api/v1/spaces")).json()["items"]
    assert (first["role"], first["active"], first["member_count"]) == ("owner", True, 1)

    second = await new_space(ada, "  Research  ")
    assert (second["name"], second["role"], second["active"]) == ("Research", "owner", False)
    activated = await ada.request("POST", f"/api/v1/spaces/{second['id']}/activate")
    assert activated.json()["active"] is True
    me = (await ada.request("GET", "/api/v1/me")).json()
    assert [(s["id"], s["active"]) for s in me["spaces"]] == [
        (first["id"], False),
        (second["id"], True),
    ]
    renamed = await ada.request("PATCH", f"/api/v1/spaces/{second['id']}", json={"name": "Lab"})
    assert renamed.json()["name"] == "Lab"
    blank = await ada.request("PATCH", f"/api/v1/spaces/{second['id']}", json={"name": " "})
    assert code_of(blank) == (422, "validation_failed")


async def test_the_last_space_cannot_be_deleted(person: Accounts, db: asyncpg.Connection) -> None:
    ada = await person()
    [only] = (await ada.request("GET", "/api/v1/spaces")).json()["items"]
    refused = await ada.request("DELETE", f"/api/v1/spaces/{only['id']}")
    assert code_of(refused) == (409, "last_space")

    other = await new_space(ada)
    assert (await ada.request("DELETE", f"/api/v1/spaces/{only['id']}")).status_code == 204
    [left] = (await ada.request("GET", "/api/v1/spaces")).json()["items"]
    assert left["id"] == other["id"] and left["active"] is True
    refused = await ada.request("DELETE", f"/api/v1/spaces/{other['id']}")
    assert code_of(refused) == (409, "last_space")
    assert await db.fetchval("SELECT count(*) FROM spaces") == 1


async def test_authorization_matrix(person: Accounts, client: httpx.AsyncClient) -> None:
    space, owner, admin, member = await team(person)
    stranger = await person("Stranger")
    sid = space["id"]
    code = await invite(owner, space)
    actions: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", f"/api/v1/spaces/{sid}/members", None),
        ("PATCH", f"/api/v1/spaces/{sid}", {"name": "Renamed"}),
        ("POST", f"/api/v1/spaces/{sid}/invites", {}),
        ("DELETE", f"/api/v1/spaces/{sid}/invites/{code}", None),
        ("PATCH", f"/api/v1/spaces/{sid}/members/{member.id}", {"role": "admin"}),
    ]
    # Expected (status, code) per caller, in the order of `actions`.
    expected = {
        "signed out": [(401, "not_signed_in")] * 5,
        "another account": [(403, "not_space_member")] * 5,
        "member": [(200, ""), *[(403, "insufficient_role")] * 4],
        "admin": [(200, ""), (403, "insufficient_role"), (201, ""), (204, ""), (200, "")],
    }
    callers: dict[str, Person | None] = {
        "signed out": None,
        "another account": stranger,
        "member": member,
        "admin": admin,
    }
    for who, caller in callers.items():
        code = await invite(owner, space)  # the admin's turn revokes one
        for (method, path, body), want in zip(actions, expected[who], strict=True):
            path = path.replace(path.rsplit("/", 1)[-1], code) if "/invites/" in path else path
            if caller is None:
                response = await client.request(method, path, json=body)
            else:
                response = await caller.request(method, path, json=body)
            assert code_of(response) == want, (who, method, path, response.text)

    # The owner renames; nobody else deletes the space or changes the owner's role.
    assert (await owner.request("PATCH", f"/api/v1/spaces/{sid}", json={"name": "X"})).is_success
    for someone in (admin, member):
        deleted = await someone.request("DELETE", f"/api/v1/spaces/{sid}")
        assert code_of(deleted) == (403, "insufficient_role")
    demote = await admin.request(
        "PATCH", f"/api/v1/spaces/{sid}/members/{owner.id}", json={"role": "member"}
    )
    assert code_of(demote) == (403, "insufficient_role")
    take_over = await admin.request(
        "PATCH", f"/api/v1/spaces/{sid}/members/{admin.id}", json={"role": "owner"}
    )
    assert code_of(take_over) == (403, "insufficient_role")


async def test_admins_remove_members_and_a_removed_member_is_shut_out(person: Accounts) -> None:
    space, owner, admin, member = await team(person)
    sid = space["id"]
    by_member = await member.request("DELETE", f"/api/v1/spaces/{sid}/members/{admin.id}")
    assert code_of(by_member) == (403, "insufficient_role")
    admin_removes_owner = await admin.request("DELETE", f"/api/v1/spaces/{sid}/members/{owner.id}")
    assert code_of(admin_removes_owner) == (403, "insufficient_role")

    removed = await admin.request("DELETE", f"/api/v1/spaces/{sid}/members/{member.id}")
    assert removed.status_code == 204
    after = await member.request("GET", f"/api/v1/spaces/{sid}/members")
    assert code_of(after) == (403, "not_space_member")
    # They still have their own space.
    assert len((await member.request("GET", "/api/v1/spaces")).json()["items"]) == 1
    members = (await owner.request("GET", f"/api/v1/spaces/{sid}/members")).json()["items"]
    assert [(m["display_name"], m["role"]) for m in members] == [
        ("Owner", "owner"),
        ("Admin", "admin"),
    ]


async def test_the_owner_hands_over_before_leaving(person: Accounts) -> None:
    space, owner, _, member = await team(person)
    sid = space["id"]
    refused = await owner.request("DELETE", f"/api/v1/spaces/{sid}/members/{owner.id}")
    assert code_of(refused) == (409, "owner_must_transfer")

    handed = await owner.request(
        "PATCH", f"/api/v1/spaces/{sid}/members/{member.id}", json={"role": "owner"}
    )
    assert handed.json()["role"] == "owner"
    assert (await owner.request("DELETE", f"/api/v1/spaces/{sid}/members/{owner.id}")).is_success
    members = (await member.request("GET", f"/api/v1/spaces/{sid}/members")).json()["items"]
    assert {(m["display_name"], m["role"]) for m in members} == {
        ("Admin", "admin"),
        ("Member", "owner"),
    }


async def test_nobody_leaves_their_last_space(person: Accounts) -> None:
    ada = await person()
    [own] = (await ada.request("GET", "/api/v1/spaces")).json()["items"]
    other = await person("Grace")
    space = await new_space(other)
    assert (await join(ada, await invite(other, space))).status_code == 200
    # Ada hands her own space over... she cannot: she is alone in it; so she deletes the
    # shared one from her list by leaving it, which is fine, then her own is the last.
    assert (
        await ada.request("DELETE", f"/api/v1/spaces/{space['id']}/members/{ada.id}")
    ).is_success
    transfer_target = await person("Lin")
    assert (await join(transfer_target, await invite(ada, own))).status_code == 200
    await ada.request(
        "PATCH", f"/api/v1/spaces/{own['id']}/members/{transfer_target.id}", json={"role": "owner"}
    )
    refused = await ada.request("DELETE", f"/api/v1/spaces/{own['id']}/members/{ada.id}")
    assert code_of(refused) == (409, "last_space")


async def test_deleting_an_account_hands_its_spaces_on(
    person: Accounts, db: asyncpg.Connection
) -> None:
    space, owner, admin, _ = await team(person)
    deleted = await owner.request("POST", "/api/v1/me/delete", json={"password": PASSWORD})
    assert deleted.status_code == 204
    members = (await admin.request("GET", f"/api/v1/spaces/{space['id']}/members")).json()
    assert [(m["display_name"], m["role"]) for m in members["items"]] == [
        ("Admin", "owner"),
        ("Member", "member"),
    ]
    # The owner's own first space, with nobody else in it, went with the account.
    assert await db.fetchval("SELECT count(*) FROM spaces") == 3  # team + admin's + member's


# -- invites -------------------------------------------------------------------------------


async def test_an_invite_previews_without_signing_in_and_admits_a_member(
    person: Accounts, client: httpx.AsyncClient
) -> None:
    owner = await person("Owner")
    space = await new_space(owner, "Book club")
    code = await invite(owner, space, max_uses=2)
    preview = await client.get(f"/api/v1/invites/{code}")
    assert preview.status_code == 200
    assert preview.json()["space"] == {"id": space["id"], "name": "Book club", "member_count": 1}

    signed_out = await client.post(f"/api/v1/invites/{code}/accept")
    assert code_of(signed_out) == (401, "not_signed_in")
    reader = await person("Reader")
    joined = await join(reader, code)
    assert (joined.json()["role"], joined.json()["member_count"]) == ("member", 2)
    assert (await join(reader, code)).status_code == 200  # again: no use spent
    assert (await join(await person("Third"), code)).status_code == 200
    used_up = await join(await person("Fourth"), code)
    assert code_of(used_up) == (410, "invite_used_up")
    assert code_of(await client.get(f"/api/v1/invites/{code}")) == (410, "invite_used_up")


async def test_expired_and_revoked_invites_are_refused(
    person: Accounts, client: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    owner = await person("Owner")
    space = await new_space(owner)
    expiring = await invite(owner, space, expires_in_seconds=3600)
    await db.execute(
        "UPDATE space_invites SET expires_at = now() - interval '1 second' WHERE code = $1",
        expiring,
    )
    assert code_of(await client.get(f"/api/v1/invites/{expiring}")) == (410, "invite_expired")
    assert code_of(await join(await person(), expiring)) == (410, "invite_expired")

    revoked = await invite(owner, space)
    gone = await owner.request("DELETE", f"/api/v1/spaces/{space['id']}/invites/{revoked}")
    assert gone.status_code == 204
    assert code_of(await join(await person(), revoked)) == (404, "invite_not_found")
    assert code_of(await client.get("/api/v1/invites/nonsense")) == (404, "invite_not_found")
    bad = await owner.request("POST", f"/api/v1/spaces/{space['id']}/invites", json={"max_uses": 0})
    assert code_of(bad) == (422, "validation_failed")


async def test_fifty_simultaneous_accepts_of_a_ten_use_invite_admit_exactly_ten(
    person: Accounts, db: asyncpg.Connection
) -> None:
    owner = await person("Owner")
    space = await new_space(owner)
    code = await invite(owner, space, max_uses=10)
    people = await asyncio.gather(*(person(f"P{n}") for n in range(50)))
    responses = await asyncio.gather(*(join(someone, code) for someone in people))
    outcomes = sorted(code_of(r) for r in responses)
    assert outcomes == [(200, "")] * 10 + [(410, "invite_used_up")] * 40
    assert await db.fetchval("SELECT uses FROM space_invites WHERE code = $1", code) == 10
    count = "SELECT count(*) FROM space_members WHERE space_id = $1"
    assert await db.fetchval(count, uuid.UUID(space["id"])) == 11
