-- Password resets by email (issue 17): a link's token is never stored, only its SHA-256, as
-- with sessions. A token is deleted when it is used (that DELETE is what makes it single-use),
-- when the account's password or email changes, and by the cleanup pass once expired.

CREATE TABLE password_resets (
    token_hash bytea       PRIMARY KEY,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);

CREATE INDEX idx_password_resets_account ON password_resets (account_id);
CREATE INDEX idx_password_resets_expires ON password_resets (expires_at);
