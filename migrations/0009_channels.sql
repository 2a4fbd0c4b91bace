-- Text and voice channels in a space, and durable messages (issue 18).
--
-- Messages belong to a conversation: a space's channel today, a direct conversation later.
-- One message store serves both, so replies, reactions, pins, mentions, read markers and
-- search are written once. A channel's id is its conversation's id.

CREATE TABLE conversations (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind       varchar(8)  NOT NULL CHECK (kind IN ('channel', 'dm')),
    space_id   uuid REFERENCES spaces (id) ON DELETE CASCADE,  -- a channel's space
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX idx_conversations_space ON conversations (space_id) WHERE space_id IS NOT NULL;

CREATE TABLE channels (
    id                uuid PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    space_id          uuid         NOT NULL REFERENCES spaces (id) ON DELETE CASCADE,
    kind              varchar(8)   NOT NULL CHECK (kind IN ('text', 'voice')),
    name              varchar(100) NOT NULL,
    topic             varchar(1024) NOT NULL DEFAULT '',
    position          integer      NOT NULL DEFAULT 0,
    -- A private channel is seen by the accounts in channel_members, by the roles listed
    -- here, and by the space's owner; a public one by every member of the space.
    private           boolean      NOT NULL DEFAULT false,
    roles             varchar(16)[] NOT NULL DEFAULT '{}',
    slow_mode_seconds integer      NOT NULL DEFAULT 0
        CHECK (slow_mode_seconds BETWEEN 0 AND 21600),
    created_by        uuid REFERENCES accounts (id) ON DELETE SET NULL,
    created_at        timestamptz  NOT NULL DEFAULT now(),
    updated_at        timestamptz  NOT NULL DEFAULT now()
);

CREATE INDEX idx_channels_space ON channels (space_id, position, created_at);

CREATE TABLE channel_members (
    channel_id uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    account_id uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (channel_id, account_id)
);

-- The id is the history cursor: it grows with every message, across all conversations.
-- A deleted message keeps its row with its content erased (a tombstone), so replies to it
-- still point somewhere. `search` serves full-text search in Russian and English: the
-- Russian configuration stems Cyrillic words, the English one Latin words (and knows
-- English stop words), and a match in either counts.
CREATE TABLE messages (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id   uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id         uuid REFERENCES accounts (id) ON DELETE SET NULL,
    content           text        NOT NULL,
    reply_to          bigint REFERENCES messages (id) ON DELETE SET NULL,
    mentions_everyone boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    edited_at         timestamptz,
    deleted_at        timestamptz,
    deleted_by        uuid,
    pinned_at         timestamptz,
    pinned_by         uuid,
    search            tsvector GENERATED ALWAYS AS (
        to_tsvector('russian', content) || to_tsvector('english', content)
    ) STORED
);

CREATE INDEX idx_messages_conversation ON messages (conversation_id, id);
CREATE INDEX idx_messages_search ON messages USING gin (search);
CREATE INDEX idx_messages_pinned ON messages (conversation_id, pinned_at)
    WHERE pinned_at IS NOT NULL;

-- Who a message mentions by name (@everyone is the message's own flag); what raises an
-- account's mention count until its read marker passes the message.
CREATE TABLE message_mentions (
    account_id      uuid   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    conversation_id uuid   NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    message_id      bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, conversation_id, message_id)
);

CREATE INDEX idx_message_mentions_message ON message_mentions (message_id);

-- One reaction per account per emoji per message.
CREATE TABLE message_reactions (
    message_id bigint      NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      varchar(64) NOT NULL,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, emoji, account_id)
);

-- How far an account has read a conversation, on any of its devices: it only moves forward.
CREATE TABLE read_markers (
    account_id      uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    conversation_id uuid        NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    last_read_id    bigint      NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, conversation_id)
);

CREATE INDEX idx_read_markers_conversation ON read_markers (conversation_id);
