-- Multi-channel transcription and the transcript's life after the meeting (issue 16).
-- A worker session (one Gladia live session) records how many channels it carried and the
-- channel-seconds Gladia bills for it; the room keeps their total next to the audio seconds.
-- `cleared_at` is when the host last deleted the transcript: finals of a worker session that
-- was open then, still on their way, are dropped by the worker and deleted when it ends.

ALTER TABLE transcription_sessions
    ADD COLUMN channels        integer NOT NULL DEFAULT 1 CHECK (channels >= 1),
    ADD COLUMN channel_seconds double precision NOT NULL DEFAULT 0;

ALTER TABLE room_transcriptions
    ADD COLUMN channel_seconds double precision NOT NULL DEFAULT 0,
    ADD COLUMN cleared_at      timestamptz;

-- Sessions that existed before carried one channel: their channel-seconds are their seconds.
UPDATE transcription_sessions SET channel_seconds = audio_seconds;
UPDATE room_transcriptions SET channel_seconds = seconds;
