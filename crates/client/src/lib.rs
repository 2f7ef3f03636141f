//! `papertwap-client`: the typed Rust SDK for the papertwap HTTP and WebSocket API.
//!
//! # Invariant
//! Depends on `papertwap-wire` only from this workspace — never on the server side (`api`,
//! `actix-web`, `model`) — so applications compile only what talking to the API needs.
//! The layering test in `e2e` checks this transitively.
//!
//! The client itself arrives with issue 6/8; the JSON types it will speak are re-exported now.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub use wire;
