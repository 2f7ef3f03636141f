-- papertwap schema, version 4: strategies (TWAP, VWAP, POV), simulated latency and the
-- transaction-cost totals.

-- The algorithm and its parameters as JSON: {"kind":"twap","jitter":null},
-- {"kind":"vwap","profile_days":7,"profile":["0.1",…]}, {"kind":"pov","participation":"0.1",
-- "max_slice_qty":null}. Orders from before this version are plain TWAPs.
ALTER TABLE orders ADD COLUMN strategy TEXT NOT NULL DEFAULT '{"kind":"twap"}';
-- A routed order (`exchange` is then 'best'): [{"exchange":"binance","fee_bps":"10"}, …].
ALTER TABLE orders ADD COLUMN route TEXT;
ALTER TABLE orders ADD COLUMN latency_ms INTEGER NOT NULL DEFAULT 0 CHECK (latency_ms >= 0);
-- The running totals of the cost analysis as JSON of exact decimal strings:
-- {"decision_mid", "start_mid", "last_mid", "mid_notional", "touch_notional",
--  "market_volume", "market_notional", "markout_qty": [4], "markout_sum": [4],
--  "markouts_taken"}. Empty for orders from before this version (their
-- shortfall is not known).
ALTER TABLE orders ADD COLUMN tca TEXT NOT NULL DEFAULT '{}';
-- The market's public trades in the slice's window: ["volume", "notional"], or NULL.
ALTER TABLE slices ADD COLUMN market TEXT;
-- Markouts at 1/5/30/60 s in bps: ["0.2", null, …] (null until taken, or without a live
-- mid), or NULL for a slice that filled nothing.
ALTER TABLE slices ADD COLUMN markouts TEXT;
-- A routed order's slice: the venue of each fill, parallel to `fills`.
ALTER TABLE slices ADD COLUMN fill_venues TEXT;
