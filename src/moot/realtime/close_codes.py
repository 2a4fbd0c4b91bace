"""Every WebSocket close code moot sends, in one table: the room socket, the gateway, the
transcription worker and the web client (web/src/closeCodes.ts is generated from it) agree.

Codes below 4000 are RFC 6455's, taken from Litestar; 4000-4999 are ours, and echo the HTTP
status that means the same thing (4401 ~ 401, 4410 ~ 410).
"""

from __future__ import annotations

from enum import IntEnum

from litestar import status_codes as ws


class CloseCode(IntEnum):
    NORMAL = ws.WS_1000_NORMAL_CLOSURE  # the participant left the room
    INVALID_DATA = ws.WS_1007_INVALID_FRAME_PAYLOAD_DATA  # audio that is not PCM16
    POLICY = ws.WS_1008_POLICY_VIOLATION  # too many audio chunks per second
    TOO_BIG = ws.WS_1009_MESSAGE_TOO_BIG  # an audio chunk over the limit
    INTERNAL = ws.WS_1011_INTERNAL_ERROR  # the transcription service failed
    RESTART = ws.WS_1012_SERVICE_RESTART  # the worker is shutting down
    TRY_AGAIN = ws.WS_1013_TRY_AGAIN_LATER  # too slow a reader, or a store is down: reconnect
    INVALID_CREDENTIAL = 4401  # a forged, malformed or expired credential or token
    FORBIDDEN = 4403  # not (or no longer) a participant: removed by the host
    NOT_FOUND = 4404  # no such room
    TIME_USED_UP = 4408  # the room's transcription time is used up
    NOT_ACTIVE = 4409  # the transcription run is not (or no longer) active
    ROOM_ENDED = 4410  # the meeting has ended
    # The account session the socket was opened with was signed out, revoked or expired
    # (~ 440 Login Time-out): sign in again, or carry on anonymously.
    SESSION_REVOKED = 4440
