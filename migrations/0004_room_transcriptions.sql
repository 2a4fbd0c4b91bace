-- A room's transcription state moves out of `rooms` into a table the transcription domain
-- owns. A room without a row has never been transcribed: no designated host, idle, nothing
-- used. Existing state is carried over for every room that has any.

CREATE TABLE room_transcriptions (
    room_id    uuid PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
    host_id    uuid,  -- the designated transcription host; NULL: the room host
    status     varchar(16) NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'active')),
    started_at timestamptz,
    seconds    double precision NOT NULL DEFAULT 0  -- audio transcribed over closed sessions
);

INSERT INTO room_transcriptions (room_id, host_id, status, started_at, seconds)
SELECT id, transcription_host_id, transcription_status, transcription_started_at,
       transcription_seconds
FROM rooms
WHERE transcription_host_id IS NOT NULL
   OR transcription_status <> 'idle'
   OR transcription_started_at IS NOT NULL
   OR transcription_seconds <> 0;

ALTER TABLE rooms
    DROP COLUMN transcription_host_id,
    DROP COLUMN transcription_status,
    DROP COLUMN transcription_started_at,
    DROP COLUMN transcription_seconds;
