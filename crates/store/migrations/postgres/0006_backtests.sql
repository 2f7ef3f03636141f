-- papertwap schema, version 6 (PostgreSQL): the lab's backtests, stored as run.

CREATE TABLE backtests (
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_ns BIGINT NOT NULL,
    -- The whole answer of POST /backtests (request, window, every variant's order), JSON.
    body       TEXT NOT NULL
);
CREATE INDEX backtests_by_user ON backtests (user_id, created_ns DESC);
