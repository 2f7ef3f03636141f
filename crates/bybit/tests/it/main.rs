//! Bybit adapter tests: captured fixtures (decoding, the continuity rule) and the adapter
//! against the testkit mock (feed behaviour, faults, a 100 000-event replay).

mod against_mock;
mod fixtures;
