-- papertwap schema, version 7 (PostgreSQL): several instances on one database (DESIGN §19). On SQLite one
-- instance runs every order and these stay empty; the schema is the same on both backends.

-- Which instance executes the open orders of a symbol (every venue's book of it: a routed
-- order crosses venues, and each book's liquidity ledger has one writer). `holder` is unique
-- per process start; `epoch` grows at every take-over and fences every slice write;
-- `expires_ms` is on the database's clock.
CREATE TABLE leases (
    scope      TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    epoch      BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- A cancel asked of an instance that does not execute the order (ns): the one that does
-- cancels it.
ALTER TABLE orders ADD COLUMN cancel_requested_ns BIGINT;
