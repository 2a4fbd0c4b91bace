-- A removal from a kept room (a space's meeting room, which never ends) holds for the meeting
-- it was made in, not for ever: once everyone who was in the room at the time has gone (the
-- meeting ended, by the host or because the room emptied), the removed person may come to the
-- next meeting by the same link. In a room that ends, nothing changes: the room and its
-- removals end together. Only the refusal's condition differs from 0003_join_room.sql.

CREATE OR REPLACE FUNCTION moot_join_room(
    p_room          uuid,
    p_participant   uuid,
    p_display_name  text,
    p_client_ip     inet,
    p_user_agent    text,
    p_may_take_seat boolean,  -- false when the room's join budget is spent
    p_mesh_limit    integer   -- NULL when media goes through LiveKit
)
RETURNS TABLE (
    outcome           text,
    id                uuid,
    code              varchar,
    title             varchar,
    description       text,
    status            varchar,
    locked            boolean,
    max_participants  integer,
    created_at        timestamptz,
    expires_at        timestamptz,
    ended_at          timestamptz,
    livekit_room_name varchar,
    participant_count integer,
    participant_id    uuid,
    display_name      varchar,
    role              varchar,
    joined_at         timestamptz,
    previous_name     varchar
)
LANGUAGE plpgsql VOLATILE
AS $$
#variable_conflict use_column
DECLARE
    room    rooms%ROWTYPE;
    seat    room_participants%ROWTYPE;
    present integer;
BEGIN
    SELECT * INTO room FROM rooms r WHERE r.id = p_room FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'room_not_found';
    ELSIF room.status = 'ended' THEN
        outcome := 'room_ended';
    END IF;
    IF outcome IS NOT NULL THEN
        RETURN NEXT;
        RETURN;
    END IF;

    SELECT count(*) INTO present FROM room_participants p
    WHERE p.room_id = p_room AND p.left_at IS NULL;
    SELECT * INTO seat FROM room_participants p
    WHERE p.room_id = p_room AND p.participant_id = p_participant AND p.left_at IS NULL;

    IF FOUND THEN
        -- Joining again is a no-op (a reload, a second tab); a new name is taken.
        outcome := 'rejoined';
        IF seat.display_name <> p_display_name THEN
            outcome := 'renamed';
            previous_name := seat.display_name;
            UPDATE room_participants p SET display_name = p_display_name WHERE p.id = seat.id
            RETURNING * INTO seat;
        END IF;
    ELSE
        outcome := CASE
            WHEN NOT p_may_take_seat THEN 'rate_limited'
            WHEN EXISTS (SELECT 1 FROM room_participants p
                         WHERE p.room_id = p_room AND p.participant_id = p_participant
                           AND p.left_reason = 'removed'
                           -- A kept room's removal lasts as long as the meeting it was
                           -- made in: while someone who was there at the time is still in.
                           AND (NOT room.persistent
                                OR EXISTS (SELECT 1 FROM room_participants w
                                           WHERE w.room_id = p_room AND w.left_at IS NULL
                                             AND w.joined_at <= p.left_at)))
                THEN 'removed_from_room'
            WHEN room.locked THEN 'room_locked'
            WHEN present >= room.max_participants THEN 'room_full'
            WHEN present >= p_mesh_limit THEN 'mesh_room_full'
        END;
        IF outcome IS NOT NULL THEN
            max_participants := room.max_participants;
            RETURN NEXT;
            RETURN;
        END IF;
        outcome := 'joined';
        -- An empty room has no host; whoever comes in first takes the role.
        INSERT INTO room_participants
            (room_id, participant_id, display_name, role, client_ip, user_agent)
        VALUES (p_room, p_participant, p_display_name,
                CASE WHEN EXISTS (SELECT 1 FROM room_participants h
                                  WHERE h.room_id = p_room AND h.role = 'host'
                                    AND h.left_at IS NULL)
                     THEN 'participant' ELSE 'host' END,
                p_client_ip, p_user_agent)
        RETURNING * INTO seat;
        present := present + 1;
    END IF;

    -- No touch of last_activity_at: a room with someone in it is never idle, and leaving
    -- marks the activity (rooms/cleanup.py).
    id := room.id;
    code := room.code;
    title := room.title;
    description := room.description;
    status := room.status;
    locked := room.locked;
    max_participants := room.max_participants;
    created_at := room.created_at;
    expires_at := room.expires_at;
    ended_at := room.ended_at;
    livekit_room_name := room.livekit_room_name;
    participant_count := present;
    participant_id := seat.participant_id;
    display_name := seat.display_name;
    role := seat.role;
    joined_at := seat.joined_at;
    RETURN NEXT;
END;
$$;
