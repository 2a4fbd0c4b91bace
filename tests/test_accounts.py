"""Accounts and sessions against real PostgreSQL and Redis: registration, password rules,
sign-in, sessions by cookie and by bearer token, CSRF, revocation, rate limits, changing and
deleting an account, and an account holder's one identity in meetings."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect

from moot.accounts.devices import device_label
from moot.accounts.passwords import Passwords
from moot.app import asgi_app
from moot.rooms.cleanup import run_cleanup
from moot.settings import Settings
from tests.conftest import LiveMoot, Moot, make_settings
from tests.conftest import TestStores as Stores

ORIGIN = "http://moot.test"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
PASSWORD = "correct horse battery"

Browser = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def browser(moot: Moot) -> AsyncIterator[Browser]:
    """A fresh client per person (its own cookie jar) on the test app; `https` for TLS."""
    async with AsyncExitStack() as stack:

        async def make(
            ip: str = "203.0.113.10", user_agent: str = FIREFOX, https: bool = False
        ) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=asgi_app(moot.app), client=(ip, 41000))  # type: ignore[arg-type]
            scheme = "https" if https else "http"
            return await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=transport,
                    base_url=f"{scheme}://moot.test",
                    headers={"user-agent": user_agent, "origin": f"{scheme}://moot.test"},
                )
            )

        yield make


async def register(
    client: httpx.AsyncClient,
    email: str = "ada@example.org",
    name: str = "Ada Lovelace",
    password: str = PASSWORD,
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/accounts", json={"email": email, "password": password, "display_name": name}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(
    client: httpx.AsyncClient, email: str = "ada@example.org", password: str = PASSWORD
) -> httpx.Response:
    return await client.post("/api/v1/sessions", json={"email": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def session_cookie(response: httpx.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    [cookie] = [c for c in cookies if c.startswith("moot_session=")]
    return cookie


# -- registration and passwords ------------------------------------------------------------


async def test_registering_signs_in_with_a_cookie_and_a_bearer_token(
    browser: Browser, db: asyncpg.Connection
) -> None:
    client = await browser()
    response = await client.post(
        "/api/v1/accounts",
        json={"email": "Ada@Example.org", "password": PASSWORD, "display_name": " Ada  L "},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["account"]["email"] == "Ada@Example.org"
    assert body["account"]["display_name"] == "Ada L"
    cookie = session_cookie(response).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain HTTP here; over HTTPS it is Secure (below)

    by_cookie = await client.get("/api/v1/me")
    api_client = await browser()
    by_bearer = await api_client.get("/api/v1/me", headers=bearer(body["token"]))
    for me in (by_cookie, by_bearer):
        assert me.status_code == 200, me.text
        assert me.json()["account"] == body["account"]
        [space] = me.json()["spaces"]  # every account starts with a space of its own
        assert (space["role"], space["active"], space["member_count"]) == ("owner", True, 1)

    # Neither the password nor the token is stored: an argon2id hash and a SHA-256.
    stored_password = await db.fetchval("SELECT password_hash FROM accounts")
    assert stored_password.startswith("$argon2id$")
    assert PASSWORD not in stored_password
    stored = await db.fetchval("SELECT token_hash FROM account_sessions")
    assert stored == hashlib.sha256(body["token"].encode()).digest()


async def test_over_https_the_cookie_is_secure(browser: Browser) -> None:
    client = await browser(https=True)
    response = await client.post(
        "/api/v1/accounts",
        json={"email": "ada@example.org", "password": PASSWORD, "display_name": "Ada"},
    )
    assert "secure" in session_cookie(response).lower()


async def test_an_email_is_taken_whatever_its_capitalisation(browser: Browser) -> None:
    client = await browser()
    await register(client, "grace@example.org")
    again = await client.post(
        "/api/v1/accounts",
        json={"email": "GRACE@example.ORG", "password": PASSWORD, "display_name": "G"},
    )
    assert again.status_code == 409
    assert again.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "too_short"),
        ("qwertyuiop", "too_common"),
        ("Password2024!", "too_common"),
        ("1234567890123", "too_common"),
        ("йцукенгшщз", "too_common"),
        ("abababababab", "too_simple"),
        ("xx-adalovelace-xx", "contains_email"),
    ],
)
async def test_weak_passwords_are_refused_with_the_reason(
    browser: Browser, db: asyncpg.Connection, password: str, reason: str
) -> None:
    client = await browser()
    response = await client.post(
        "/api/v1/accounts",
        json={"email": "adalovelace@example.org", "password": password, "display_name": "Ada"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "weak_password"
    assert response.json()["reason"] == reason
    assert await db.fetchval("SELECT count(*) FROM accounts") == 0


async def test_bad_emails_and_names_are_refused(browser: Browser) -> None:
    client = await browser()
    for body in (
        {"email": "not-an-email", "password": PASSWORD, "display_name": "Ada"},
        {"email": "a@b", "password": PASSWORD, "display_name": "Ada"},
        {"email": "ada\u0000@example.org", "password": PASSWORD, "display_name": "Ada"},
        {"email": "ada@example.org", "password": PASSWORD, "display_name": "   "},
        {"email": "ada@example.org", "password": PASSWORD},
    ):
        response = await client.post("/api/v1/accounts", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "validation_failed"


async def test_the_default_hash_is_argon2id_with_owasp_parameters() -> None:
    settings = Settings()
    passwords = Passwords(settings.password_hash_memory_kib, settings.password_hash_iterations)
    stored = await passwords.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await passwords.verify(stored, PASSWORD)
    assert not await passwords.verify(stored, PASSWORD + "!")
    assert not await passwords.verify(None, PASSWORD)  # no account: a dummy hash is checked


async def test_a_hash_made_with_an_older_cost_is_upgraded_at_sign_in(
    moot_factory: Any, db: asyncpg.Connection
) -> None:
    old = await moot_factory(password_hash_memory_kib=32)
    await register(old.http)
    newer = await moot_factory(password_hash_memory_kib=128)
    assert (await login(newer.http)).status_code == 201
    assert "m=128," in await db.fetchval("SELECT password_hash FROM accounts")


# -- sign-in -------------------------------------------------------------------------------


async def test_unknown_email_and_wrong_password_get_the_same_answer(browser: Browser) -> None:
    client = await browser()
    await register(client)
    wrong = await login(client, password="not the password at all")
    unknown = await login(client, email="nobody@example.org")
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "code": "invalid_login",
            "message": "The email or the password is wrong.",
        }
    )
    assert "set-cookie" not in wrong.headers

    # An address no account can have (PostgreSQL stores no NUL) is simply unknown.
    with_nul = await login(client, email="ada\u0000@example.org")
    assert with_nul.json() == unknown.json()

    right = await login(await browser(), email="ADA@example.org")
    assert right.status_code == 201
    assert right.json()["account"]["email"] == "ada@example.org"
    assert session_cookie(right)


async def test_sign_in_attempts_are_limited_per_email_across_addresses(
    moot_factory: Any,
) -> None:
    moot = await moot_factory(rate_limit_login_email="3/minute")
    await register(moot.http)
    for n in range(3):
        other_ip = await moot_factory(
            client_ip=f"198.51.100.{n + 1}", rate_limit_login_email="3/minute"
        )
        assert (await login(other_ip.http, password="wrong password")).status_code == 401
    last = await moot_factory(client_ip="198.51.100.99", rate_limit_login_email="3/minute")
    refused = await login(last.http)  # even the right password: the budget is spent
    assert refused.status_code == 429
    assert refused.json()["limit"] == "login_email"
    assert int(refused.headers["retry-after"]) >= 1
    # Another email is not affected.
    assert (await login(last.http, email="grace@example.org")).status_code == 401


async def test_sign_in_attempts_are_limited_per_address(moot_factory: Any) -> None:
    moot = await moot_factory(rate_limit_login_ip="3/minute")
    for n in range(3):
        response = await login(moot.http, email=f"user{n}@example.org")
        assert response.status_code == 401
    refused = await login(moot.http, email="user9@example.org")
    assert refused.status_code == 429
    assert refused.json()["limit"] == "login_ip"


async def test_registrations_are_limited_per_address(moot_factory: Any) -> None:
    moot = await moot_factory(rate_limit_account_create="2/hour")
    await register(moot.http, "a@example.org")
    await register(moot.http, "b@example.org")
    refused = await moot.http.post(
        "/api/v1/accounts",
        json={"email": "c@example.org", "password": PASSWORD, "display_name": "C"},
    )
    assert refused.status_code == 429
    assert refused.json()["limit"] == "account_create"


# -- sessions ------------------------------------------------------------------------------


async def test_without_a_session_account_endpoints_say_not_signed_in(browser: Browser) -> None:
    client = await browser()
    for method, path in [
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/sessions"),
        ("DELETE", "/api/v1/sessions/current"),
        ("DELETE", "/api/v1/sessions"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "not_signed_in"


async def test_a_dead_session_is_session_expired_and_its_cookie_is_cleared(
    browser: Browser, db: asyncpg.Connection
) -> None:
    client = await browser()
    token = (await register(client))["token"]
    unknown = await (await browser()).get("/api/v1/me", headers=bearer("no-such-token"))
    assert unknown.status_code == 401
    assert unknown.json()["code"] == "session_expired"

    await db.execute("UPDATE account_sessions SET expires_at = now() - interval '1 second'")
    by_cookie = await client.get("/api/v1/me")
    by_bearer = await (await browser()).get("/api/v1/me", headers=bearer(token))
    for response in (by_cookie, by_bearer):
        assert response.status_code == 401
        assert response.json()["code"] == "session_expired"
    assert "max-age=0" in session_cookie(by_cookie).lower()
    # The browser dropped the cookie: it is simply signed out now, not stuck.
    assert (await client.get("/api/v1/me")).json()["code"] == "not_signed_in"


async def test_sessions_are_listed_with_device_and_last_seen_and_can_be_revoked(
    browser: Browser,
) -> None:
    laptop = await browser(user_agent=FIREFOX)
    await register(laptop)
    phone = await browser(user_agent=IPHONE)
    assert (await login(phone)).status_code == 201

    listed = (await laptop.get("/api/v1/sessions")).json()["items"]
    assert sorted((s["device"], s["current"]) for s in listed) == [
        ("Firefox on Linux", True),
        ("Safari on iOS", False),
    ]
    assert all(s["last_seen_at"] and s["expires_at"] > s["created_at"] for s in listed)

    [phone_session] = [s for s in listed if not s["current"]]
    revoked = await laptop.delete(f"/api/v1/sessions/{phone_session['id']}")
    assert revoked.status_code == 204
    assert (await phone.get("/api/v1/me")).json()["code"] == "session_expired"
    assert (await laptop.get("/api/v1/me")).status_code == 200

    # Someone else's session id is not found, whatever it is.
    missing = await laptop.delete(f"/api/v1/sessions/{uuid.uuid4()}")
    assert missing.status_code == 404


async def test_signing_out_ends_this_session_and_everywhere_ends_all(browser: Browser) -> None:
    first = await browser()
    await register(first)
    second, third = await browser(), await browser()
    await login(second)
    await login(third)

    signed_out = await first.delete("/api/v1/sessions/current")
    assert signed_out.status_code == 204
    assert "max-age=0" in session_cookie(signed_out).lower()
    assert (await first.get("/api/v1/me")).json()["code"] == "not_signed_in"
    assert (await second.get("/api/v1/me")).status_code == 200

    everywhere = await second.delete("/api/v1/sessions")
    assert everywhere.status_code == 204
    assert "max-age=0" in session_cookie(everywhere).lower()
    assert (await second.get("/api/v1/me")).json()["code"] == "not_signed_in"
    assert (await third.get("/api/v1/me")).json()["code"] == "session_expired"


async def test_the_cleanup_pass_deletes_expired_sessions(
    browser: Browser, stores: Stores, db: asyncpg.Connection
) -> None:
    await register(await browser())
    await login(await browser())
    await db.execute(
        "UPDATE account_sessions SET expires_at = now() - interval '1 second' "
        "WHERE id = (SELECT id FROM account_sessions ORDER BY created_at LIMIT 1)"
    )
    pool = await asyncpg.create_pool(stores.database_url, min_size=1, max_size=1)
    try:
        report = await run_cleanup(pool, make_settings().rooms())
    finally:
        await pool.close()
    assert report.sessions_deleted == 1
    assert await db.fetchval("SELECT count(*) FROM account_sessions") == 1


# Every route of the signed-in account, with a body it would accept from the right caller.
ACCOUNT_ROUTES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/me", None),
    ("PATCH", "/api/v1/me", {"display_name": "Someone else"}),
    ("POST", "/api/v1/me/password", {"current_password": PASSWORD, "new_password": "x" * 12}),
    ("POST", "/api/v1/me/delete", {"password": PASSWORD}),
    ("GET", "/api/v1/sessions", None),
    ("DELETE", "/api/v1/sessions", None),
    ("DELETE", "/api/v1/sessions/current", None),
    ("DELETE", "/api/v1/sessions/{session_id}", None),
]


async def test_account_routes_authorization_matrix(
    browser: Browser, db: asyncpg.Connection
) -> None:
    """Signed out, an expired session, a revoked session: every account route refuses them
    the same way before doing anything. Another account reaches only itself."""
    owner = await browser()
    ada = await register(owner)
    ada_session = str((await owner.get("/api/v1/sessions")).json()["items"][0]["id"])
    expired_token = (await login(await browser())).json()["token"]
    await db.execute(
        "UPDATE account_sessions SET expires_at = now() - interval '1 second' "
        "WHERE token_hash = $1",
        hashlib.sha256(expired_token.encode()).digest(),
    )
    revoked_client = await browser()
    revoked_token = (await login(revoked_client)).json()["token"]
    assert (await revoked_client.delete("/api/v1/sessions/current")).status_code == 204
    callers: dict[str, tuple[dict[str, str], tuple[int, str]]] = {
        "signed out": ({}, (401, "not_signed_in")),
        "expired session": (bearer(expired_token), (401, "session_expired")),
        "revoked session": (bearer(revoked_token), (401, "session_expired")),
    }
    for who, (headers, refusal) in callers.items():
        client = await browser()
        for method, path, body in ACCOUNT_ROUTES:
            path = path.format(session_id=ada_session)
            response = await client.request(method, path, json=body, headers=headers)
            assert (response.status_code, response.json()["code"]) == refusal, (who, path)

    # Another account: its own /me and sessions are its own; Ada's session is not found.
    grace = await browser()
    await register(grace, "grace@example.org", "Grace")
    not_hers = await grace.delete(f"/api/v1/sessions/{ada_session}")
    assert (not_hers.status_code, not_hers.json()["code"]) == (404, "not_found")
    assert (await grace.patch("/api/v1/me", json={"display_name": "G"})).status_code == 200
    assert [s["current"] for s in (await grace.get("/api/v1/sessions")).json()["items"]] == [True]
    me = (await owner.get("/api/v1/me")).json()
    assert me["account"] == ada["account"]  # untouched by any of the above
    assert [s["id"] for s in (await owner.get("/api/v1/sessions")).json()["items"]] == [ada_session]


# -- CSRF ----------------------------------------------------------------------------------


async def test_cookie_requests_that_change_things_must_come_from_this_site(
    browser: Browser,
) -> None:
    client = await browser()
    token = (await register(client))["token"]
    rename = {"display_name": "Countess"}
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "", "referer": "https://evil.example/page"},
    ):
        refused = await client.patch("/api/v1/me", json=rename, headers=headers)
        assert refused.status_code == 403, headers
        assert refused.json()["code"] == "cross_site_request"

    # A POST from this site's page: by its Origin, or by its Referer when Origin is missing.
    assert (await client.patch("/api/v1/me", json=rename)).status_code == 200
    by_referer = await client.patch(
        "/api/v1/me", json=rename, headers={"origin": "", "referer": f"{ORIGIN}/settings"}
    )
    assert by_referer.status_code == 200
    # Reading needs no proof; nor does a bearer token, which no browser sends by itself.
    assert (await client.get("/api/v1/me", headers={"origin": ""})).status_code == 200
    api_client = await browser()
    api = await api_client.patch(
        "/api/v1/me", json=rename, headers={**bearer(token), "origin": "https://evil.example"}
    )
    assert api.status_code == 200


async def test_configured_cors_origins_may_send_cookie_requests(moot_factory: Any) -> None:
    moot = await moot_factory(cors_origins="https://app.example")
    await register(moot.http)
    response = await moot.http.patch(
        "/api/v1/me", json={"display_name": "A"}, headers={"origin": "https://app.example"}
    )
    assert response.status_code == 200


async def test_a_cross_site_cookie_cannot_join_a_meeting_as_the_account(
    browser: Browser, moot: Moot
) -> None:
    client = await browser()
    await register(client)
    host = await moot.guest()
    room = await host.create_room()
    response = await client.post(
        f"/api/v1/rooms/{room['code']}/join", json={}, headers={"origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.json()["code"] == "cross_site_request"


# -- changing and deleting an account ------------------------------------------------------


async def test_changing_the_password_signs_out_the_other_sessions(browser: Browser) -> None:
    laptop = await browser()
    await register(laptop)
    phone = await browser()
    await login(phone)
    new = "a much better passphrase"

    wrong = await laptop.post(
        "/api/v1/me/password", json={"current_password": "nope", "new_password": new}
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    weak = await laptop.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": "password1"}
    )
    assert weak.json()["code"] == "weak_password"
    assert (await phone.get("/api/v1/me")).status_code == 200  # nothing changed yet

    changed = await laptop.post(
        "/api/v1/me/password", json={"current_password": PASSWORD, "new_password": new}
    )
    assert changed.status_code == 204
    assert (await laptop.get("/api/v1/me")).status_code == 200
    assert (await phone.get("/api/v1/me")).json()["code"] == "session_expired"
    assert (await login(await browser())).json()["code"] == "invalid_login"
    assert (await login(await browser(), password=new)).status_code == 201


async def test_the_display_name_and_email_can_be_changed(browser: Browser) -> None:
    client = await browser()
    await register(client)
    await register(await browser(), "grace@example.org", "Grace")

    renamed = await client.patch("/api/v1/me", json={"display_name": "Countess Lovelace"})
    assert renamed.json()["display_name"] == "Countess Lovelace"
    without_password = await client.patch("/api/v1/me", json={"email": "ada@new.example"})
    assert without_password.json()["code"] == "wrong_password"
    taken = await client.patch(
        "/api/v1/me", json={"email": "Grace@example.org", "current_password": PASSWORD}
    )
    assert taken.status_code == 409
    assert taken.json()["code"] == "email_taken"
    moved = await client.patch(
        "/api/v1/me", json={"email": "ada@new.example", "current_password": PASSWORD}
    )
    assert moved.json() == {
        "id": moved.json()["id"],
        "email": "ada@new.example",
        "display_name": "Countess Lovelace",
    }
    assert (await login(await browser(), "ada@new.example")).status_code == 201
    assert (await login(await browser(), "ada@example.org")).status_code == 401


async def test_deleting_the_account_erases_it_and_its_name_in_meetings(
    browser: Browser, moot: Moot, db: asyncpg.Connection
) -> None:
    client = await browser()
    account = (await register(client))["account"]
    room = (await client.post("/api/v1/rooms", json={"title": "Notes"})).json()
    await client.post(f"/api/v1/rooms/{room['code']}/leave")

    refused = await client.post("/api/v1/me/delete", json={"password": "wrong"})
    assert refused.json()["code"] == "wrong_password"
    deleted = await client.post("/api/v1/me/delete", json={"password": PASSWORD})
    assert deleted.status_code == 204
    assert "max-age=0" in session_cookie(deleted).lower()

    assert await db.fetchval("SELECT count(*) FROM accounts") == 0
    assert await db.fetchval("SELECT count(*) FROM account_sessions") == 0
    seat = await db.fetchrow(
        "SELECT participant_id, display_name, account_id, client_ip, user_agent "
        "FROM room_participants"
    )
    assert seat is not None
    assert seat["participant_id"] == uuid.UUID(account["id"])
    assert (seat["display_name"], seat["account_id"], seat["client_ip"], seat["user_agent"]) == (
        "Deleted account",
        None,
        None,
        None,
    )
    assert (await login(await browser())).json()["code"] == "invalid_login"
    # The email is free again.
    await register(await browser())


# -- one identity in meetings --------------------------------------------------------------


async def test_an_account_holder_is_the_same_participant_in_every_meeting(
    browser: Browser, moot: Moot, db: asyncpg.Connection
) -> None:
    laptop = await browser()
    account = (await register(laptop))["account"]
    created = await laptop.post("/api/v1/rooms", json={"title": "Standup"})
    assert created.status_code == 201
    you = created.json()["you"]
    assert you["participant_id"] == account["id"]
    assert you["display_name"] == "Ada Lovelace"  # the account's name is the default
    assert "x-participant-id" not in created.headers  # no anonymous identity was minted

    host = await moot.guest()
    room = await host.create_room(display_name="Host")
    phone = await browser(user_agent=IPHONE)
    token = (await login(phone)).json()["token"]
    # A stale anonymous credential alongside the session changes nothing: signed in wins.
    anonymous = await moot.guest()
    joined = await phone.post(
        f"/api/v1/rooms/{room['code']}/join",
        json={},
        headers={"X-Participant-ID": anonymous.token},
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["you"]["participant_id"] == account["id"]
    # The same account from another device holds the same seat, under the name it gives.
    again = await (await browser()).post(
        f"/api/v1/rooms/{room['code']}/join",
        json={"display_name": "Ada (phone)"},
        headers=bearer(token),
    )
    assert again.json()["you"]["participant_id"] == account["id"]
    participants = (await host.get(f"/api/v1/rooms/{room['code']}/participants")).json()
    assert [p["display_name"] for p in participants["items"]] == ["Host", "Ada (phone)"]

    rows = await db.fetch(
        "SELECT participant_id, account_id FROM room_participants ORDER BY joined_at"
    )
    by_participant = {r["participant_id"]: r["account_id"] for r in rows}
    assert by_participant[uuid.UUID(account["id"])] == uuid.UUID(account["id"])
    assert by_participant[uuid.UUID(host.participant_id)] is None  # anonymous: no account


async def test_anonymous_joins_still_need_a_name_and_work_as_before(moot: Moot) -> None:
    host = await moot.guest()
    room = await host.create_room()
    assert room["you"]["display_name"] == "Host"
    guest = await moot.guest()
    nameless = await guest.post(f"/api/v1/rooms/{room['code']}/join", json={})
    assert nameless.status_code == 422
    assert nameless.json()["field"] == "display_name"
    assert (await guest.join(room["code"], "Grace")).status_code == 200


async def test_an_expired_session_in_a_meeting_is_session_expired_not_a_new_identity(
    browser: Browser, moot: Moot, db: asyncpg.Connection
) -> None:
    client = await browser()
    await register(client)
    host = await moot.guest()
    room = await host.create_room()
    await db.execute("DELETE FROM account_sessions")
    response = await client.post(f"/api/v1/rooms/{room['code']}/join", json={})
    assert response.status_code == 401
    assert response.json()["code"] == "session_expired"
    assert "x-participant-id" not in response.headers
    # The cookie is gone now: the same browser continues anonymously, as before.
    anonymous = await client.post(f"/api/v1/rooms/{room['code']}/join", json={"display_name": "A"})
    assert anonymous.status_code == 200
    assert anonymous.headers["x-participant-public-id"] == anonymous.json()["you"]["participant_id"]


async def test_the_gateway_socket_speaks_for_the_signed_in_account(live: LiveMoot) -> None:
    signed = await live.http.post(
        "/api/v1/accounts",
        json={"email": "ada@example.org", "password": PASSWORD, "display_name": "Ada"},
    )
    body = signed.json()
    live.http.cookies.clear()
    headers = bearer(body["token"])
    async with connect(f"{live.ws_url}/ws", additional_headers=headers) as ws:
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready"
        assert ready["subscriber"] == body["account"]["id"]
    await live.http.delete("/api/v1/sessions/current", headers=headers)
    async with connect(f"{live.ws_url}/ws", additional_headers=headers) as ws:
        error = json.loads(await ws.recv())
        assert error["code"] == "session_expired"


def test_device_labels_name_the_browser_and_the_system() -> None:
    assert device_label(FIREFOX) == "Firefox on Linux"
    assert device_label(IPHONE) == "Safari on iOS"
    assert device_label("curl/8.5.0") == "curl"
    assert device_label(None) == "Unknown device"
