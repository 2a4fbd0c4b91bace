-- Space meetings (issue 17, item 6): rooms that belong to a space and stay, and a record of
-- each meeting held in one (a session: when it ran, who came, its transcript).

-- A kept room never ends by itself: no lifetime (expires_at stays NULL), no idle end. Its
-- host ending the meeting sends everyone out and leaves the room active for the next one.
-- The rooms domain knows only this flag; who may enter a kept room is asked of the domain
-- that keeps it (here: spaces).
ALTER TABLE rooms ADD COLUMN persistent boolean NOT NULL DEFAULT false;

-- A space's settings for its meetings: guests by link, or members only; how long past
-- sessions are kept (NULL: until someone deletes them).
ALTER TABLE spaces
    ADD COLUMN members_only           boolean NOT NULL DEFAULT false,
    ADD COLUMN session_retention_days integer CHECK (session_retention_days BETWEEN 1 AND 3650);

CREATE TABLE space_rooms (
    room_id    uuid PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    space_id   uuid        NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    created_by uuid        REFERENCES accounts (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_space_rooms_space ON space_rooms (space_id, created_at);

-- One row per meeting: started by the first person in, ended when the room empties or its
-- host ends it. At most one runs per room. Its transcript is the room's segments stored from
-- its start until the next session of the room starts (segments carry no session id).
CREATE TABLE space_sessions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    space_id   uuid        NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    room_id    uuid        NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    started_at timestamptz NOT NULL DEFAULT now(),
    ended_at   timestamptz,
    end_reason varchar(16) CHECK (end_reason IN ('empty', 'host'))
);

CREATE UNIQUE INDEX uq_space_sessions_running ON space_sessions (room_id) WHERE ended_at IS NULL;
CREATE INDEX idx_space_sessions_space ON space_sessions (space_id, started_at DESC, id DESC);
CREATE INDEX idx_space_sessions_room ON space_sessions (room_id, started_at);
CREATE INDEX idx_space_sessions_ended ON space_sessions (ended_at) WHERE ended_at IS NOT NULL;

-- Who came: one row per stay (leaving and coming back is two rows), written in the same
-- transaction as the seat it mirrors, so the open rows of a running session are exactly the
-- room's seats.
CREATE TABLE space_session_attendees (
    id             bigserial PRIMARY KEY,
    session_id     uuid         NOT NULL REFERENCES space_sessions (id) ON DELETE CASCADE,
    participant_id uuid         NOT NULL,
    account_id     uuid         REFERENCES accounts (id) ON DELETE SET NULL,
    display_name   varchar(255) NOT NULL,
    joined_at      timestamptz  NOT NULL DEFAULT now(),
    left_at        timestamptz
);

CREATE INDEX idx_session_attendees_session ON space_session_attendees (session_id, joined_at, id);
CREATE UNIQUE INDEX uq_session_attendees_present
    ON space_session_attendees (session_id, participant_id) WHERE left_at IS NULL;
CREATE INDEX idx_session_attendees_account
    ON space_session_attendees (account_id) WHERE account_id IS NOT NULL;
