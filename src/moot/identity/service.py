"""Anonymous identities: a public participant id plus a credential only the server can mint.

The credential is `<participant uuid>.<signature>` where the signature is an HMAC-SHA256 of
the id under the server secret. Other participants see the id, never the signature, and
without the secret nobody can compute it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from moot.errors import MootError
from moot.identity.schemas import Identity

_DOMAIN = b"moot.identity.v1|"
_SIGNATURE_LENGTH = 43  # unpadded base64url of 32 bytes


class IdentityService:
    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode()

    def _sign(self, participant_id: uuid.UUID) -> str:
        digest = hmac.new(self._key, _DOMAIN + participant_id.bytes, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def issue(self) -> Identity:
        participant_id = uuid.uuid4()
        return Identity(participant_id=participant_id, token=self.credential_for(participant_id))

    def credential_for(self, participant_id: uuid.UUID) -> str:
        return f"{participant_id}.{self._sign(participant_id)}"

    def verify(self, credential: str) -> uuid.UUID:
        """Return the participant id the credential proves, or raise 401 `invalid_credential`."""
        raw_id, sep, signature = credential.strip().partition(".")
        if not sep or len(signature) != _SIGNATURE_LENGTH:
            raise MootError("invalid_credential", "The X-Participant-ID credential is malformed.")
        try:
            participant_id = uuid.UUID(raw_id)
        except ValueError:
            raise MootError(
                "invalid_credential", "The X-Participant-ID credential is malformed."
            ) from None
        if not hmac.compare_digest(signature, self._sign(participant_id)):
            raise MootError(
                "invalid_credential",
                "The X-Participant-ID credential was not issued by this server.",
            )
        return participant_id
