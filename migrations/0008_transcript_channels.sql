-- Multi-channel transcription and the transcript's life after the meeting (issue 16).
-- A worker session (one Gladia live session) records how many channels it carried and the
-- channel-seconds Gladia bills for it; the room keeps their total next to the audio seconds.
-- `cleared_offset` is where the host last deleted the transcript (seconds since the room was
-- created): nothing that started before it is shown, and finals of that time still on their
-- way to the database are deleted when their worker session ends.

ALTER TABLE transcription_sessions
    ADD COLUMN channels        integer NOT NULL DEFAULT 1 CHECK (channels >= 1),
    ADD COLUMN channel_seconds double precision NOT NULL DEFAULT 0;

ALTER TABLE room_transcriptions
    ADD COLUMN channel_seconds double precision NOT NULL DEFAULT 0,
    ADD COLUMN cleared_offset  double precision;

-- Sessions that existed before carried one channel: their channel-seconds are their seconds.
UPDATE transcription_sessions SET channel_seconds = audio_seconds;
UPDATE room_transcriptions SET channel_seconds = seconds;
