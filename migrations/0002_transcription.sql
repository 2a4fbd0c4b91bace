-- Live transcription (seed 004): who transcribes a room, each worker session's audio usage,
-- and the final segments. Offsets are seconds since the room was created, so segments from
-- several start/stop sessions line up on one timeline.

ALTER TABLE rooms
    ADD COLUMN transcription_host_id uuid,
    ADD COLUMN transcription_status  varchar(16) NOT NULL DEFAULT 'idle'
        CHECK (transcription_status IN ('idle', 'active')),
    ADD COLUMN transcription_started_at timestamptz,
    ADD COLUMN transcription_seconds double precision NOT NULL DEFAULT 0;

CREATE TABLE transcription_sessions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id        uuid         NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    participant_id uuid         NOT NULL,
    gladia_id      varchar(255),
    started_at     timestamptz  NOT NULL DEFAULT now(),
    ended_at       timestamptz,
    audio_seconds  double precision NOT NULL DEFAULT 0,
    end_reason     varchar(32)
);

CREATE INDEX idx_transcription_sessions_room ON transcription_sessions (room_id);

CREATE TABLE transcript_segments (
    id             bigserial PRIMARY KEY,
    room_id        uuid         NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    participant_id uuid,
    utterance_id   varchar(255) NOT NULL,
    text           text         NOT NULL,
    language       varchar(16),
    started_at     double precision NOT NULL,
    ended_at       double precision,
    created_at     timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT uq_transcript_utterance UNIQUE (room_id, utterance_id)
);

CREATE INDEX idx_transcript_segments_room ON transcript_segments (room_id, started_at, id);
