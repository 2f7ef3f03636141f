//! Bitstamp adapter tests: captured fixtures (decoding, the splice rule) and the adapter
//! against the testkit mock (feed behaviour, faults, make-before-break, a 100 000-event
//! replay).

mod against_mock;
mod fixtures;
