//! Coinbase adapter tests: captured fixtures (decoding, products, candles) and the adapter
//! against the testkit mock (feed behaviour, faults, a 100 000-event replay).

mod against_mock;
mod fixtures;
