//! Binance adapter tests: decoders against real captures, and the adapter against the mock
//! exchange through a real hub (the fault matrix of reference §10).

mod against_mock;
mod fixtures;
