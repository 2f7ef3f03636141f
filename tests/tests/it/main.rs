//! End-to-end tests: the real server on port 0, driven over HTTP.

mod layering;
mod market_api;
