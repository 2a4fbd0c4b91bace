"""Password reset by email, against real PostgreSQL and Redis and a real SMTP server on
loopback (aiosmtpd): the mailed link is followed, works once and for a short time, two
confirmations at once admit one, and the answer to a request never tells whether an account
has the address."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from moot.settings import ConfigError, load_settings
from tests.conftest import LiveMoot, Moot
from tests.mail_server import USERNAME, MailServer
from tests.test_chat_ws import closed_with, next_of

PASSWORD = "correct horse battery"
NEW_PASSWORD = "a much better passphrase"
PUBLIC_URL = "https://moot.example"


@pytest.fixture
async def mail() -> AsyncIterator[MailServer]:
    async with MailServer() as server:
        yield server


def with_mail(server: MailServer, **overrides: Any) -> dict[str, Any]:
    return {"smtp_url": server.url, "public_url": PUBLIC_URL, **overrides}


async def register(http: httpx.AsyncClient, email: str = "ada@example.org") -> dict[str, Any]:
    response = await http.post(
        "/api/v1/accounts", json={"email": email, "password": PASSWORD, "display_name": "Ada"}
    )
    assert response.status_code == 201, response.text
    http.cookies.clear()
    body: dict[str, Any] = response.json()
    return body


async def login(http: httpx.AsyncClient, password: str, email: str = "ada@example.org") -> int:
    response = await http.post("/api/v1/sessions", json={"email": email, "password": password})
    http.cookies.clear()
    return response.status_code


async def ask_for_reset(http: httpx.AsyncClient, email: str = "ada@example.org") -> httpx.Response:
    return await http.post("/api/v1/password-resets", json={"email": email})


async def confirm(http: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await http.post(
        "/api/v1/password-resets/confirm", json={"token": token, "password": password}
    )


def token_in(link: str) -> str:
    [token] = parse_qs(urlsplit(link).query)["token"]
    return token


async def mailed_link(server: MailServer, to: str = "ada@example.org") -> str:
    delivered = await server.next_mail()
    assert delivered.recipients == [to]
    body: str = delivered.message.get_content()
    [link] = [word for word in body.split() if word.startswith(f"{PUBLIC_URL}/reset-password?")]
    return link


# -- the whole way through --------------------------------------------------------------------


async def test_the_mailed_link_sets_a_new_password_once_and_ends_every_session(
    live_factory: Callable[..., Awaitable[LiveMoot]],
    mail: MailServer,
    db: asyncpg.Connection,
    redis: Redis,
) -> None:
    live = await live_factory(**with_mail(mail))
    account = await register(live.http)
    bearer = {"authorization": f"Bearer {account['token']}"}
    async with connect(f"{live.ws_url}/ws", additional_headers=bearer) as ws:
        await next_of(ws, "ready")

        # The answer does not wait for the SMTP server: it is holding the message here.
        mail.accepting.clear()
        asked = await ask_for_reset(live.http, "ADA@example.org")
        assert asked.status_code == 202
        assert asked.content == b""
        assert mail.inbox.empty()
        mail.accepting.set()

        delivered = await mail.next_mail()
        assert delivered.recipients == ["ada@example.org"]
        assert delivered.sender == "moot@moot.example"
        assert delivered.message["Subject"] == "Reset your moot password"
        assert delivered.message["From"] == "moot@moot.example"
        body = delivered.message.get_content()
        assert "within 30 minutes" in body
        [link] = [w for w in body.split() if w.startswith(f"{PUBLIC_URL}/reset-password?token=")]
        token = token_in(link)

        # Only the token's SHA-256 is stored; Redis's rate-limit keys hold no address.
        stored = await db.fetchval("SELECT token_hash FROM password_resets")
        assert stored == hashlib.sha256(token.encode()).digest()
        assert [k for k in await redis.keys("*") if b"example.org" in k] == []

        # The new password follows the usual rules; a refused one does not spend the link.
        weak = await confirm(live.http, token, "password1")
        assert (weak.status_code, weak.json()["code"]) == (422, "weak_password")
        done = await confirm(live.http, token, NEW_PASSWORD)
        assert done.status_code == 204, done.text

        # Every session ended, its open sockets too.
        error = await next_of(ws, "error")
        assert error["code"] == "session_expired"
        assert await closed_with(ws) == (4440, "session_revoked")
    me = await live.http.get("/api/v1/me", headers=bearer)
    assert me.json()["code"] == "session_expired"
    assert await login(live.http, PASSWORD) == 401
    assert await login(live.http, NEW_PASSWORD) == 201

    again = await confirm(live.http, token, "yet another passphrase")
    assert (again.status_code, again.json()["code"]) == (400, "invalid_reset_token")
    assert await login(live.http, NEW_PASSWORD) == 201
    assert await db.fetchval("SELECT count(*) FROM password_resets") == 0


async def test_an_unknown_email_gets_the_same_answer_and_no_mail(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer
) -> None:
    moot = await moot_factory(**with_mail(mail))
    mailer = moot.app.state.services.mailer
    await register(moot.http)

    unknown = await ask_for_reset(moot.http, "nobody@example.org")
    assert mailer.pending == 0  # nothing was queued for it
    known = await ask_for_reset(moot.http)
    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert unknown.status_code == 202
    assert (await mail.next_mail()).recipients == ["ada@example.org"]
    await mailer.idle()
    assert mail.inbox.empty()  # one mail in all: the known address's


async def test_an_expired_link_is_refused_and_changes_nothing(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer, db: asyncpg.Connection
) -> None:
    moot = await moot_factory(**with_mail(mail, password_reset_ttl_seconds=600))
    await register(moot.http)
    assert (await ask_for_reset(moot.http)).status_code == 202
    delivered = await mail.next_mail()
    assert "within 10 minutes" in delivered.message.get_content()
    [link] = [w for w in delivered.message.get_content().split() if "reset-password" in w]
    expires_at = await db.fetchval("SELECT expires_at - created_at FROM password_resets")
    assert expires_at.total_seconds() == pytest.approx(600, abs=5)

    await db.execute("UPDATE password_resets SET expires_at = now() - interval '1 second'")
    refused = await confirm(moot.http, token_in(link), NEW_PASSWORD)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_reset_token")
    assert await login(moot.http, PASSWORD) == 201


async def test_of_simultaneous_confirmations_of_one_link_exactly_one_wins(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer
) -> None:
    moot = await moot_factory(**with_mail(mail))
    await register(moot.http)
    await ask_for_reset(moot.http)
    token = token_in(await mailed_link(mail))
    passwords = [f"new passphrase number {n}" for n in range(8)]
    answers = await asyncio.gather(*(confirm(moot.http, token, p) for p in passwords))
    statuses = [a.status_code for a in answers]
    assert sorted(statuses) == [204] + [400] * 7, [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 400} == {"invalid_reset_token"}
    [winner] = [p for p, a in zip(passwords, answers, strict=True) if a.status_code == 204]
    for password in passwords:
        assert await login(moot.http, password) == (201 if password == winner else 401)


async def test_a_new_email_or_password_voids_the_links_already_sent(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer
) -> None:
    moot = await moot_factory(**with_mail(mail))
    token = (await register(moot.http))["token"]
    bearer = {"authorization": f"Bearer {token}"}
    await ask_for_reset(moot.http)
    before_move = token_in(await mailed_link(mail))
    moved = await moot.http.patch(
        "/api/v1/me",
        json={"email": "ada@new.example", "current_password": PASSWORD},
        headers=bearer,
    )
    assert moved.status_code == 200
    assert (await confirm(moot.http, before_move, NEW_PASSWORD)).status_code == 400

    await ask_for_reset(moot.http, "ada@new.example")
    before_change = token_in(await mailed_link(mail, "ada@new.example"))
    changed = await moot.http.post(
        "/api/v1/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer,
    )
    assert changed.status_code == 204
    assert (await confirm(moot.http, before_change, "yet another passphrase")).status_code == 400


async def test_reset_requests_are_limited_per_address_and_per_email(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer
) -> None:
    limits = with_mail(
        mail, rate_limit_password_reset_email="2/hour", rate_limit_password_reset_ip="3/minute"
    )
    first = await moot_factory(client_ip="198.51.100.1", **limits)
    await register(first.http)
    second = await moot_factory(client_ip="198.51.100.2", **limits)
    assert (await ask_for_reset(first.http)).status_code == 202
    assert (await ask_for_reset(second.http, "Ada@Example.org")).status_code == 202
    refused = await ask_for_reset(second.http)
    assert (refused.status_code, refused.json()["limit"]) == (429, "password_reset_email")
    assert int(refused.headers["retry-after"]) >= 1

    # Per address: whatever the emails, the fourth request from one IP in a minute is refused.
    third = await moot_factory(client_ip="198.51.100.3", **limits)
    for n in range(3):
        assert (await ask_for_reset(third.http, f"user{n}@example.org")).status_code == 202
    over = await ask_for_reset(third.http, "user9@example.org")
    assert (over.status_code, over.json()["limit"]) == (429, "password_reset_ip")


# -- without SMTP, and bad input ----------------------------------------------------------------


async def test_without_smtp_a_reset_request_is_email_unavailable(moot: Moot) -> None:
    await register(moot.http)
    response = await ask_for_reset(moot.http)
    assert response.status_code == 503
    assert response.json()["code"] == "email_unavailable"
    refused = await confirm(moot.http, "no-such-token", NEW_PASSWORD)
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid_reset_token")


async def test_bad_reset_requests_get_clear_errors(
    moot_factory: Callable[..., Awaitable[Moot]], mail: MailServer
) -> None:
    moot = await moot_factory(**with_mail(mail))
    for path, body in (
        ("/api/v1/password-resets", {"email": "not an email"}),
        ("/api/v1/password-resets", {"email": "ada\u0000@example.org"}),
        ("/api/v1/password-resets", {}),
        ("/api/v1/password-resets/confirm", {"token": "x"}),
        ("/api/v1/password-resets/confirm", {"token": "x" * 129, "password": NEW_PASSWORD}),
    ):
        response = await moot.http.post(path, json=body)
        assert (response.status_code, response.json()["code"]) == (422, "validation_failed"), body
    garbled = await moot.http.post(
        "/api/v1/password-resets", content=b"{", headers={"content-type": "application/json"}
    )
    assert (garbled.status_code, garbled.json()["code"]) == (400, "invalid_request")


async def test_a_mail_the_smtp_server_refuses_is_logged_without_the_address(
    moot_factory: Callable[..., Awaitable[Moot]],
    mail: MailServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong_login = mail.url.replace(USERNAME, "someone-else")
    moot = await moot_factory(smtp_url=wrong_login, public_url=PUBLIC_URL)
    await register(moot.http)
    assert (await ask_for_reset(moot.http)).status_code == 202
    await moot.app.state.services.mailer.idle()
    assert mail.inbox.empty()
    output = capsys.readouterr().out
    assert "mail_not_sent" in output
    assert "ada@example.org" not in output


# -- the SMTP URL --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "complaint"),
    [
        ({"MOOT_SMTP_URL": "mail.example:25"}, "MOOT_SMTP_URL must start with smtp://"),
        ({"MOOT_SMTP_URL": "http://mail.example"}, "MOOT_SMTP_URL must start with smtp://"),
        ({"MOOT_SMTP_URL": "smtp://mail.example:70000"}, "MOOT_SMTP_URL has a port"),
        ({"MOOT_SMTP_URL": "smtps://:465"}, "MOOT_SMTP_URL names no host"),
        ({"MOOT_SMTP_URL": "smtp://mail.example/x?y=1"}, "MOOT_SMTP_URL must be scheme://"),
        ({"MOOT_SMTP_URL": "smtp://mailer:hunter2@mail.example"}, "MOOT_PUBLIC_URL must be"),
        (
            {"MOOT_SMTP_URL": "smtp://mail.example", "MOOT_PUBLIC_URL": "moot.example"},
            "MOOT_PUBLIC_URL must be",
        ),
        (
            {
                "MOOT_SMTP_URL": "smtp://mail.example",
                "MOOT_PUBLIC_URL": PUBLIC_URL,
                "MOOT_SMTP_FROM": "no address",
            },
            "MOOT_SMTP_FROM",
        ),
    ],
)
def test_a_bad_smtp_setting_stops_start_up_naming_it(
    environ: dict[str, str], complaint: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=complaint.replace("?", r"\?")) as info:
        load_settings(environ=environ, env_dir=tmp_path)
    assert "hunter2" not in str(info.value)  # the SMTP password is never repeated


def test_an_smtp_url_is_read_once_at_start_up(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "MOOT_SMTP_URL": "smtps://mailer%40moot.example:p%40ss%2Fword@smtp.example",
            "MOOT_PUBLIC_URL": "https://moot.example/",
            "MOOT_SMTP_FROM": "moot <hello@moot.example>",
        },
        env_dir=tmp_path,
    )
    mail = settings.mail()
    assert mail is not None
    assert (mail.host, mail.port, mail.tls) == ("smtp.example", 465, "implicit")
    assert (mail.username, mail.password) == ("mailer@moot.example", "p@ss/word")
    assert (mail.sender, mail.public_url) == ("moot <hello@moot.example>", PUBLIC_URL)
    starttls = load_settings(
        environ={"MOOT_SMTP_URL": "smtp+starttls://smtp.example", "MOOT_PUBLIC_URL": PUBLIC_URL},
        env_dir=tmp_path,
    ).mail()
    assert starttls is not None
    assert (starttls.port, starttls.tls, starttls.username) == (587, "starttls", None)
    assert (starttls.sender) == "moot@moot.example"
    assert load_settings(environ={}, env_dir=tmp_path).mail() is None
