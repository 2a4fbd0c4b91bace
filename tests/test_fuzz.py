"""The API against its own OpenAPI schema: schemathesis generates requests for every operation,
valid and invalid, and a live `moot serve` must answer each without a 5xx, with a JSON
`{code, message}` body for every error, and as the schema says (status, content type, body).

Requests carry a real credential (the host's or a guest's) and name a real room, participant
and message most of the time, so they reach the rules behind the validation; the rest of the
time the path parameters are generated too. `MOOT_FUZZ_EXAMPLES` (default 2,000) sets how many
requests to generate; CI runs the default.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from redis import Redis
from schemathesis import GenerationMode
from schemathesis.checks import CheckContext
from schemathesis.core.result import Ok
from schemathesis.core.transport import Response

from tests import conftest
from tests.processes import free_port, start_moot

EXAMPLES = int(os.environ.get("MOOT_FUZZ_EXAMPLES", "2000"))
FORGED = "6f1c1a52-3c56-4f5e-9d3b-0d5c6f1e2a77.not-a-signature"

# The checks on every answer: no 5xx, the status, content type, headers and body the schema
# gives for it, and invalid input refused with a 4xx.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.negative_data_rejection,
]


def error_body_is_moot_json(ctx: CheckContext, response: Response, case: Any) -> bool | None:
    """Every error answer is `{code, message, ...}` as JSON, whatever the schema says."""
    if response.status_code < 400:
        return None
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), (
        f"error answered as {response.headers.get('content-type')}: {response.text[:200]!r}"
    )
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str), body
    return True


# Operations whose success changes the room for the next request to the same operation: after
# one of them succeeds, that operation gets a fresh room.
SPENDS_THE_ROOM = {
    "POST /api/v1/rooms/{room}/end",
    "POST /api/v1/rooms/{room}/leave",
    "POST /api/v1/rooms/{room}/host",
    "DELETE /api/v1/rooms/{room}/participants/{target}",
    "DELETE /api/v1/rooms/{room}/chat/messages/{message_id}",
    # …and those that change the account or its space.
    "POST /api/v1/me/delete",
    "POST /api/v1/me/password",
    "PATCH /api/v1/me",
    "DELETE /api/v1/sessions",
    "DELETE /api/v1/sessions/current",
    "DELETE /api/v1/sessions/{session_id}",
    "DELETE /api/v1/spaces/{space_id}",
    "DELETE /api/v1/spaces/{space_id}/members/{member_id}",
    "PATCH /api/v1/spaces/{space_id}/members/{member_id}",
    "DELETE /api/v1/spaces/{space_id}/invites/{code}",
    "DELETE /api/v1/channels/{channel_id}",
    "PATCH /api/v1/channels/{channel_id}",
    "DELETE /api/v1/channels/{channel_id}/messages/{message_id}",
}
# Routes of the account layer: the seated callers speak there as an account (Bearer).
ACCOUNT_ROUTES = (
    "/api/v1/me",
    "/api/v1/sessions",
    "/api/v1/spaces",
    "/api/v1/invites",
    "/api/v1/channels",
)
# A channel's messages are numbered, a room chat's are not: `message_id` there is the channel's.
CHANNEL_ROUTES = "/api/v1/channels"


@dataclass
class Meeting:
    """A room with a host, a guest and one chat message: what the path parameters name."""

    host: str
    guest: str
    account: str  # an account's session token, with a space, an invite and a session
    path: dict[str, str]
    channel_path: dict[str, Any]  # a channel in that space, with one message

    @classmethod
    def start(cls, http: requests.Session, base: str) -> Meeting:
        def identity() -> dict[str, str]:
            response = http.post(f"{base}/api/v1/identity")
            assert response.status_code == 201, response.text
            body: dict[str, str] = response.json()
            return body

        host, guest = identity(), identity()
        as_host = {"X-Participant-ID": host["token"]}
        room = http.post(
            f"{base}/api/v1/rooms", json={"display_name": "Host"}, headers=as_host
        ).json()
        joined = http.post(
            f"{base}/api/v1/rooms/{room['code']}/join",
            json={"display_name": "Guest"},
            headers={"X-Participant-ID": guest["token"]},
        )
        assert joined.status_code == 200, joined.text
        message = http.post(
            f"{base}/api/v1/rooms/{room['code']}/chat/messages",
            json={"content": "hello"},
            headers=as_host,
        ).json()
        registered = http.post(
            f"{base}/api/v1/accounts",
            json={
                "email": f"fuzz-{uuid.uuid4().hex}@example.org",
                "password": f"Fuzz-{uuid.uuid4().hex}",
                "display_name": "Fuzz",
            },
        )
        assert registered.status_code == 201, registered.text
        http.cookies.clear()  # the account speaks by Bearer token; the session cookie goes
        as_account = {"Authorization": f"Bearer {registered.json()['token']}"}
        space = http.get(f"{base}/api/v1/me", headers=as_account).json()["spaces"][0]
        invite = http.post(
            f"{base}/api/v1/spaces/{space['id']}/invites", json={}, headers=as_account
        ).json()
        session = http.get(f"{base}/api/v1/sessions", headers=as_account).json()["items"][0]
        channel = http.post(
            f"{base}/api/v1/spaces/{space['id']}/channels",
            json={"name": "general"},
            headers=as_account,
        ).json()
        said = http.post(
            f"{base}/api/v1/channels/{channel['id']}/messages",
            json={"content": "hello @everyone"},
            headers=as_account,
        ).json()
        return cls(
            host=host["token"],
            guest=guest["token"],
            account=registered.json()["token"],
            path={
                "room": room["code"],
                "target": guest["participant_id"],
                "message_id": message["id"],
                "space_id": space["id"],
                "member_id": registered.json()["account"]["id"],
                "session_id": session["id"],
                "code": invite["code"],
            },
            channel_path={
                "channel_id": channel["id"],
                "message_id": said["id"],
                "emoji": "👍",
            },
        )


@dataclass
class Served:
    base: str
    log: Path
    http: requests.Session = field(default_factory=requests.Session)


@pytest.fixture(scope="module")
def served(
    stores: conftest.TestStores, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A real `moot serve` on the test stores, its limits out of the fuzzer's way."""
    directory = tmp_path_factory.mktemp("fuzz")
    Redis.from_url(stores.redis_url).flushdb()
    port = free_port()
    log = directory / "serve.log"
    with log.open("wb") as out:
        process = start_moot(
            "serve",
            port,
            directory / "data",
            stores,
            output=out,
            cwd=directory,
            MOOT_RATE_LIMIT_ROOM_CREATE="100000/minute",
            MOOT_RATE_LIMIT_ROOM_JOIN="100000/minute",
            MOOT_RATE_LIMIT_PARTICIPANT_REQUESTS="100000/minute",
            MOOT_RATE_LIMIT_CHAT_MESSAGE="100000/second",
            MOOT_RATE_LIMIT_CHANNEL_MESSAGE="100000/second",
            MOOT_RATE_LIMIT_IDENTITY_CREATE="100000/minute",
            MOOT_RATE_LIMIT_ROOM_LOOKUP="100000/minute",
            MOOT_RATE_LIMIT_LOGIN_IP="100000/minute",
            MOOT_RATE_LIMIT_LOGIN_EMAIL="100000/minute",
            MOOT_RATE_LIMIT_ACCOUNT_CREATE="100000/minute",
            MOOT_RATE_LIMIT_PASSWORD_RESET_IP="100000/minute",
            MOOT_RATE_LIMIT_PASSWORD_RESET_EMAIL="100000/minute",
            MOOT_PASSWORD_HASH_MEMORY_KIB="1024",  # cheap hashes: sign-ins are many here
            MOOT_PASSWORD_HASH_ITERATIONS="1",
            MOOT_GLADIA_API_KEY="fuzz-key",  # start hands out worker tokens; no audio is sent
            MOOT_GLADIA_BASE_URL="http://127.0.0.1:9",
            # Reset requests are answered (202); their mail fails in the background, logged.
            MOOT_SMTP_URL="smtp://127.0.0.1:9",
            MOOT_PUBLIC_URL="http://moot.test",
        )
    base = f"http://127.0.0.1:{port}"
    try:
        schemathesis.openapi.from_url(f"{base}/docs/openapi.json", wait_for_schema=15)
        yield Served(base, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Sender(threading.Thread):
    """Sends the generated requests and checks the answers while the next ones are generated:
    generating is CPU work in this process, answering is the server's, so the two overlap.
    (Hypothesis cannot shrink a failure it does not see; each one is reported with a curl
    command that reproduces it instead.)"""

    def __init__(self, served: Served) -> None:
        super().__init__(name="fuzz-sender", daemon=True)
        self.served = served
        self.queue: queue.Queue[tuple[Any, bool, str] | None] = queue.Queue(maxsize=8)
        self.meetings: dict[str, Meeting] = {}
        self.sent: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.failures: dict[tuple[str, str], str] = {}  # (operation, first line) -> report

    def put(self, item: tuple[Any, bool, str] | None) -> None:
        while True:
            assert self.is_alive(), "the sender stopped"
            try:
                return self.queue.put(item, timeout=1)
            except queue.Full:
                continue

    def run(self) -> None:
        while (item := self.queue.get()) is not None:
            case, real_path, who = item
            label = f"{case.method} {case.path}"
            try:
                self.send(label, case, real_path, who)
            except (Exception, BaseExceptionGroup) as exc:  # failed checks, or no answer at all
                report = str(exc) or repr(exc)
                self.failures.setdefault((label, report.strip().splitlines()[0]), report)

    def send(self, label: str, case: Any, real_path: bool, who: str) -> None:
        served = self.served
        meeting = self.meetings.get(label)
        if meeting is None:
            meeting = self.meetings[label] = Meeting.start(served.http, served.base)
        if real_path:
            names = meeting.channel_path if case.path.startswith(CHANNEL_ROUTES) else {}
            # A new dict, so that schemathesis sees the change and judges the request anew.
            case.path_parameters = {
                name: names.get(name, meeting.path.get(name)) for name in case.path_parameters
            }
        credential = {"host": meeting.host, "guest": meeting.guest, "forged": FORGED}.get(who)
        headers = {"X-Participant-ID": credential} if credential else {}
        if case.path.startswith(ACCOUNT_ROUTES) and who in ("host", "guest"):
            headers = {"Authorization": f"Bearer {meeting.account}"}
        response = case.call(base_url=served.base, session=served.http, headers=headers)
        served.http.cookies.clear()  # a sign-in's cookie must not ride on the next request
        self.sent[label] += 1
        self.statuses[response.status_code] += 1
        if label in SPENDS_THE_ROOM and response.status_code < 300:
            del self.meetings[label]
        case.validate_response(
            response,
            checks=CHECKS,
            additional_checks=[error_body_is_moot_json],
            headers=headers,
            transport_kwargs={"base_url": served.base, "session": served.http},
        )


def test_every_operation_answers_as_its_schema_says(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.base}/docs/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the schema can be generated
        operations.append(result.ok())
    labels = {f"{operation.method.upper()} {operation.path}" for operation in operations}
    # Valid requests, and (one in three) requests the schema says are invalid.
    strategies = [
        operation.as_strategy(generation_mode=mode)
        for operation in operations
        for mode in (GenerationMode.POSITIVE, GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    sender = Sender(served)
    sender.start()

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(
        case=st.one_of(strategies),
        real_path=st.integers(0, 4).map(bool),  # four in five name the real room
        # Mostly a seat in the room; sometimes no credential (a fresh identity) or a forged one.
        who=st.sampled_from(["host", "host", "host", "guest", "guest", "nobody", "forged"]),
    )
    def generate(case: Any, real_path: bool, who: str) -> None:
        sender.put((case, real_path, who))

    try:
        generate()
    finally:
        sender.put(None)
        sender.join()
    sent = sender.sent
    print(f"{sum(sent.values())} requests; statuses {dict(sorted(sender.statuses.items()))}")
    print("\n".join(f"{count:5} {label}" for label, count in sorted(sent.items())))
    assert not sender.failures, "\n\n".join(
        [*sender.failures.values(), served.log.read_text(errors="replace")[-4000:]]
    )
    assert sum(sent.values()) >= EXAMPLES
    assert labels <= set(sent), labels - set(sent)
