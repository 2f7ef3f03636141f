//! Runnable examples of the papertwap SDK (`cargo run -p examples --example …`).
//!
//! # Invariant
//! Examples use only the public SDK (`papertwap-client`), exactly as a user's program would.
//! The connect → authenticate → submit → monitor examples arrive with issue 6/8.
