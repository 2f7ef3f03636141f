-- papertwap schema, version 2: TWAP orders and their slices.
-- Decimals are kept as their exact decimal text; times as integer nanoseconds since the
-- Unix epoch (UTC).

CREATE TABLE orders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_id     TEXT NOT NULL,
    -- The request as the client sent it (canonical JSON), compared on a repeated token_id.
    request      TEXT NOT NULL,
    exchange     TEXT NOT NULL,
    symbol       TEXT NOT NULL,
    side         TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity     TEXT NOT NULL,
    limit_price  TEXT,
    catch_up     TEXT NOT NULL CHECK (catch_up IN ('spread', 'next', 'none')),
    start_ns     INTEGER NOT NULL,
    interval_ms  INTEGER NOT NULL CHECK (interval_ms > 0),
    duration_ms  INTEGER NOT NULL CHECK (duration_ms > 0),
    slices_total INTEGER NOT NULL CHECK (slices_total > 0),
    qty_step     TEXT NOT NULL,
    fee_bps      TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'working', 'filled', 'expired', 'cancelled')),
    created_ns   INTEGER NOT NULL,
    closed_ns    INTEGER,
    next_index   INTEGER NOT NULL DEFAULT 0,
    filled       TEXT NOT NULL DEFAULT '0',
    notional     TEXT NOT NULL DEFAULT '0',
    fees         TEXT NOT NULL DEFAULT '0',
    arrival_mid  TEXT,
    mid_sum      TEXT NOT NULL DEFAULT '0',
    mid_samples  INTEGER NOT NULL DEFAULT 0,
    spread_cost  TEXT NOT NULL DEFAULT '0',
    slices_done  INTEGER NOT NULL DEFAULT 0,
    -- {"stale_book": 2, ...}
    skipped      TEXT NOT NULL DEFAULT '{}',
    UNIQUE (user_id, token_id)
);

CREATE INDEX orders_open ON orders (status) WHERE status IN ('pending', 'working');
CREATE INDEX orders_by_user ON orders (user_id, id);

CREATE TABLE slices (
    order_id     INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    idx          INTEGER NOT NULL CHECK (idx >= 0),
    scheduled_ns INTEGER NOT NULL,
    executed_ns  INTEGER NOT NULL,
    target       TEXT NOT NULL,
    filled       TEXT NOT NULL,
    notional     TEXT NOT NULL,
    avg_price    TEXT,
    fee          TEXT NOT NULL,
    -- [["price","qty"], ...]
    fills        TEXT NOT NULL,
    best_bid     TEXT,
    best_ask     TEXT,
    mid          TEXT,
    book_seq     INTEGER,
    book_age_ms  INTEGER,
    skipped      TEXT,
    short_reason TEXT,
    -- One row per slice index: a slice can never be recorded twice.
    PRIMARY KEY (order_id, idx)
) WITHOUT ROWID;
