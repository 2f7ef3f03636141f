//! `papertwap tape ls|export`: the lab's tapes on this machine, listed or exported with the
//! columns of Tardis' `incremental_book_L2` and `trades`, for pandas users: as CSV (times in
//! microseconds since the epoch; prices and amounts as plain decimals without trailing zeros)
//! or Parquet (the same columns typed: UTC timestamps, exact decimals).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use model::{BookEvent, BookEventKind, BookSide, Level, OrderBook, Side, Timestamp};
use tape::{TapeEvent, TapeFile, TapeReader};

use crate::Fail;
use crate::args::{ExportFormat, ExportKind, TapeAction};
use crate::export::{BookRow, Csv, Scales, Sink, TradeRow};
use crate::parquet_sink::Parquet;

/// Run a `tape` subcommand.
pub(crate) fn run(action: &TapeAction, json: bool) -> Result<(), Fail> {
    match action {
        TapeAction::Ls { dir } => ls(dir, json),
        TapeAction::Export {
            dir,
            exchange,
            symbol,
            kind,
            format,
            from,
            to,
            out,
        } => {
            let from = time(from.as_deref(), "--from")?;
            let to = time(to.as_deref(), "--to")?;
            let files = files_of(dir, exchange, symbol, from, to)?;
            let create = |p: &Path| {
                std::fs::File::create(p)
                    .map_err(|e| Fail::Usage(format!("cannot create {}: {e}", p.display())))
            };
            let failed = |e: std::io::Error| Fail::Server(format!("writing the export: {e}"));
            let book = *kind == ExportKind::Book;
            let window = Window {
                files: &files,
                kind: *kind,
                from,
                to,
            };
            let rows = match (format, out) {
                (ExportFormat::Csv, Some(p)) => {
                    let mut w = std::io::BufWriter::new(create(p)?);
                    export(&window, &mut Csv::new(&mut w, exchange, symbol, book))
                }
                (ExportFormat::Csv, None) => {
                    let mut w = std::io::BufWriter::new(std::io::stdout().lock());
                    export(&window, &mut Csv::new(&mut w, exchange, symbol, book))
                }
                (ExportFormat::Parquet, None) => {
                    return Err(Fail::Usage(
                        "--format parquet writes a file: give it with --out FILE.parquet".into(),
                    ));
                }
                (ExportFormat::Parquet, Some(p)) => {
                    // A first pass finds the decimal places the typed columns need.
                    let mut scales = Scales::default();
                    export(&window, &mut scales).map_err(failed)?;
                    let mut sink = Parquet::create(create(p)?, exchange, symbol, book, scales)
                        .map_err(failed)?;
                    export(&window, &mut sink)
                }
            }
            .map_err(failed)?;
            eprintln!("{rows} rows");
            Ok(())
        }
    }
}

fn ls(dir: &Path, json: bool) -> Result<(), Fail> {
    let files = tape::dir::list(dir).map_err(|e| Fail::Usage(format!("{}: {e}", dir.display())))?;
    // One line per book: its first and last hour, files and bytes.
    let mut books: BTreeMap<(String, String), (Timestamp, Timestamp, usize, u64)> = BTreeMap::new();
    for f in &files {
        let e = books
            .entry((f.exchange.clone(), f.symbol.clone()))
            .or_insert((f.hour, f.hour, 0, 0));
        e.0 = e.0.min(f.hour);
        e.1 = e.1.max(f.hour);
        e.2 += 1;
        e.3 += f.bytes;
    }
    if json {
        let v: Vec<serde_json::Value> = books
            .iter()
            .map(|((ex, sym), (first, last, n, bytes))| {
                serde_json::json!({
                    "exchange": ex, "symbol": sym, "first_hour": hour_text(*first),
                    "last_hour": hour_text(*last), "files": n, "bytes": bytes,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    if books.is_empty() {
        println!("no tapes in {}", dir.display());
        return Ok(());
    }
    println!(
        "{:<10} {:<12} {:<20} {:<20} {:>6} {:>12}",
        "exchange", "symbol", "first hour", "last hour", "files", "bytes"
    );
    for ((ex, sym), (first, last, n, bytes)) in &books {
        println!(
            "{ex:<10} {sym:<12} {:<20} {:<20} {n:>6} {bytes:>12}",
            hour_text(*first),
            hour_text(*last)
        );
    }
    Ok(())
}

fn hour_text(t: Timestamp) -> String {
    chrono::DateTime::from_timestamp_nanos(t.as_nanos())
        .format("%Y-%m-%dT%H:%MZ")
        .to_string()
}

fn time(text: Option<&str>, flag: &str) -> Result<Option<Timestamp>, Fail> {
    let Some(t) = text else {
        return Ok(None);
    };
    let ns = parse_utc(t, flag)?
        .timestamp_nanos_opt()
        .ok_or_else(|| Fail::Usage(format!("{flag}: `{t}` is out of range")))?;
    Ok(Some(Timestamp::from_nanos(ns)))
}

/// A time flag: RFC 3339, or without an offset (read as UTC).
pub(crate) fn parse_utc(t: &str, flag: &str) -> Result<chrono::DateTime<chrono::Utc>, Fail> {
    papertwap_client::wire::time::parse_utc(t).ok_or_else(|| {
        Fail::Usage(format!(
            "{flag}: `{t}` is not a time (expected RFC 3339, e.g. 2026-12-07T03:00:00Z; \
                 without an offset it is read as UTC)"
        ))
    })
}

/// The book's files that may hold events in `[from, to]`, oldest first.
fn files_of(
    dir: &Path,
    exchange: &str,
    symbol: &str,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Result<Vec<PathBuf>, Fail> {
    const HOUR: i64 = 3_600_000_000_000;
    let all: Vec<TapeFile> =
        tape::dir::list(dir).map_err(|e| Fail::Usage(format!("{}: {e}", dir.display())))?;
    let files: Vec<PathBuf> = all
        .into_iter()
        .filter(|f| f.exchange == exchange && f.symbol == symbol)
        .filter(|f| from.is_none_or(|t| f.hour.as_nanos() + HOUR > t.as_nanos()))
        .filter(|f| to.is_none_or(|t| f.hour <= t))
        .map(|f| f.path)
        .collect();
    if files.is_empty() {
        return Err(Fail::Usage(format!(
            "no tape of {exchange} {symbol} in {} for that window (see `papertwap tape ls`)",
            dir.display()
        )));
    }
    Ok(files)
}

/// What an export reads: a book's files, the kind of rows, the window.
struct Window<'a> {
    files: &'a [PathBuf],
    kind: ExportKind,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
}

/// Write the rows into `w` and finish it; returns how many. Book rows start with the book as
/// it stood at `from` (`is_snapshot` true), as Tardis starts each file.
fn export(window: &Window<'_>, w: &mut dyn Sink) -> std::io::Result<u64> {
    let rows = rows(window, w)?;
    w.finish()?;
    Ok(rows)
}

fn rows(window: &Window<'_>, w: &mut dyn Sink) -> std::io::Result<u64> {
    let Window {
        files,
        kind,
        from,
        to,
    } = *window;
    let mut rows = 0u64;
    let mut book = OrderBook::new();
    let mut started = from.is_none();
    for (i, path) in files.iter().enumerate() {
        let r = TapeReader::open(path).map_err(std::io::Error::other)?;
        if r.torn_bytes() > 0 {
            eprintln!(
                "{}: {} bytes of torn tail skipped",
                path.display(),
                r.torn_bytes()
            );
        }
        let events = match (i, from) {
            (0, Some(t)) => r.seek(t),
            _ => r.events(),
        };
        for e in events {
            let e = e.map_err(std::io::Error::other)?;
            let local = e.local();
            if to.is_some_and(|t| local > t) {
                return Ok(rows);
            }
            let before = from.is_some_and(|t| local < t);
            if !started && !before {
                started = true;
                if kind == ExportKind::Book {
                    let at = from.unwrap_or(local);
                    let snap = BookEvent::snapshot(
                        book.levels(BookSide::Bid).collect(),
                        book.levels(BookSide::Ask).collect(),
                    );
                    rows += book_rows(w, at, at, true, &snap)?;
                }
            }
            match e {
                TapeEvent::Book { event, .. } => {
                    let _ = book.apply(&event);
                    if !before && kind == ExportKind::Book {
                        let venue = event.exchange_ts.unwrap_or(local);
                        let snap = event.kind == BookEventKind::Snapshot;
                        rows += book_rows(w, venue, local, snap, &event)?;
                    }
                }
                TapeEvent::Checkpoint { bids, asks, .. } => {
                    let _ = book.apply(&BookEvent::snapshot(bids, asks));
                }
                TapeEvent::Trade(t) if !before && kind == ExportKind::Trades => {
                    let side = match t.taker_side {
                        Side::Buy => "buy",
                        Side::Sell => "sell",
                    };
                    w.trade(TradeRow {
                        timestamp: micros(t.exchange_ts),
                        local_timestamp: micros(t.local_ts),
                        id: t.trade_id.to_string(),
                        side,
                        price: t.price.get(),
                        amount: t.qty.get(),
                    })?;
                    rows += 1;
                }
                _ => {}
            }
        }
    }
    Ok(rows)
}

fn book_rows(
    w: &mut dyn Sink,
    venue: Timestamp,
    local: Timestamp,
    snapshot: bool,
    event: &BookEvent,
) -> std::io::Result<u64> {
    let mut n = 0;
    for (side, levels) in [("bid", &event.bids), ("ask", &event.asks)] {
        for Level { price, qty } in levels.iter() {
            w.book(BookRow {
                timestamp: micros(venue),
                local_timestamp: micros(local),
                is_snapshot: snapshot,
                side,
                price: price.get(),
                amount: qty.get(),
            })?;
            n += 1;
        }
    }
    Ok(n)
}

fn micros(t: Timestamp) -> i64 {
    t.as_nanos().div_euclid(1_000)
}
