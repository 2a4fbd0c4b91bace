// Generated from src/moot/realtime/close_codes.py by `scripts/dev gen`; do not edit.
// The WebSocket close codes moot sends.
export const CloseCode = {
  NORMAL: 1000,
  INVALID_DATA: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  RESTART: 1012,
  TRY_AGAIN: 1013,
  INVALID_CREDENTIAL: 4401,
  FORBIDDEN: 4403,
  NOT_FOUND: 4404,
  TIME_USED_UP: 4408,
  NOT_ACTIVE: 4409,
  ROOM_ENDED: 4410,
  SESSION_REVOKED: 4440,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
