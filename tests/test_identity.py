"""Anonymous identities: issued by the server, proven by a credential only the server can sign."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from moot.errors import MootError
from moot.identity.service import IdentityService
from tests.conftest import SECRET, Guest, Moot, MootFactory

OTHER_SECRET = "another-secret-key-that-is-also-long-enough-42"


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["code"] == "invalid_credential"
    assert body["message"]
    # A refused credential is not swapped for a fresh identity either.
    assert "X-Participant-ID" not in response.headers
    assert "X-Participant-Public-ID" not in response.headers


def flip_last_char(text: str) -> str:
    return text[:-1] + ("A" if text[-1] != "A" else "B")


# -- the service ---------------------------------------------------------------------------


def test_an_issued_credential_verifies_to_its_participant_id() -> None:
    service = IdentityService(SECRET)
    issued = service.issue()
    assert issued.participant_id.version == 4
    assert issued.token.startswith(f"{issued.participant_id}.")
    assert service.verify(issued.token) == issued.participant_id
    assert service.verify(f"  {issued.token} ") == issued.participant_id


def test_credentials_are_deterministic_per_id_and_differ_between_ids_and_secrets() -> None:
    service = IdentityService(SECRET)
    someone, someone_else = uuid.uuid4(), uuid.uuid4()
    assert service.credential_for(someone) == service.credential_for(someone)
    signature = service.credential_for(someone).split(".", 1)[1]
    assert signature != service.credential_for(someone_else).split(".", 1)[1]
    assert service.credential_for(someone) != IdentityService(OTHER_SECRET).credential_for(someone)


def test_every_issue_is_a_new_participant() -> None:
    service = IdentityService(SECRET)
    ids = {service.issue().participant_id for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    "credential",
    [
        "",
        ".",
        "garbage",
        "not-a-uuid.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        f"{uuid.UUID(int=0)}",
        f"{uuid.UUID(int=0)}.",
        f"{uuid.UUID(int=0)}.short",
        f"{uuid.UUID(int=0)}.{'A' * 43}",
        f"{uuid.UUID(int=0)}.{'A' * 44}",
    ],
)
def test_malformed_or_unsigned_credentials_are_refused(credential: str) -> None:
    with pytest.raises(MootError) as caught:
        IdentityService(SECRET).verify(credential)
    assert caught.value.code == "invalid_credential"
    assert caught.value.status_code == 401


def test_a_credential_from_another_secret_is_refused() -> None:
    theirs = IdentityService(OTHER_SECRET).issue()
    with pytest.raises(MootError) as caught:
        IdentityService(SECRET).verify(theirs.token)
    assert caught.value.code == "invalid_credential"


# -- over HTTP -----------------------------------------------------------------------------


async def test_post_identity_issues_a_participant_id_and_a_token(moot: Moot) -> None:
    response = await moot.http.post("/api/v1/identity")
    assert response.status_code == 201
    body = response.json()
    participant_id = uuid.UUID(body["participant_id"])
    assert body["token"].startswith(f"{participant_id}.")
    again = (await moot.http.post("/api/v1/identity")).json()
    assert again["participant_id"] != body["participant_id"]


async def test_the_token_works_as_the_x_participant_id_header(moot: Moot) -> None:
    guest = await moot.guest()
    room = await guest.create_room(display_name="Me")
    assert room["you"]["participant_id"] == guest.participant_id
    # The same credential is recognised on the next request as the same person.
    listing = await guest.get(f"/api/v1/rooms/{room['code']}/participants")
    assert listing.status_code == 200
    assert [p["participant_id"] for p in listing.json()["items"]] == [guest.participant_id]
    assert "X-Participant-ID" not in listing.headers  # nothing new was issued


async def test_a_request_without_a_credential_is_issued_a_fresh_identity(moot: Moot) -> None:
    response = await moot.http.post("/api/v1/rooms", json={"display_name": "Drop-in"})
    assert response.status_code == 201
    token = response.headers["X-Participant-ID"]
    public_id = response.headers["X-Participant-Public-ID"]
    assert token.startswith(f"{public_id}.")
    assert response.json()["you"]["participant_id"] == public_id
    # The issued credential is a real one: it lets its holder act as the host.
    me = Guest(moot.http, token, public_id)
    listing = await me.get(f"/api/v1/rooms/{response.json()['code']}/participants")
    assert listing.status_code == 200
    assert listing.json()["items"][0]["participant_id"] == public_id
    # Two anonymous requests are two different people.
    other = await moot.http.post("/api/v1/rooms", json={})
    assert other.headers["X-Participant-Public-ID"] != public_id


async def test_a_forged_credential_is_refused_with_401(moot: Moot) -> None:
    guest = await moot.guest()
    raw_id, signature = guest.token.split(".")
    assert_refused(
        await moot.http.post(
            "/api/v1/rooms",
            json={},
            headers={"X-Participant-ID": f"{raw_id}.{flip_last_char(signature)}"},
        )
    )


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda token, public: token[:-1], id="truncated"),
        pytest.param(lambda token, public: token[:20], id="cut-in-the-uuid"),
        pytest.param(lambda token, public: token + "x", id="extended"),
        pytest.param(lambda token, public: "garbage", id="garbage"),
        pytest.param(lambda token, public: "Bearer " + token, id="with-a-scheme"),
        pytest.param(lambda token, public: public, id="the-bare-public-id"),
        pytest.param(lambda token, public: public + ".", id="public-id-and-a-dot"),
        pytest.param(lambda token, public: token.split(".")[1] + "." + public, id="parts-swapped"),
    ],
)
async def test_a_malformed_credential_is_refused_with_401(moot: Moot, mangle) -> None:  # type: ignore[no-untyped-def]
    guest = await moot.guest()
    credential = mangle(guest.token, guest.participant_id)
    response = await moot.http.post(
        "/api/v1/rooms", json={}, headers={"X-Participant-ID": credential}
    )
    assert_refused(response)


async def test_my_signature_on_someone_elses_id_is_refused(moot: Moot) -> None:
    me = await moot.guest()
    them = await moot.guest()
    my_signature = me.token.split(".")[1]
    response = await moot.http.post(
        "/api/v1/rooms",
        json={},
        headers={"X-Participant-ID": f"{them.participant_id}.{my_signature}"},
    )
    assert_refused(response)


async def test_a_token_from_a_server_with_another_secret_is_refused(
    moot_factory: MootFactory,
) -> None:
    ours = await moot_factory()
    theirs = await moot_factory(secret_key=OTHER_SECRET)
    stranger = await theirs.guest()
    # It works where it was issued...
    assert (await stranger.post("/api/v1/rooms", json={})).status_code == 201
    # ...and nowhere else.
    response = await ours.http.post(
        "/api/v1/rooms", json={}, headers={"X-Participant-ID": stranger.token}
    )
    assert_refused(response)


async def test_a_forged_credential_cannot_act_as_the_host(
    moot: Moot, db: asyncpg.Connection
) -> None:
    host = await moot.guest()
    room = await host.create_room(display_name="Host")
    intruder = await moot.guest()
    forgeries = [
        f"{host.participant_id}.{flip_last_char(host.token.split('.')[1])}",
        f"{host.participant_id}.{intruder.token.split('.')[1]}",
        host.participant_id,
        IdentityService(OTHER_SECRET).credential_for(uuid.UUID(host.participant_id)),
    ]
    code = room["code"]
    for forged in forgeries:
        headers = {"X-Participant-ID": forged}
        for path in (f"/api/v1/rooms/{code}/end", f"/api/v1/rooms/{code}/lock"):
            assert_refused(await moot.http.post(path, headers=headers))
        assert_refused(
            await moot.http.post(
                f"/api/v1/rooms/{code}/host",
                json={"participant_id": intruder.participant_id},
                headers=headers,
            )
        )
        assert_refused(await moot.http.get(f"/api/v1/rooms/{code}/participants", headers=headers))

    row = await db.fetchrow("SELECT status, locked FROM rooms WHERE id = $1", uuid.UUID(room["id"]))
    assert row is not None
    assert row["status"] == "active"
    assert row["locked"] is False
    roles = await db.fetch(
        "SELECT participant_id, role FROM room_participants WHERE room_id = $1",
        uuid.UUID(room["id"]),
    )
    assert [(str(r["participant_id"]), r["role"]) for r in roles] == [(host.participant_id, "host")]
    # The real host still can.
    assert (await host.post(f"/api/v1/rooms/{code}/end")).status_code == 200


async def test_an_upper_case_copy_of_a_valid_credential_is_the_same_person(moot: Moot) -> None:
    guest = await moot.guest()
    room = await guest.create_room()
    raw_id, signature = guest.token.split(".")
    response = await moot.http.get(
        f"/api/v1/rooms/{room['code']}/participants",
        headers={"X-Participant-ID": f"{raw_id.upper()}.{signature}"},
    )
    assert response.status_code == 200
    assert response.json()["items"][0]["participant_id"] == guest.participant_id


async def test_identity_issuance_needs_no_credential_and_ignores_a_bad_one(moot: Moot) -> None:
    response = await moot.http.post("/api/v1/identity", headers={"X-Participant-ID": "garbage"})
    assert response.status_code == 201
    assert uuid.UUID(response.json()["participant_id"])
