"""ICE configuration for browsers: STUN, TURN with expiring credentials, fallback TURN.

TURN credentials follow the TURN REST API scheme that coturn checks with `use-auth-secret`:
the username is `<unix expiry>:<participant>`, the password is base64(HMAC-SHA1(secret,
username)). Nothing shared is ever handed out, and a leaked credential dies on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec


class IceServer(msgspec.Struct, omit_defaults=True):
    """One entry of RTCConfiguration.iceServers."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


def split_urls(value: str) -> list[str]:
    """A comma-separated list of URLs, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def _check_url(url: str) -> str:
    if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
        raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
    return url


def parse_fallback_servers(value: str) -> list[IceServer]:
    """Fallback TURN servers: a JSON list of iceServers entries, or comma-separated URLs.

    Raises ValueError with a readable reason; settings turn it into a ConfigError.
    """
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        try:
            servers = msgspec.json.decode(value, type=list[IceServer])
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from None
        for server in servers:
            if not server.urls:
                raise ValueError("an entry has no urls")
            for url in server.urls:
                _check_url(url)
        return servers
    return [IceServer(urls=[_check_url(url)]) for url in split_urls(value)]


def turn_credentials(
    secret: str, participant: str, ttl_seconds: int, now: float | None = None
) -> tuple[str, str]:
    """(username, credential) valid for `ttl_seconds` under coturn's `use-auth-secret`."""
    expiry = int(now if now is not None else time.time()) + ttl_seconds
    username = f"{expiry}:{participant}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


class IceConfig(msgspec.Struct):
    ice_servers: list[IceServer]
    ttl_seconds: int
    fallback_count: int


def ice_config(
    *,
    stun_servers: str,
    turn_servers: str,
    turn_secret: str,
    ttl_seconds: int,
    fallback_servers: str,
    participant: str,
    now: float | None = None,
) -> IceConfig:
    """The iceServers a participant's browser should use, primary servers first."""
    servers: list[IceServer] = []
    stun = [_check_url(url) for url in split_urls(stun_servers)]
    if stun:
        servers.append(IceServer(urls=stun))
    turn = [_check_url(url) for url in split_urls(turn_servers)]
    if turn and turn_secret:
        username, credential = turn_credentials(turn_secret, participant, ttl_seconds, now)
        servers.append(IceServer(urls=turn, username=username, credential=credential))
    fallback = parse_fallback_servers(fallback_servers)
    return IceConfig(
        ice_servers=servers + fallback, ttl_seconds=ttl_seconds, fallback_count=len(fallback)
    )
