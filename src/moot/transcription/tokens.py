"""Short-lived worker tokens: `<base64url payload>.<base64url HMAC-SHA256>`.

A token binds one room, one participant and one transcription run (`run`, a random id that
`start` stores in Redis); the worker refuses it once it expires or once the run is stopped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import msgspec

from moot.errors import MootError

_DOMAIN = b"moot.transcription.v1|"


class WorkerClaims(msgspec.Struct, frozen=True):
    room_id: uuid.UUID
    participant_id: uuid.UUID
    run: str
    exp: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class WorkerTokens:
    def __init__(self, secret_key: str, ttl_seconds: int) -> None:
        self._key = secret_key.encode()
        self.ttl_seconds = ttl_seconds

    def _sign(self, payload: bytes) -> str:
        return _b64(hmac.new(self._key, _DOMAIN + payload, hashlib.sha256).digest())

    def issue(self, room_id: uuid.UUID, participant_id: uuid.UUID, run: str) -> str:
        claims = WorkerClaims(room_id, participant_id, run, int(time.time()) + self.ttl_seconds)
        payload = msgspec.json.encode(claims)
        return f"{_b64(payload)}.{self._sign(payload)}"

    def verify(self, token: str, now: float | None = None) -> WorkerClaims:
        body, _, signature = token.partition(".")
        try:
            payload = _unb64(body)
        except ValueError:
            raise MootError("invalid_credential", "The worker token is malformed.") from None
        if not signature or not hmac.compare_digest(signature, self._sign(payload)):
            raise MootError("invalid_credential", "The worker token was not issued here.")
        try:
            claims = msgspec.json.decode(payload, type=WorkerClaims)
        except msgspec.DecodeError:
            raise MootError("invalid_credential", "The worker token is malformed.") from None
        if claims.exp < (now if now is not None else time.time()):
            raise MootError("invalid_credential", "The worker token has expired.")
        return claims
