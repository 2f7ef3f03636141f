//! The replay venue's sample tape (DESIGN §17): the captured exchange fixtures of
//! `crates/{binance,bitstamp}/tests/fixtures`, put through the venues' own parsers and
//! book-sync rules, written as the recorder writes tapes. `crates/replay/sample/` holds the
//! result; `cargo run -p papertwap-tools --bin sample-tape` writes it again, and a test checks
//! that the shipped bytes are what this makes.
//!
//! Receive times: a REST snapshot is stamped with its capture time (as its source records
//! it), each stream frame with the venue's event time, never earlier than the event before.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use model::{BookEvent, ExchangeId, Pair, PairStatus, Symbol, Timestamp};
use rust_decimal::Decimal;
use tape::{TapeDir, TapeEvent, WriterConfig};

/// The Binance NKN-USDT REST snapshot's capture time, µs (fixtures SOURCES.md: "captured at
/// unix 1633998512.320639").
const NKN_SNAPSHOT_MICROS: i64 = 1_633_998_512_320_639;

/// The workspace's root (where `crates/` is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn fixture(root: &Path, venue: &str, name: &str) -> anyhow::Result<String> {
    let p = root
        .join("crates")
        .join(venue)
        .join("tests/fixtures")
        .join(name);
    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
}

fn frames(text: &str) -> anyhow::Result<Vec<String>> {
    let v: Vec<serde_json::Value> = serde_json::from_str(text)?;
    Ok(v.iter().map(|f| f.to_string()).collect())
}

/// Write the sample tape from the fixtures under `root` into `out` (which must not hold
/// tapes already: they would be appended to).
pub fn write(root: &Path, out: &Path) -> anyhow::Result<()> {
    let mut dir = TapeDir::new(out, WriterConfig::default())?;
    let (pair, events) = binance_nkn(root)?;
    record(&mut dir, out, &pair, &events)?;
    let (pair, events) = bitstamp_eth(root)?;
    record(&mut dir, out, &pair, &events)?;
    dir.flush()?;
    Ok(())
}

fn record(
    dir: &mut TapeDir,
    out: &Path,
    pair: &Pair,
    events: &[(Timestamp, BookEvent)],
) -> anyhow::Result<()> {
    let (ex, sym) = (pair.exchange.as_str(), pair.symbol.as_str());
    tape::write_pair(out, pair)?;
    for (local, event) in events {
        dir.append(
            ex,
            sym,
            &TapeEvent::Book {
                local: *local,
                event: event.clone(),
            },
        )?;
    }
    dir.close(ex, sym)?;
    Ok(())
}

/// Stamp events in order: each at `at`, never before the one before it.
fn stamp(out: &mut Vec<(Timestamp, BookEvent)>, at: Timestamp, event: BookEvent) {
    let at = out.last().map_or(at, |(t, _)| (*t).max(at));
    out.push((at, event));
}

/// Binance NKN-USDT: the REST depth snapshot and the 150 diff frames captured with it,
/// spliced by the adapter's `DepthSync`.
fn binance_nkn(root: &Path) -> anyhow::Result<(Pair, Vec<(Timestamp, BookEvent)>)> {
    use binance::parse::{BinanceInbound, parse_exchange_info, parse_frame, parse_snapshot};
    use binance::sync::{DepthSync, SnapshotOutcome, Step};
    let info = parse_exchange_info(&fixture(
        root,
        "binance",
        "rest_exchange_info_2021_trimmed.json",
    )?)?;
    let pair = info
        .into_iter()
        .find(|p| p.symbol.as_str() == "NKN-USDT")
        .context("NKN-USDT is not in the exchange-info fixture")?;
    let mut snapshot = Some(parse_snapshot(&fixture(
        root,
        "binance",
        "rest_depth_nknusdt_limit1000.json",
    )?)?);
    let mut sync = DepthSync::default();
    let mut out = Vec::new();
    for f in frames(&fixture(
        root,
        "binance",
        "ws_diff_depth_nknusdt_sequence.json",
    )?)? {
        let BinanceInbound::Depth { update, .. } = parse_frame(&f)? else {
            bail!("not a depth frame: {f}");
        };
        let at = update.event_ts.context("a diff without an event time")?;
        match sync.on_update(update) {
            Step::NeedSnapshot => {
                let s = snapshot.take().context("a second snapshot needed")?;
                let SnapshotOutcome::Synced(evs) = sync.on_snapshot(s) else {
                    bail!("the captured snapshot does not bridge the stream");
                };
                let t = Timestamp::from_nanos(NKN_SNAPSHOT_MICROS * 1_000);
                for e in evs {
                    stamp(&mut out, t, e);
                }
            }
            Step::Apply(e) => stamp(&mut out, at, e),
            Step::Nothing => {}
            Step::Gap { expected, got } => bail!("gap in the fixture: {expected} → {got}"),
        }
    }
    Ok((pair, out))
}

/// Bitstamp ETH-USD: the REST order book and the diffs captured around it, placed by the
/// adapter's `DiffChain`.
fn bitstamp_eth(root: &Path) -> anyhow::Result<(Pair, Vec<(Timestamp, BookEvent)>)> {
    use bitstamp::parse::{BtsInbound, parse_frame, parse_order_book};
    use bitstamp::sync::{DiffChain, Step};
    let (at, snapshot) =
        parse_order_book(&fixture(root, "bitstamp", "rest_order_book_ethusd.json")?)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut chain = DiffChain::new(1_000);
    let mut times = Vec::new();
    for f in frames(&fixture(
        root,
        "bitstamp",
        "ws_diff_order_book_ethusd_sequence.json",
    )?)? {
        match parse_frame(&f)? {
            BtsInbound::Diff(d) => {
                if chain.diff(d.micros, d.event) != Step::Buffered {
                    bail!("a diff the chain did not buffer");
                }
                times.push(d.micros);
            }
            BtsInbound::Subscribed(_) => {}
            other => bail!("unexpected frame {other:?}"),
        }
    }
    let follow = chain
        .place(at)
        .context("the stream does not reach the snapshot")?;
    // The chain keeps the diffs after the book's time: the last `follow.len()` captured.
    let follow_times = &times[times.len() - follow.len()..];
    let mut out = Vec::new();
    stamp(&mut out, Timestamp::from_nanos(at * 1_000), snapshot);
    for (micros, e) in follow_times.iter().zip(follow) {
        stamp(&mut out, Timestamp::from_nanos(micros * 1_000), e);
    }
    // No pair-list fixture for Bitstamp: its ETH/USD rules as the book shows them (prices to
    // the cent, amounts to 8 decimals), no minimums claimed.
    let pair = Pair {
        exchange: ExchangeId::Bitstamp,
        symbol: Symbol::new("ETH", "USD")?,
        exchange_symbol: "ethusd".into(),
        ws_symbol: "ethusd".into(),
        aliases: Vec::new(),
        status: PairStatus::Trading,
        price_tick: Decimal::new(1, 2),
        qty_step: Decimal::new(1, 8),
        min_qty: Decimal::ZERO,
        min_notional: None,
    };
    Ok((pair, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped sample is exactly what the fixtures make.
    #[test]
    fn the_shipped_sample_is_made_from_the_fixtures() {
        let root = workspace_root();
        let tmp = tempfile::tempdir().unwrap();
        write(&root, tmp.path()).unwrap();
        let shipped = root.join("crates/replay/sample");
        let made = tape::dir::list(tmp.path()).unwrap();
        let have = tape::dir::list(&shipped).unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(made.len(), have.len());
        for (m, h) in made.iter().zip(&have) {
            assert_eq!(
                (&m.exchange, &m.symbol, m.hour),
                (&h.exchange, &h.symbol, h.hour)
            );
            assert!(
                std::fs::read(&m.path).unwrap() == std::fs::read(&h.path).unwrap(),
                "{} differs from what the fixtures make: run `cargo run -p papertwap-tools --bin sample-tape`",
                h.path.display()
            );
            assert_eq!(
                std::fs::read(m.path.with_file_name("pair.json")).unwrap(),
                std::fs::read(h.path.with_file_name("pair.json")).unwrap()
            );
        }
    }
}
