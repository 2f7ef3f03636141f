//! A Binance venue on loopback for the load tools: testkit's mock (Binance's combined-stream
//! protocol, runtime subscriptions, REST depth snapshots and exchange info) listing `books`
//! symbols, each sent a random diff-depth update every interval — one to four levels, as the
//! captured NKNUSDT frames (`crates/binance/tests/fixtures`) average 2.5 — and a trade every
//! fourth update. A hub following it does the whole of a live venue's ingest: socket reads,
//! frame parsing, update-id sync, apply, publish.

use std::sync::Arc;
use std::time::{Duration, Instant};

use binance::{BinanceConfig, BinanceExchange};
use market::Exchange;
use testkit::binance::MockBinance;

/// The venue's symbols (`QAAAUSDT`, `QAABUSDT`, …) and the hub's names for them
/// (`QAAA-USDT`, …).
pub fn symbols(books: usize) -> (Vec<String>, Vec<String>) {
    (0..books.max(1))
        .map(|i| {
            let letter = |k: usize| char::from(b'A' + ((i / 26usize.pow(k as u32)) % 26) as u8);
            let base = format!("Q{}{}{}", letter(2), letter(1), letter(0));
            (format!("{base}USDT"), format!("{base}-USDT"))
        })
        .unzip()
}

/// Serve `books` books for `secs` seconds, an update each every `interval`: prints
/// `ws_url rest_url` as its first line of output, then returns when the time is up.
pub async fn serve(books: usize, interval: Duration, secs: u64) -> anyhow::Result<()> {
    let (venue_symbols, _) = symbols(books);
    let names: Vec<&str> = venue_symbols.iter().map(String::as_str).collect();
    let mock = MockBinance::start(&names).await?;
    // A tool's one line of output, read by the parent.
    #[allow(clippy::print_stdout)]
    {
        println!("{} {}", mock.ws_url, mock.rest_url);
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut round: u64 = 0;
    while Instant::now() < end {
        tick.tick().await;
        round += 1;
        for symbol in &names {
            mock.random_update(symbol);
            if round.is_multiple_of(4) {
                let (bids, _) = mock.top(symbol, 1);
                if let Some((price, _)) = bids.first() {
                    mock.trade(symbol, &price.to_string(), "0.125", round.is_multiple_of(8));
                }
            }
        }
    }
    Ok(())
}

/// The Binance adapter pointed at a mock served by [`serve`] (small snapshots, so that
/// hundreds of books sync within the adapter's request-weight budget).
pub fn exchange(ws_url: &str, rest_url: &str) -> anyhow::Result<Arc<dyn Exchange>> {
    Ok(Arc::new(BinanceExchange::new(BinanceConfig {
        ws_url: ws_url.to_owned(),
        rest_url: rest_url.to_owned(),
        snapshot_limit: 100,
        weight_per_minute: 6_000,
        ..BinanceConfig::default()
    })?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_distinct_letters_with_their_hub_names() {
        let (venue, hub) = symbols(700);
        assert_eq!(venue[0], "QAAAUSDT");
        assert_eq!(hub[27], "QABB-USDT");
        let mut unique = venue.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 700);
    }
}
