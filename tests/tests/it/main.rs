//! End-to-end tests: the real server on port 0, driven over HTTP.

mod abuse;
mod binance_mock;
mod cluster_api;
mod docs_offline;
mod feed_chaos;
mod kraken_mock;
mod lab_tapes;
mod lab_whatif;
mod layering;
mod live_venues;
mod market_api;
mod metrics;
mod orders_api;
mod rate_limits;
mod replay_venue;
mod sdk;
mod strategies_api;
mod trades_all_venues;
mod ws_feed;
