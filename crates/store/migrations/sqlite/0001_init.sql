-- papertwap schema, version 1: settings, users, cached pair lists.
-- Orders and slices arrive with the TWAP engine in a later migration.

CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    tier          TEXT NOT NULL CHECK (tier IN ('basic', 'premium')),
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The last pair list obtained from each exchange, so an offline start still lists pairs.
CREATE TABLE pair_cache (
    exchange   TEXT PRIMARY KEY NOT NULL,
    body       TEXT NOT NULL,
    fetched_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
