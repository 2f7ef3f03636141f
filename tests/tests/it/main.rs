//! End-to-end tests: the real server on port 0, driven over HTTP.

mod binance_mock;
mod layering;
mod market_api;
