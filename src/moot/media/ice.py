"""ICE configuration for browsers: STUN, TURN with expiring credentials, fallback TURN.

TURN credentials follow the TURN REST API scheme that coturn checks with `use-auth-secret`:
the username is `<unix expiry>:<participant>`, the password is base64(HMAC-SHA1(secret,
username)). A secret is never handed out, and a leaked credential dies on its own. The one
exception is a fallback server configured with a static username and password: the operator
chose it, and it goes out as configured (to participants of an active room only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import msgspec

from moot.settings import IceSettings


class IceServer(msgspec.Struct, omit_defaults=True):
    """One entry of RTCConfiguration.iceServers."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


def turn_credentials(
    secret: str, participant: str, ttl_seconds: int, now: float | None = None
) -> tuple[str, str]:
    """(username, credential) valid for `ttl_seconds` under coturn's `use-auth-secret`."""
    expiry = int(now if now is not None else time.time()) + ttl_seconds
    username = f"{expiry}:{participant}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def split_urls(value: str) -> list[str]:
    """A comma-separated list of URLs, blanks dropped."""
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_urls(value: str) -> tuple[str, ...]:
    """A comma-separated list of stun:/turn: URLs; ValueError names one that is not."""
    return tuple(_check_url(url) for url in split_urls(value))


def _check_url(url: str) -> str:
    if not url.startswith(("stun:", "stuns:", "turn:", "turns:")):
        raise ValueError(f"{url!r} is not a stun:, stuns:, turn: or turns: URL")
    return url


class FallbackServer(msgspec.Struct, omit_defaults=True, forbid_unknown_fields=True):
    """One configured fallback entry: an iceServers entry, or instead of its username and
    credential the server's own `static-auth-secret`, from which moot mints per-caller TURN
    REST credentials (the secret itself never leaves the server)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None
    secret: str | None = None

    def __repr__(self) -> str:  # never print the secret or the password
        return f"FallbackServer(urls={self.urls!r})"

    def for_caller(self, participant: str, ttl_seconds: int, now: float | None) -> IceServer:
        if self.secret:
            username, credential = turn_credentials(self.secret, participant, ttl_seconds, now)
            return IceServer(urls=self.urls, username=username, credential=credential)
        return IceServer(urls=self.urls, username=self.username, credential=self.credential)


def parse_fallback_servers(value: str, turn_secret: str = "") -> list[FallbackServer]:
    """Fallback TURN servers: a JSON list of iceServers entries (each with a username and
    credential, or a `secret`), or comma-separated URLs. A browser refuses a turn: URL that
    comes without credentials, so in the comma-separated form those share MOOT_TURN_SECRET
    (credentials are minted with it per caller), and without one they are refused.

    Raises ValueError with a readable reason; settings turn it into a ConfigError.
    """
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        try:
            servers = msgspec.json.decode(value, type=list[FallbackServer])
        except msgspec.DecodeError as exc:
            raise ValueError(str(exc)) from None
        for server in servers:
            if not server.urls:
                raise ValueError("an entry has no urls")
            if server.secret and (server.username or server.credential):
                raise ValueError("an entry has a secret and a username or credential: pick one")
            for url in server.urls:
                _check_url(url)
        return servers
    servers = []
    for url in split_urls(value):
        if not _check_url(url).startswith("turn"):
            servers.append(FallbackServer(urls=[url]))
        elif turn_secret:
            servers.append(FallbackServer(urls=[url], secret=turn_secret))
        else:
            raise ValueError(
                f"{url} has no credentials: set MOOT_TURN_SECRET (shared with it) or list it "
                'as JSON with "username" and "credential", or a "secret"'
            )
    return servers


class IceConfig(msgspec.Struct):
    ice_servers: list[IceServer]
    ttl_seconds: int
    fallback_count: int


def ice_config(
    ice: IceSettings,
    *,
    ttl_seconds: int,
    participant: str,
    own_stun: str | None = None,
    now: float | None = None,
) -> IceConfig:
    """The iceServers a participant's browser should use: the configured STUN and TURN
    servers first, then moot's own STUN server (`own_stun`), then the fallbacks."""
    servers: list[IceServer] = []
    if ice.stun_urls:
        servers.append(IceServer(urls=list(ice.stun_urls)))
    if ice.turn_urls and ice.turn_secret:
        username, credential = turn_credentials(ice.turn_secret, participant, ttl_seconds, now)
        servers.append(
            IceServer(urls=list(ice.turn_urls), username=username, credential=credential)
        )
    if own_stun:
        servers.append(IceServer(urls=[own_stun]))
    fallback = [server.for_caller(participant, ttl_seconds, now) for server in ice.fallback]
    return IceConfig(
        ice_servers=servers + fallback, ttl_seconds=ttl_seconds, fallback_count=len(fallback)
    )
