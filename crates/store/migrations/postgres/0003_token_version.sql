-- papertwap schema, version 3 (PostgreSQL): a per-user token version. Tokens carry the version they were
-- issued under; changing the password increments it, which revokes every earlier token.
ALTER TABLE users ADD COLUMN token_version BIGINT NOT NULL DEFAULT 0;
