//! Dev-only helpers shared by the test suites: mock exchange servers that speak the real
//! protocols on `127.0.0.1:0` with fault injection ([`binance`], [`kraken`], [`okx`],
//! [`bybit`], [`coinbase`], [`bitstamp`]), fixture loading
//! and opt-in test logging.
//!
//! # Invariants
//! - Never a normal dependency of any shipped crate: only `[dev-dependencies]` (and the
//!   `e2e` test package) name it, checked by the layering test.
//! - Mocks listen on loopback only, and keep their own model of the venue's book computed
//!   independently of the adapters (their own checksum code, their own update ids), so a test
//!   compares the adapter against the venue, not against itself.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod binance;
pub mod bitstamp;
pub mod bybit;
pub mod coinbase;
pub mod kraken;
pub mod okx;
pub mod pg;
pub mod watch;

/// One recorded state of a mock venue's book (after an update), for tests that check fills
/// against what the venue really showed: top levels, best first.
#[derive(Debug, Clone)]
pub struct TapeEntry {
    /// Wall-clock time the state began.
    pub at: std::time::SystemTime,
    /// The venue's symbol.
    pub symbol: String,
    /// The venue's update id after this state, where it has one (Binance `u`).
    pub id: Option<u64>,
    /// Bids, best first.
    pub bids: Vec<(rust_decimal::Decimal, rust_decimal::Decimal)>,
    /// Asks, best first.
    pub asks: Vec<(rust_decimal::Decimal, rust_decimal::Decimal)>,
}

/// Levels kept per side in a [`TapeEntry`].
pub const TAPE_DEPTH: usize = 50;

impl TapeEntry {
    /// The state of `symbol` now, from its bids and asks as price → quantity maps.
    fn now(
        symbol: &str,
        id: Option<u64>,
        bids: &std::collections::BTreeMap<rust_decimal::Decimal, rust_decimal::Decimal>,
        asks: &std::collections::BTreeMap<rust_decimal::Decimal, rust_decimal::Decimal>,
    ) -> TapeEntry {
        TapeEntry {
            at: std::time::SystemTime::now(),
            symbol: symbol.to_owned(),
            id,
            bids: tape_side(bids.iter().rev()),
            asks: tape_side(asks.iter()),
        }
    }
}

fn tape_side<'a>(
    levels: impl Iterator<Item = (&'a rust_decimal::Decimal, &'a rust_decimal::Decimal)>,
) -> Vec<(rust_decimal::Decimal, rust_decimal::Decimal)> {
    levels
        .take(TAPE_DEPTH)
        .map(|(p, q)| (p.normalize(), q.normalize()))
        .collect()
}
/// One random, valid (never crossing) change near the touch, from one random draw: a size
/// change or a new level within 8 ticks outside the best price of a side, or a deletion there
/// while the side keeps over 100 levels (so a book neither drains nor grows without bound).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TouchChange {
    /// On the bid side (else the ask side).
    pub(crate) bid: bool,
    /// The price, as text.
    pub(crate) price: String,
    /// The new size, as text (`0` deletes).
    pub(crate) qty: String,
}

/// The change `r` draws for a book whose best prices are `best` and whose sides hold `len`
/// levels, on a `tick` grid, sizes `1..=qty_max` units of `10^-qty_scale`.
pub(crate) fn touch_change(
    r: u64,
    best: (rust_decimal::Decimal, rust_decimal::Decimal),
    len: (usize, usize),
    tick: rust_decimal::Decimal,
    qty_scale: u32,
    qty_max: u64,
) -> TouchChange {
    let off = rust_decimal::Decimal::from(r % 8) * tick;
    let qty = rust_decimal::Decimal::new(1 + ((r >> 8) % qty_max) as i64, qty_scale).to_string();
    let (bp, ap) = ((best.0 - off).to_string(), (best.1 + off).to_string());
    let change = |bid: bool, price: &String, qty: &str| TouchChange {
        bid,
        price: price.clone(),
        qty: qty.to_owned(),
    };
    match (r >> 20) % 4 {
        0 => change(true, &bp, &qty),
        1 => change(false, &ap, &qty),
        2 if len.0 > 100 => change(true, &bp, "0"),
        3 if len.1 > 100 => change(false, &ap, "0"),
        2 => change(true, &bp, &qty),
        _ => change(false, &ap, &qty),
    }
}

/// The REST failure fault shared by the mocks: `(status, retry_after_secs, remaining)`. While
/// answers remain, the next one is `status` with `Retry-After` and the venue's own `body`.
pub(crate) fn rest_failure(
    fault: &mut Option<(u16, u64, usize)>,
    body: &str,
) -> Option<wiremock::ResponseTemplate> {
    let (status, secs, left) = (*fault)?;
    if left == 0 {
        *fault = None;
        return None;
    }
    *fault = Some((status, secs, left - 1));
    Some(
        wiremock::ResponseTemplate::new(status)
            .insert_header("retry-after", secs.to_string().as_str())
            .set_body_string(body.to_owned()),
    )
}

mod wsserver;

use std::path::PathBuf;
use std::sync::Once;

/// One step of a xorshift64 generator: the mocks' random updates are reproducible from
/// their seed.
pub fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Install a tracing subscriber once per test binary, printing logs only when `TEST_LOG` is
/// set (so CI output stays readable and a failing test can be rerun with logs).
pub fn init_tracing() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let filter = tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_test_writer()
                .try_init();
        }
    });
}

/// The shared exchange fixtures folder (`../shared/fixtures/exchanges` from the repository
/// root), overridable with `PAPERTWAP_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("PAPERTWAP_FIXTURES") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/exchanges")
}

/// Why a fixture could not be loaded.
#[derive(Debug)]
pub enum FixtureError {
    /// The file could not be read.
    Io(PathBuf, std::io::Error),
    /// The file is not JSON.
    Json(PathBuf, serde_json::Error),
}

impl std::fmt::Display for FixtureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FixtureError::Io(p, e) => write!(f, "reading fixture {}: {e}", p.display()),
            FixtureError::Json(p, e) => write!(f, "parsing fixture {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for FixtureError {}

/// The raw text of a fixture, by path relative to [`fixtures_dir`] (`binance/x.json`).
pub fn fixture_text(rel: &str) -> Result<String, FixtureError> {
    let p = fixtures_dir().join(rel);
    std::fs::read_to_string(&p).map_err(|e| FixtureError::Io(p, e))
}

/// The frames of a sequence fixture (a JSON array of raw frames), each re-serialized.
/// Checksum tests that need byte-exact frames should use [`fixture_text`] instead.
pub fn fixture_frames(rel: &str) -> Result<Vec<serde_json::Value>, FixtureError> {
    let text = fixture_text(rel)?;
    let p = fixtures_dir().join(rel);
    serde_json::from_str(&text).map_err(|e| FixtureError::Json(p, e))
}

/// Poll `cond` every 20 ms until it holds, for at most `within`; returns how long it took.
/// Panics naming `what` when the time runs out. The one bounded wait of the test suites:
/// tests wait on a condition, never on a fixed sleep.
pub async fn eventually(
    what: &str,
    within: std::time::Duration,
    mut cond: impl FnMut() -> bool,
) -> std::time::Duration {
    eventually_async(what, within, || std::future::ready(cond())).await
}

/// [`eventually`] for a condition that must be awaited (an HTTP request, a store read).
pub async fn eventually_async<F, Fut>(
    what: &str,
    within: std::time::Duration,
    mut cond: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = tokio::time::Instant::now();
    loop {
        if cond().await {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < within,
            "{what}: not reached within {within:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// CRC-32 (IEEE), bit by bit: the mocks' own, independent of the adapters' `crc32fast`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for b in bytes {
        c ^= u32::from(*b);
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}
