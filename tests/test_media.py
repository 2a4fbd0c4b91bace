"""LiveKit mode against a loopback stand-in of LiveKit's Twirp API; ICE configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from livekit import api
from redis.asyncio import Redis

from moot.media.ice import parse_fallback_servers, turn_credentials
from moot.settings import ConfigError, load_settings
from tests.conftest import Guest, LiveMoot, Moot, MootFactory
from tests.livekit_standin import KEY, SECRET, LiveKitStandIn, StandIn, post_webhook
from tests.test_chat_ws import meeting as ws_meeting
from tests.test_chat_ws import next_of, socket


@pytest.fixture
async def livekit() -> AsyncIterator[StandIn]:
    async with LiveKitStandIn() as state:
        yield state


async def livekit_moot(factory: MootFactory, livekit: StandIn, **overrides: Any) -> Moot:
    return await factory(
        livekit_url=livekit.url,
        livekit_api_key=KEY,
        livekit_api_secret=SECRET,
        livekit_timeout_seconds=2.0,
        **overrides,
    )


async def meeting(moot: Moot) -> tuple[dict[str, Any], Guest, Guest]:
    host, guest = await moot.guest(), await moot.guest()
    room = await host.create_room(display_name="Ada", max_participants=8)
    assert (await guest.join(room["code"], "Grace")).status_code == 200
    return room, host, guest


async def lapse_claim(redis: Redis, room: dict[str, Any]) -> None:
    """What time does to moot's note that it created the LiveKit room (media/livekit.py)."""
    assert await redis.delete(f"livekit:room:{room['livekit_room_name']}") == 1


def verify(token: str) -> api.access_token.Claims:
    return api.TokenVerifier(KEY, SECRET).verify(token)


# -- rooms and tokens ----------------------------------------------------------------------


async def test_creating_a_room_creates_its_livekit_room(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit, livekit_empty_timeout_seconds=120)
    room, _, _ = await meeting(moot)

    created = livekit.rooms[room["livekit_room_name"]]
    assert created.max_participants == 8
    assert (room["capacity"], room["capacity_limited_by"]) == (8, "room")  # an SFU: no mesh cap
    assert created.empty_timeout == 120
    call = livekit.calls[0]
    assert call.method == "CreateRoom" and call.grants.room_create


async def test_tokens_grant_one_room_with_the_participants_identity_and_role(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit, livekit_token_ttl_seconds=300)
    room, host, guest = await meeting(moot)

    for who, name, role in ((host, "Ada", "host"), (guest, "Grace", "participant")):
        response = await who.post(f"/api/v1/rooms/{room['code']}/media/token")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["mode"] == "livekit"
        assert body["url"] == livekit.url
        assert body["room_name"] == room["livekit_room_name"]
        assert body["expires_in"] == 300
        claims = verify(body["token"])
        assert claims.identity == who.participant_id
        assert claims.name == name
        assert json.loads(claims.metadata) == {"role": role}
        assert claims.video is not None
        assert claims.video.room == room["livekit_room_name"]
        assert claims.video.room_join is True
        assert claims.video.room_admin is (role == "host")
        assert claims.video.room_create is not True
        # Short-lived: the JWT expires after the configured TTL.
        payload = json.loads(base64.urlsafe_b64decode(body["token"].split(".")[1] + "=="))
        assert payload["exp"] - payload["nbf"] == 300


async def test_creating_and_joining_hand_out_media_access_without_a_second_request(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    host, guest = await moot.guest(), await moot.guest()
    room = await host.create_room(display_name="Ada")
    # Creating the room made it on LiveKit; the host's token needs no second CreateRoom.
    assert livekit.methods() == ["CreateRoom"]
    joined = await guest.join(room["code"], "Grace")
    assert joined.status_code == 200

    for who, session in ((host, room), (guest, joined.json())):
        media = session["media"]
        assert media["mode"] == "livekit"
        assert media["url"] == livekit.url
        assert media["room_name"] == room["livekit_room_name"]
        assert verify(media["token"]).identity == who.participant_id


async def test_a_livekit_room_is_created_once_however_many_join(
    moot_factory: MootFactory, livekit: StandIn, redis: Redis
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    host = await moot.guest()
    room = await host.create_room(display_name="Ada", max_participants=10)
    for number in range(9):
        guest = await moot.guest()
        joined = await guest.join(room["code"], f"Guest {number}")
        assert joined.json()["media"]["mode"] == "livekit"
        token = await guest.post(f"/api/v1/rooms/{room['code']}/media/token")
        assert token.status_code == 200, token.text
    assert livekit.methods().count("CreateRoom") == 1

    # Once moot itself deleted the LiveKit room (the meeting's end), nothing is remembered:
    # a new meeting under the same LiveKit name would be created again.
    assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
    assert await redis.exists(f"livekit:room:{room['livekit_room_name']}") == 0


async def test_a_join_while_livekit_is_down_succeeds_without_media_access(
    moot_factory: MootFactory, livekit: StandIn, redis: Redis
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    host, guest = await moot.guest(), await moot.guest()
    room = await host.create_room(display_name="Ada")
    await lapse_claim(redis, room)  # long enough ago that the next join asks LiveKit again
    livekit.fail_with = (503, "unavailable")

    joined = await guest.join(room["code"], "Grace")
    assert joined.status_code == 200
    assert joined.json()["media"] is None
    assert joined.json()["you"]["display_name"] == "Grace"
    # The token endpoint says why; once LiveKit is back it hands out the token.
    path = f"/api/v1/rooms/{room['code']}/media/token"
    refused = await guest.post(path)
    assert (refused.status_code, refused.json()["code"]) == (503, "media_unavailable")
    livekit.fail_with = None
    assert verify((await guest.post(path)).json()["token"]).identity == guest.participant_id


async def test_a_token_recreates_a_livekit_room_that_timed_out(
    moot_factory: MootFactory, livekit: StandIn, redis: Redis
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, _ = await meeting(moot)
    # LiveKit closed the empty room after its empty timeout; by then moot's claim on it, half
    # that timeout long, has lapsed too.
    livekit.rooms.clear()
    await lapse_claim(redis, room)

    assert (await host.post(f"/api/v1/rooms/{room['code']}/media/token")).status_code == 200
    assert livekit.rooms[room["livekit_room_name"]].max_participants == 8


async def test_only_current_participants_get_tokens(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    stranger = await moot.guest()
    path = f"/api/v1/rooms/{room['code']}/media/token"

    assert (await stranger.post(path)).json()["code"] == "not_a_participant"
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200
    assert (await guest.post(path)).status_code == 403
    assert (await host.post("/api/v1/rooms/zzz-zzzz-zzz/media/token")).status_code == 404
    assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
    ended = await host.post(path)
    assert (ended.status_code, ended.json()["code"]) == (410, "room_ended")
    forged = await moot.http.post(path, headers={"X-Participant-ID": "nope.nope"})
    assert forged.status_code == 401


async def test_livekit_mode_has_no_mesh_limit(moot_factory: MootFactory, livekit: StandIn) -> None:
    moot = await livekit_moot(moot_factory, livekit, mesh_max_participants=2)
    room, _, _ = await meeting(moot)
    third = await moot.guest()
    assert (await third.join(room["code"], "Third")).status_code == 200


# -- host actions mirrored to LiveKit ------------------------------------------------------


async def test_ending_a_room_deletes_its_livekit_room(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, _ = await meeting(moot)

    assert (await host.post(f"/api/v1/rooms/{room['code']}/end")).status_code == 200
    assert room["livekit_room_name"] not in livekit.rooms
    assert livekit.methods()[-1] == "DeleteRoom"


async def test_ending_works_when_livekit_already_closed_the_room(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, _ = await meeting(moot)
    livekit.rooms.clear()

    response = await host.post(f"/api/v1/rooms/{room['code']}/end")
    assert response.status_code == 200
    assert response.json()["status"] == "ended"


async def test_removing_a_participant_removes_their_media(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    name = room["livekit_room_name"]
    livekit.connect(name, guest.participant_id, api.TrackType.AUDIO)

    response = await host.delete(
        f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}"
    )
    assert response.status_code == 200
    assert (name, guest.participant_id) not in livekit.participants
    removal = livekit.calls[-1]
    assert removal.method == "RemoveParticipant"
    assert removal.request.identity == guest.participant_id
    assert removal.grants.room_admin and removal.grants.room == name


async def test_removing_someone_whose_media_never_connected_still_works(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    response = await host.delete(
        f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}"
    )
    assert response.status_code == 200
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/media/token")).status_code == 403


async def test_host_mutes_a_participants_audio_on_livekit(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    info = livekit.connect(
        room["livekit_room_name"], guest.participant_id, api.TrackType.AUDIO, api.TrackType.VIDEO
    )
    path = f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}/mute"

    response = await host.post(path, json={"kind": "audio"})
    assert response.status_code == 200, response.text
    audio, video = info.tracks
    assert response.json() == {"mode": "livekit", "muted_tracks": [audio.sid], "requested": False}
    assert audio.muted and not video.muted
    # No body means audio; already-muted tracks are left alone.
    assert (await host.post(path)).json()["muted_tracks"] == []
    assert (await host.post(path, json={"kind": "all"})).json()["muted_tracks"] == [video.sid]

    assert (
        await guest.post(f"/api/v1/rooms/{room['code']}/participants/{host.participant_id}/mute")
    ).json()["code"] == "not_host"
    assert (await host.post(path, json={"kind": "smell"})).status_code == 422
    stranger = await moot.guest()
    missing = await host.post(
        f"/api/v1/rooms/{room['code']}/participants/{stranger.participant_id}/mute"
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "participant_not_found")


async def test_muting_someone_without_media_is_a_clear_conflict(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    response = await host.post(
        f"/api/v1/rooms/{room['code']}/participants/{guest.participant_id}/mute"
    )
    assert (response.status_code, response.json()["code"]) == (409, "media_not_connected")


# -- LiveKit failures leave moot's state as it was ------------------------------------------


async def active_rooms(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM rooms WHERE status = 'active'"))


async def test_livekit_down_refuses_room_creation_and_writes_nothing(
    moot_factory: MootFactory, db: asyncpg.Connection
) -> None:
    async with LiveKitStandIn() as livekit:
        url = livekit.url
    # The stand-in is gone: nothing listens on its port any more.
    moot = await moot_factory(
        livekit_url=url,
        livekit_api_key=KEY,
        livekit_api_secret=SECRET,
        livekit_timeout_seconds=1.0,
    )
    host = await moot.guest()
    response = await host.post("/api/v1/rooms", json={})
    assert (response.status_code, response.json()["code"]) == (503, "media_unavailable")
    assert await active_rooms(db) == 0
    assert await db.fetchval("SELECT count(*) FROM room_participants") == 0


async def test_livekit_errors_map_to_502_and_503_without_changing_the_room(
    moot_factory: MootFactory, livekit: StandIn, db: asyncpg.Connection
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    code = room["code"]
    remove = f"/api/v1/rooms/{code}/participants/{guest.participant_id}"

    livekit.fail_with = (503, "unavailable")
    for response in (await host.post(f"/api/v1/rooms/{code}/end"), await host.delete(remove)):
        assert (response.status_code, response.json()["code"]) == (503, "media_unavailable")
    livekit.fail_with = (403, "permission_denied")
    for response in (await host.post(f"/api/v1/rooms/{code}/end"), await host.delete(remove)):
        assert response.status_code == 502
        assert response.json()["code"] == "media_server_error"
        assert response.json()["livekit_code"] == "permission_denied"
    token = await guest.post(f"/api/v1/rooms/{code}/media/token")
    assert (token.status_code, token.json()["code"]) == (502, "media_server_error")

    # Nothing changed: the room is active and the guest still has their seat.
    assert (await host.get(f"/api/v1/rooms/{code}")).json()["status"] == "active"
    people = (await host.get(f"/api/v1/rooms/{code}/participants")).json()["items"]
    assert {p["participant_id"] for p in people} == {host.participant_id, guest.participant_id}

    livekit.fail_with = None
    assert (await host.delete(remove)).status_code == 200
    assert (await host.post(f"/api/v1/rooms/{code}/end")).status_code == 200


async def test_leaving_works_while_livekit_is_down(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, guest = await meeting(moot)
    livekit.fail_with = (503, "unavailable")
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/leave")).status_code == 200


async def test_cleanup_closes_the_livekit_room_of_a_meeting_it_ended(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, _ = await meeting(moot)
    await moot.app.state.services.rooms.room_closed(uuid.UUID(room["id"]), "cleanup")
    assert room["livekit_room_name"] not in livekit.rooms
    livekit.fail_with = (503, "unavailable")
    # Logged, not raised:
    await moot.app.state.services.rooms.room_closed(uuid.UUID(room["id"]), "cleanup")


# -- webhooks ------------------------------------------------------------------------------


def participant_event(kind: str, room: dict[str, Any], identity: str, sid: str) -> api.WebhookEvent:
    return api.WebhookEvent(
        event=kind,
        id=f"EV_{uuid.uuid4().hex[:12]}",
        created_at=int(time.time()),
        room=api.Room(name=room["livekit_room_name"], sid="RM_1"),
        participant=api.ParticipantInfo(identity=identity, sid=sid),
    )


async def seat(db: asyncpg.Connection, participant_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT livekit_sid, left_at, left_reason, role FROM room_participants "
        "WHERE participant_id = $1 ORDER BY joined_at DESC LIMIT 1",
        uuid.UUID(participant_id),
    )
    assert row is not None
    return row


async def test_webhook_records_the_livekit_session_on_join(
    moot_factory: MootFactory, livekit: StandIn, db: asyncpg.Connection
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, guest = await meeting(moot)
    body, auth = livekit.webhook(
        participant_event("participant_joined", room, guest.participant_id, "PA_1")
    )

    response = await post_webhook(moot.http, body, auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"event": "participant_joined", "applied": True}
    assert (await seat(db, guest.participant_id))["livekit_sid"] == "PA_1"
    # "Bearer <token>" is accepted as well as LiveKit's bare token.
    assert (await post_webhook(moot.http, body, f"Bearer {auth}")).status_code == 200


async def test_webhook_participant_left_ends_only_that_media_session(
    moot_factory: MootFactory, livekit: StandIn, db: asyncpg.Connection
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, host, guest = await meeting(moot)
    for who, sid in ((host, "PA_host"), (guest, "PA_guest")):
        body, auth = livekit.webhook(
            participant_event("participant_joined", room, who.participant_id, sid)
        )
        assert (await post_webhook(moot.http, body, auth)).json()["applied"] is True

    # A left event for an older session of the host (they reconnected since) changes nothing.
    stale, auth = livekit.webhook(
        participant_event("participant_left", room, host.participant_id, "PA_old")
    )
    assert (await post_webhook(moot.http, stale, auth)).json() == {
        "event": "participant_left",
        "applied": False,
    }
    assert (await seat(db, host.participant_id))["left_at"] is None

    # The host's current session ends: they left, and the host role passes to the guest.
    body, auth = livekit.webhook(
        participant_event("participant_left", room, host.participant_id, "PA_host")
    )
    assert (await post_webhook(moot.http, body, auth)).json()["applied"] is True
    left = await seat(db, host.participant_id)
    assert left["left_at"] is not None and left["left_reason"] == "left"
    assert (await seat(db, guest.participant_id))["role"] == "host"
    # Delivered twice (LiveKit retries): nothing more happens.
    assert (await post_webhook(moot.http, body, auth)).json()["applied"] is False

    # room_finished (LiveKit closing an empty media room) does not end the meeting.
    finished = api.WebhookEvent(
        event="room_finished",
        id="EV_f",
        created_at=int(time.time()),
        room=api.Room(name=room["livekit_room_name"]),
    )
    body, auth = livekit.webhook(finished)
    assert (await post_webhook(moot.http, body, auth)).json() == {
        "event": "room_finished",
        "applied": False,
    }
    assert (await guest.get(f"/api/v1/rooms/{room['code']}")).json()["status"] == "active"
    # …but moot forgets it created that media room: the next join creates it again.
    calls = livekit.methods().count("CreateRoom")
    assert (await guest.post(f"/api/v1/rooms/{room['code']}/media/token")).status_code == 200
    assert livekit.methods().count("CreateRoom") == calls + 1


async def test_a_replayed_webhook_is_not_applied_again(
    moot_factory: MootFactory, livekit: StandIn, db: asyncpg.Connection, redis: Redis
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, guest = await meeting(moot)
    first = participant_event("participant_joined", room, guest.participant_id, "PA_first")
    replay = livekit.webhook(first)
    assert (await post_webhook(moot.http, *replay)).json()["applied"] is True
    # The guest reconnects: LiveKit reports their new session.
    later = participant_event("participant_joined", room, guest.participant_id, "PA_later")
    assert (await post_webhook(moot.http, *livekit.webhook(later))).json()["applied"] is True

    # Someone who captured the first signed delivery sends it again: 200, nothing changes.
    response = await post_webhook(moot.http, *replay)
    assert response.status_code == 200
    assert response.json() == {"event": "participant_joined", "applied": False}
    assert (await seat(db, guest.participant_id))["livekit_sid"] == "PA_later"

    # The delivery is remembered for as long as its signature verifies (the stand-in signs
    # as livekit-api does by default: 6 hours, plus the verifier's minute of leeway).
    remembered = await redis.ttl(f"livekit:webhook:{first.id}")
    assert 6 * 3600 - 5 <= remembered <= 6 * 3600 + 60


async def test_webhooks_with_a_bad_signature_are_refused(
    moot_factory: MootFactory, livekit: StandIn, db: asyncpg.Connection
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, guest = await meeting(moot)
    event = participant_event("participant_joined", room, guest.participant_id, "PA_x")
    body, auth = livekit.webhook(event)
    _, forged = livekit.webhook(event, secret="not-the-secret-but-long-enough-for-hs256")

    cases = [
        (body, forged),  # signed with another secret
        (body.replace("PA_x", "PA_y"), auth),  # body changed after signing
        (body, ""),  # no token at all
        (body, "garbage"),
    ]
    for payload, authorization in cases:
        response = await post_webhook(moot.http, payload, authorization)
        assert response.status_code == 401, payload
        assert response.json()["code"] == "invalid_webhook_signature"
    assert (await seat(db, guest.participant_id))["livekit_sid"] is None


async def test_webhooks_for_strangers_and_other_identities_change_nothing(
    moot_factory: MootFactory, livekit: StandIn
) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    room, _, _ = await meeting(moot)
    for identity in ("agent-transcriber", str(uuid.uuid4())):
        body, auth = livekit.webhook(participant_event("participant_joined", room, identity, "PA"))
        assert (await post_webhook(moot.http, body, auth)).json()["applied"] is False
    other = dict(room, livekit_room_name="moot-not-ours")
    body, auth = livekit.webhook(
        participant_event("participant_left", other, str(uuid.uuid4()), "PA")
    )
    assert (await post_webhook(moot.http, body, auth)).json()["applied"] is False


async def test_the_webhook_is_404_without_livekit(moot: Moot) -> None:
    response = await post_webhook(moot.http, "{}", "token")
    assert (response.status_code, response.json()["code"]) == (404, "livekit_not_configured")


BOTH_SECRET_AND_USERNAME = '[{"urls": ["turn:x"], "secret": "s", "username": "u"}]'

# -- ICE configuration ---------------------------------------------------------------------


async def webrtc(moot: Moot) -> tuple[Guest, dict[str, Any], httpx.Response]:
    """A guest in a fresh room, the room, and the guest's ICE configuration for it."""
    host, guest = await moot.guest(), await moot.guest()
    room = await host.create_room()
    assert (await guest.join(room["code"], "Grace")).status_code == 200
    return guest, room, await guest.get(f"/api/v1/rooms/{room['code']}/media/webrtc")


async def test_webrtc_config_hands_out_expiring_turn_credentials(moot_factory: MootFactory) -> None:
    moot = await moot_factory(
        stun_servers="stun:stun.example.net:3478",
        turn_servers="turn:turn.example.net:3478?transport=udp,turns:turn.example.net:5349",
        turn_secret="coturn-shared-secret",
        turn_credential_ttl_seconds=3600,
        turn_fallback_servers=json.dumps(
            [{"urls": ["turn:backup.example.net:3478"], "username": "u", "credential": "p"}]
        ),
    )
    before = int(time.time())
    guest, _, response = await webrtc(moot)
    assert response.status_code == 200
    config = response.json()
    assert config["mode"] == "mesh" and config["mesh_max_participants"] == 100
    assert config["ttl_seconds"] == 3600 and config["fallback_count"] == 1
    stun, turn, fallback = config["iceServers"]
    assert stun == {"urls": ["stun:stun.example.net:3478"]}
    assert turn["urls"] == [
        "turn:turn.example.net:3478?transport=udp",
        "turns:turn.example.net:5349",
    ]
    expiry, _, who = turn["username"].partition(":")
    assert who == guest.participant_id
    assert before + 3600 <= int(expiry) <= int(time.time()) + 3600
    expected = hmac.new(b"coturn-shared-secret", turn["username"].encode(), hashlib.sha1)
    assert turn["credential"] == base64.b64encode(expected.digest()).decode()
    assert fallback == {
        "urls": ["turn:backup.example.net:3478"],
        "username": "u",
        "credential": "p",
    }
    assert "coturn-shared-secret" not in response.text


TURN = {"turn_servers": "turn:turn.example.net:3478", "turn_secret": "coturn-shared-secret"}


async def test_turn_credentials_go_to_participants_of_an_active_room_only(
    moot_factory: MootFactory,
) -> None:
    moot = await moot_factory(**TURN)
    guest, room, response = await webrtc(moot)
    assert response.status_code == 200
    outsider = await moot.guest()
    refused = {
        "no room named": (await outsider.get("/api/v1/config/webrtc"), 403, "not_a_participant"),
        "not in the room": (
            await outsider.get(f"/api/v1/rooms/{room['code']}/media/webrtc"),
            403,
            "not_a_participant",
        ),
        "unknown room": (
            await guest.get("/api/v1/rooms/aaa-aaaa-aaa/media/webrtc"),
            404,
            "room_not_found",
        ),
    }
    for case, (answer, status, code) in refused.items():
        assert (answer.status_code, answer.json()["code"]) == (status, code), case
        assert "iceServers" not in answer.json(), case

    # The old path still serves clients that name the room (by code or id).
    for ref in (room["code"], room["id"]):
        named = await guest.get("/api/v1/config/webrtc", params={"room": ref})
        assert named.status_code == 200 and named.json()["iceServers"][0]["urls"] == [
            "turn:turn.example.net:3478"
        ]

    host = await moot.guest()
    ended = await host.create_room()
    assert (await host.post(f"/api/v1/rooms/{ended['code']}/end")).status_code == 200
    answer = await host.get(f"/api/v1/rooms/{ended['code']}/media/webrtc")
    assert (answer.status_code, answer.json()["code"]) == (410, "room_ended")


async def test_turn_credentials_die_with_the_room_and_within_the_cap(
    moot_factory: MootFactory, db: asyncpg.Connection
) -> None:
    moot = await moot_factory(**TURN, turn_credential_ttl_seconds=4 * 3600)
    guest, room, response = await webrtc(moot)
    # A day-long room: the cap, not the day.
    assert response.json()["ttl_seconds"] == 4 * 3600
    await db.execute(
        "UPDATE rooms SET expires_at = now() + interval '1 hour' WHERE id = $1",
        uuid.UUID(room["id"]),
    )
    config = (await guest.get(f"/api/v1/rooms/{room['code']}/media/webrtc")).json()
    assert 3600 - 60 <= config["ttl_seconds"] <= 3600
    expiry = int(config["iceServers"][0]["username"].partition(":")[0])
    assert expiry <= time.time() + 3600
    # Past its expiry but not yet ended by cleanup: a minute, never a dead credential.
    await db.execute(
        "UPDATE rooms SET expires_at = now() - interval '1 minute' WHERE id = $1",
        uuid.UUID(room["id"]),
    )
    config = (await guest.get(f"/api/v1/rooms/{room['code']}/media/webrtc")).json()
    assert config["ttl_seconds"] == 60


async def test_fallback_servers_with_a_secret_get_per_caller_credentials(
    moot_factory: MootFactory,
) -> None:
    fallback = [{"urls": ["turns:backup.example.net:5349"], "secret": "backup-coturn-secret"}]
    moot = await moot_factory(turn_fallback_servers=json.dumps(fallback))
    guest, _, response = await webrtc(moot)
    assert response.status_code == 200, response.text
    (server,) = response.json()["iceServers"]
    assert server["urls"] == ["turns:backup.example.net:5349"]
    assert server["username"].endswith(f":{guest.participant_id}")
    expected = hmac.new(b"backup-coturn-secret", server["username"].encode(), hashlib.sha1)
    assert server["credential"] == base64.b64encode(expected.digest()).decode()
    assert "backup-coturn-secret" not in response.text


async def test_webrtc_config_without_turn_is_just_stun(moot_factory: MootFactory) -> None:
    moot = await moot_factory(stun_servers="stun:a.example:3478, stun:b.example:3478")
    config = (await webrtc(moot))[2].json()
    assert config["iceServers"] == [{"urls": ["stun:a.example:3478", "stun:b.example:3478"]}]
    assert config["fallback_count"] == 0


async def test_webrtc_config_in_livekit_mode(moot_factory: MootFactory, livekit: StandIn) -> None:
    moot = await livekit_moot(moot_factory, livekit)
    config = (await webrtc(moot))[2].json()
    assert config["mode"] == "livekit" and config["mesh_max_participants"] is None


def test_turn_credentials_follow_the_turn_rest_scheme() -> None:
    username, credential = turn_credentials("s3cret", "alice", 60, now=1_700_000_000)
    assert username == "1700000060:alice"
    digest = hmac.new(b"s3cret", b"1700000060:alice", hashlib.sha1).digest()
    assert credential == base64.b64encode(digest).decode()


@pytest.mark.parametrize(
    ("value", "urls"),
    [
        ("", []),
        (
            "turn:a.example:3478, turns:b.example:5349",
            [["turn:a.example:3478"], ["turns:b.example:5349"]],
        ),
        (
            '[{"urls": ["turn:c.example"], "username": "u", "credential": "p"}]',
            [["turn:c.example"]],
        ),
    ],
)
def test_fallback_servers_read_json_or_csv(value: str, urls: list[list[str]]) -> None:
    assert [server.urls for server in parse_fallback_servers(value, "shared")] == urls


def test_comma_separated_turn_fallbacks_get_credentials_or_are_refused() -> None:
    """A turn: entry without credentials makes the browser's RTCPeerConnection throw."""
    servers = parse_fallback_servers("stun:s.example, turn:t.example", "shared-secret")
    stun_entry, turn_entry = (server.for_caller("p1", 600, None) for server in servers)
    assert stun_entry.username is None and stun_entry.credential is None
    assert turn_entry.username is not None and turn_entry.username.endswith(":p1")
    assert turn_entry.credential
    with pytest.raises(ValueError, match="MOOT_TURN_SECRET"):
        parse_fallback_servers("turn:t.example")
    assert [s.urls for s in parse_fallback_servers("stun:s.example")] == [["stun:s.example"]]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"MOOT_TURN_FALLBACK_SERVERS": "[{oops"}, "MOOT_TURN_FALLBACK_SERVERS"),
        ({"MOOT_TURN_FALLBACK_SERVERS": "http://not-turn.example"}, "MOOT_TURN_FALLBACK_SERVERS"),
        ({"MOOT_TURN_FALLBACK_SERVERS": '[{"urls": []}]'}, "MOOT_TURN_FALLBACK_SERVERS"),
        (
            {"MOOT_TURN_FALLBACK_SERVERS": BOTH_SECRET_AND_USERNAME},
            "MOOT_TURN_FALLBACK_SERVERS",
        ),
        ({"MOOT_TURN_SERVERS": "turn:a.example"}, "MOOT_TURN_SECRET"),
        ({"MOOT_LIVEKIT_URL": "wss://lk.example"}, "MOOT_LIVEKIT_API_KEY"),
        ({"MOOT_MESH_MAX_PARTICIPANTS": "1"}, "MOOT_MESH_MAX_PARTICIPANTS"),
    ],
)
def test_bad_media_settings_name_the_variable(
    env: dict[str, str], named: str, tmp_path: Any
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_settings(environ=env, env_dir=tmp_path)


def test_the_livekit_server_api_url_defaults_to_the_client_url(tmp_path: Any) -> None:
    env = {
        "MOOT_LIVEKIT_URL": "wss://lk.example/",
        "MOOT_LIVEKIT_API_KEY": "k",
        "MOOT_LIVEKIT_API_SECRET": "s",
    }
    assert load_settings(environ=env, env_dir=tmp_path).livekit_server_url() == "https://lk.example"
    env["MOOT_LIVEKIT_API_URL"] = "http://livekit:7880"
    assert (
        load_settings(environ=env, env_dir=tmp_path).livekit_server_url() == "http://livekit:7880"
    )


async def test_a_media_session_ending_during_a_reload_leaves_the_seat_to_presence(
    live_factory: Callable[..., Awaitable[LiveMoot]], livekit: StandIn, db: asyncpg.Connection
) -> None:
    """A reload disconnects LiveKit before the page comes back: while the room socket is open
    or within its grace period, LiveKit's participant_left does not end the seat (nor pass
    the host role on); presence decides when someone has really gone."""
    live = await live_factory(
        livekit_url=livekit.url,
        livekit_api_key=KEY,
        livekit_api_secret=SECRET,
        livekit_timeout_seconds=2.0,
        presence_grace_seconds=30,
    )
    room, host, _ = await ws_meeting(live)
    joined, auth = livekit.webhook(
        participant_event("participant_joined", room, host.participant_id, "PA_host")
    )
    assert (await post_webhook(live.http, joined, auth)).json()["applied"] is True
    async with socket(live, room["code"], host) as ws:
        await next_of(ws, "ready")
    # The page unloaded: its socket closed, and LiveKit says the media session ended.
    left, auth = livekit.webhook(
        participant_event("participant_left", room, host.participant_id, "PA_host")
    )
    assert (await post_webhook(live.http, left, auth)).json()["applied"] is False
    kept = await seat(db, host.participant_id)
    assert kept["left_at"] is None and kept["role"] == "host"
