-- Rooms and their participants (seed 001), plus a human room code and room lifecycle columns.

CREATE TABLE rooms (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    code              varchar(16)  NOT NULL UNIQUE,
    livekit_room_name varchar(255) NOT NULL UNIQUE,
    title             varchar(255) NOT NULL,
    description       text,
    status            varchar(16)  NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    max_participants  integer      NOT NULL DEFAULT 10 CHECK (max_participants >= 2),
    locked            boolean      NOT NULL DEFAULT false,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now(),
    expires_at        timestamptz,
    last_activity_at  timestamptz  NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    end_reason        varchar(16)  CHECK (end_reason IN ('host', 'idle', 'expired'))
);

CREATE INDEX idx_rooms_status ON rooms (status);
CREATE INDEX idx_rooms_expires_at ON rooms (expires_at) WHERE status = 'active';
CREATE INDEX idx_rooms_last_activity ON rooms (last_activity_at) WHERE status = 'active';
CREATE INDEX idx_rooms_ended_at ON rooms (ended_at) WHERE status = 'ended';

CREATE TABLE room_participants (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id        uuid         NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    participant_id uuid         NOT NULL,
    display_name   varchar(255) NOT NULL,
    role           varchar(16)  NOT NULL DEFAULT 'participant' CHECK (role IN ('host', 'participant')),
    livekit_sid    varchar(255),
    joined_at      timestamptz  NOT NULL DEFAULT now(),
    left_at        timestamptz,
    left_reason    varchar(16)  CHECK (left_reason IN ('left', 'removed', 'room_ended')),
    client_ip      inet,
    user_agent     text
);

CREATE INDEX idx_participants_room ON room_participants (room_id);
CREATE INDEX idx_participants_active ON room_participants (room_id, left_at);
-- One active seat per identity per room, and at most one active host per room.
CREATE UNIQUE INDEX uq_participants_active_seat
    ON room_participants (room_id, participant_id) WHERE left_at IS NULL;
CREATE UNIQUE INDEX uq_participants_one_host
    ON room_participants (room_id) WHERE role = 'host' AND left_at IS NULL;
-- Retention purge looks for rows that still hold an IP or user agent.
CREATE INDEX idx_participants_personal_data
    ON room_participants (left_at) WHERE client_ip IS NOT NULL OR user_agent IS NOT NULL;
