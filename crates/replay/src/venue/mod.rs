//! The replay venue (`exchanges.replay`, DESIGN §17): recorded tapes served as a live venue
//! through the [`Exchange`] trait, so the whole product — dashboard, SDKs, orders — runs on a
//! real recorded market offline.
//!
//! Each followed book plays its tapes from their start, every event when its recorded time
//! comes round again at `speed` (1 = real time), re-stamped onto today's clock (the venue's
//! latency as recorded); at the end it starts over (`loop`) or goes quiet (and the hub marks
//! it stale). A pause longer than five minutes on the tape (the recorder was off) plays as one
//! second. Candles are built from the trades played. Without a folder it plays the sample
//! tape built into the binary (the captured Binance NKN-USDT and Bitstamp ETH-USD books of
//! `crates/*/tests/fixtures`).

mod candles;
mod play;
mod session;
mod tracks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::{Backoff, Exchange, FeedContext, KlineQuery, MarketError, run_session};
use model::{ExchangeId, Kline, OrderBook, Pair, Symbol, Timestamp};
use tape::TapeError;
use tracing::{info, warn};

use candles::Candles;
use session::ReplaySession;
use tracks::Track;

/// How the replay venue plays.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// The folder of tapes (a server's `store.tape_dir`, or a copy); `None` plays the sample
    /// tape built into the binary.
    pub tape_dir: Option<PathBuf>,
    /// Playback speed: 1 plays in real time, 10 ten times faster. Finite and above zero.
    pub speed: f64,
    /// Start over at the end of the tapes.
    pub looped: bool,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        ReplayConfig {
            tape_dir: None,
            speed: 1.0,
            looped: true,
        }
    }
}

/// The fastest and slowest speeds a replay accepts.
pub const SPEEDS: (f64, f64) = (0.01, 1_000.0);

/// Why the replay venue could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The speed is not a finite number in [`SPEEDS`].
    #[error("replay speed must be between 0.01 and 1000 (1 = real time), not {0}")]
    Speed(f64),
    /// The tapes could not be read.
    #[error("replay tapes: {0}")]
    Tape(#[from] TapeError),
}

/// Recorded tapes as a venue.
#[derive(Debug)]
pub struct ReplayExchange {
    config: ReplayConfig,
    tracks: Vec<Arc<Track>>,
    candles: Candles,
}

impl ReplayExchange {
    /// The venue of `config`'s tapes (read now: which books, their rules).
    pub fn new(config: ReplayConfig) -> Result<Self, ReplayError> {
        if !(config.speed.is_finite() && (SPEEDS.0..=SPEEDS.1).contains(&config.speed)) {
            return Err(ReplayError::Speed(config.speed));
        }
        let tracks = match &config.tape_dir {
            Some(dir) => {
                let (tracks, warnings) = tracks::from_dir(dir)?;
                for w in warnings {
                    warn!(dir = %dir.display(), "replay: {w}");
                }
                tracks
            }
            None => tracks::sample()?,
        };
        info!(
            books = tracks.len(),
            tapes = %config.tape_dir.as_ref().map_or_else(|| "the built-in sample".to_owned(), |d| d.display().to_string()),
            speed = config.speed,
            looped = config.looped,
            "replay venue ready"
        );
        Ok(ReplayExchange {
            config,
            tracks: tracks.into_iter().map(Arc::new).collect(),
            candles: Candles::default(),
        })
    }

    /// The symbols on the tapes.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.tracks.iter().map(|t| t.pair.symbol.clone()).collect()
    }

    /// The venue that recorded `symbol`'s tapes (`binance`).
    pub fn source_of(&self, symbol: &Symbol) -> Option<&str> {
        self.track(symbol).map(|t| t.source.as_str())
    }

    fn track(&self, symbol: &Symbol) -> Option<&Arc<Track>> {
        self.tracks.iter().find(|t| &t.pair.symbol == symbol)
    }
}

impl Exchange for ReplayExchange {
    fn id(&self) -> ExchangeId {
        ExchangeId::Replay
    }

    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        let pairs = self.tracks.iter().map(|t| t.pair.clone()).collect();
        async move { Ok(pairs) }.boxed()
    }

    fn klines(&self, q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        let known = self.track(&q.pair.symbol).is_some();
        let rows = self.candles.query(&q, Timestamp::now());
        async move {
            if !known {
                return Err(MarketError::UnknownSymbol {
                    exchange: ExchangeId::Replay,
                    symbol: q.pair.symbol.to_string(),
                });
            }
            Ok(rows)
        }
        .boxed()
    }

    fn new_book(&self, pair: &Pair) -> OrderBook {
        OrderBook::with_scales(pair.price_precision(), pair.qty_precision())
    }

    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        async move {
            let session = ReplaySession::new(self, ctx.events.clone());
            // In process: opening never fails, so the backoff is never used.
            let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
            run_session(session, ctx, backoff).await;
        }
        .boxed()
    }
}
