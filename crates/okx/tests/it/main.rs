//! OKX adapter tests: captured fixtures (decoding, every checksum) and the adapter against
//! the testkit mock (feed behaviour and faults).

mod against_mock;
mod fixtures;
