//! Kraken adapter (in progress).
