//! What a replay venue can play: one track per recorded book, its tape files in time order
//! and its trading rules (`pair.json`, or read off the tape when the folder has none).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::{BookEventKind, ExchangeId, Level, Pair, PairStatus, Symbol};
use rust_decimal::Decimal;
use tape::{TapeError, TapeEvent, TapeReader};

/// Where one tape file's bytes are.
#[derive(Debug, Clone)]
pub(crate) enum TapeSource {
    /// A file on disk, read when its turn comes.
    File(PathBuf),
    /// Bytes built into the binary (the sample tape).
    Static(&'static [u8]),
}

impl TapeSource {
    /// Read and check the tape.
    pub(crate) fn open(&self) -> Result<TapeReader, TapeError> {
        match self {
            TapeSource::File(p) => TapeReader::open(p),
            TapeSource::Static(b) => TapeReader::from_bytes(b.to_vec()),
        }
    }
}

/// One recorded book the venue serves.
#[derive(Debug)]
pub(crate) struct Track {
    /// The pair as the replay venue lists it.
    pub pair: Pair,
    /// The venue that recorded it (`binance`).
    pub source: String,
    /// Its tape files, oldest hour first.
    pub files: Vec<TapeSource>,
}

/// The sample tape: the captured fixtures of `crates/{binance,bitstamp}/tests/fixtures`,
/// written as the recorder writes tapes (`tools/src/sample_tape.rs` makes it; a test checks
/// that these bytes are what it makes).
const SAMPLE: &[(&str, &str, &[u8], &[u8])] = &[
    (
        "binance",
        "NKN-USDT",
        include_bytes!("../../sample/binance/NKN-USDT/pair.json"),
        include_bytes!("../../sample/binance/NKN-USDT/20211012T00.tape"),
    ),
    (
        "bitstamp",
        "ETH-USD",
        include_bytes!("../../sample/bitstamp/ETH-USD/pair.json"),
        include_bytes!("../../sample/bitstamp/ETH-USD/20220105T00.tape"),
    ),
];

/// The sample tape's tracks.
pub(crate) fn sample() -> Result<Vec<Track>, TapeError> {
    let mut out = Vec::new();
    for (source, _, pair, tape) in SAMPLE {
        let info = tape::pair::parse_pair(pair)?;
        out.push(Track {
            pair: info.to_pair(ExchangeId::Replay)?,
            source: (*source).to_owned(),
            files: vec![TapeSource::Static(tape)],
        });
    }
    Ok(out)
}

/// The tracks of a folder of tapes. Two venues' books with the same symbol cannot both be
/// served under one name: the first venue in name order keeps it (a replay's own recordings
/// last), the others are skipped and named in the returned warnings.
pub(crate) fn from_dir(root: &Path) -> Result<(Vec<Track>, Vec<String>), TapeError> {
    let mut by_book: BTreeMap<(String, String), Vec<TapeSource>> = BTreeMap::new();
    for f in tape::dir::list(root)? {
        by_book
            .entry((f.exchange, f.symbol))
            .or_default()
            .push(TapeSource::File(f.path));
    }
    let mut out: Vec<Track> = Vec::new();
    let mut warnings = Vec::new();
    // A replay's own recordings (a server that replays into the folder it records to) come
    // after every real venue's.
    let (own, venues): (Vec<_>, Vec<_>) = by_book
        .into_iter()
        .partition(|((source, _), _)| source == ExchangeId::Replay.as_str());
    for ((source, symbol), files) in venues.into_iter().chain(own) {
        if let Some(first) = out.iter().find(|t| t.pair.symbol.as_str() == symbol) {
            warnings.push(format!(
                "{source} {symbol} skipped: {} {symbol} is served under that name",
                first.source
            ));
            continue;
        }
        let pair = match tape::read_pair(root, &source, &symbol)? {
            Some(info) => info.to_pair(ExchangeId::Replay)?,
            None => match inferred(&source, &symbol, &files)? {
                Some(p) => p,
                None => {
                    warnings.push(format!("{source} {symbol} skipped: no book on its tapes"));
                    continue;
                }
            },
        };
        out.push(Track {
            pair,
            source,
            files,
        });
    }
    Ok((out, warnings))
}

/// Rules read off the tape when its folder has no `pair.json` (tapes of an older recorder):
/// the tick and step are the finest the first book shows, no minimums.
fn inferred(source: &str, symbol: &str, files: &[TapeSource]) -> Result<Option<Pair>, TapeError> {
    let bad = |e: String| TapeError::NotATape(format!("{source}/{symbol}: {e}"));
    let symbol: Symbol = symbol
        .parse()
        .map_err(|e: model::SymbolError| bad(e.to_string()))?;
    for f in files {
        let reader = f.open()?;
        for ev in reader.events() {
            let levels: Vec<Level> = match ev? {
                TapeEvent::Book { event, .. } if event.kind == BookEventKind::Snapshot => {
                    event.bids.into_iter().chain(event.asks).collect()
                }
                TapeEvent::Checkpoint { bids, asks, .. } => bids.into_iter().chain(asks).collect(),
                _ => continue,
            };
            let scale = |f: &dyn Fn(&Level) -> u32| levels.iter().map(f).max().unwrap_or(0);
            let tick = Decimal::new(1, scale(&|l| l.price.get().scale()));
            let step = Decimal::new(1, scale(&|l| l.qty.get().scale()));
            return Ok(Some(Pair {
                exchange: ExchangeId::Replay,
                symbol: symbol.clone(),
                exchange_symbol: symbol.to_string(),
                ws_symbol: symbol.to_string(),
                aliases: Vec::new(),
                status: PairStatus::Trading,
                price_tick: tick,
                qty_step: step,
                min_qty: Decimal::ZERO,
                min_notional: None,
            }));
        }
    }
    Ok(None)
}
