-- Accounts and their sign-in sessions (issue 17). Anonymous use needs none of this.
--
-- An account's id is also its participant id in meetings, so the rooms' tables need no new
-- kind of identity: a seat taken by an account is a seat like any other, and
-- room_participants.account_id records whose it was.

CREATE TABLE accounts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         varchar(254) NOT NULL,
    password_hash text         NOT NULL,  -- argon2id, in the PHC string format
    display_name  varchar(64)  NOT NULL,
    created_at    timestamptz  NOT NULL DEFAULT now(),
    updated_at    timestamptz  NOT NULL DEFAULT now()
);

-- One account per address however it is capitalised; lookups use the same expression.
CREATE UNIQUE INDEX uq_accounts_email ON accounts (lower(email));

-- A session's token is never stored: only its SHA-256, so a copy of this table signs no one
-- in. Expired sessions are deleted by the cleanup pass.
CREATE TABLE account_sessions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    token_hash   bytea       NOT NULL UNIQUE,
    user_agent   varchar(512),  -- what the sessions list calls the device
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);

CREATE INDEX idx_account_sessions_account ON account_sessions (account_id);
CREATE INDEX idx_account_sessions_expires ON account_sessions (expires_at);

ALTER TABLE room_participants
    ADD COLUMN account_id uuid REFERENCES accounts (id) ON DELETE SET NULL;

CREATE INDEX idx_participants_account ON room_participants (account_id)
    WHERE account_id IS NOT NULL;

-- Whichever path takes a seat (creating a room, moot_join_room), the seat of an account
-- records it: the participant id of a signed-in caller is their account's id. Done here
-- rather than as one more parameter of every insert, so the join's hot path is unchanged;
-- for an anonymous identity it costs one primary-key probe that finds nothing.
CREATE FUNCTION moot_seat_account() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.account_id := (SELECT a.id FROM accounts a WHERE a.id = NEW.participant_id);
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_participants_account
    BEFORE INSERT ON room_participants
    FOR EACH ROW EXECUTE FUNCTION moot_seat_account();

-- Spaces (seed 004): an account's persistent places, with members in roles. Every account has
-- at least one (made at registration); exactly one owner per space.
CREATE TABLE spaces (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       varchar(100) NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now(),
    updated_at timestamptz  NOT NULL DEFAULT now()
);

CREATE TABLE space_members (
    space_id   uuid        NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    role       varchar(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (space_id, account_id)
);

CREATE INDEX idx_space_members_account ON space_members (account_id);
CREATE UNIQUE INDEX uq_space_members_one_owner ON space_members (space_id) WHERE role = 'owner';

-- The space an account last chose; with none (or when it is gone), the earliest joined.
CREATE TABLE active_spaces (
    account_id uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    space_id   uuid NOT NULL REFERENCES spaces (id) ON DELETE CASCADE
);

-- Invite codes: optional expiry and use limit. `uses` only grows through one conditional
-- UPDATE, which is what keeps a 10-use invite at 10 under any number of simultaneous accepts.
CREATE TABLE space_invites (
    code       varchar(32) PRIMARY KEY,
    space_id   uuid        NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    created_by uuid        REFERENCES accounts (id) ON DELETE SET NULL,
    max_uses   integer     CHECK (max_uses >= 1),
    uses       integer     NOT NULL DEFAULT 0,
    expires_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_space_invites_space ON space_invites (space_id);
