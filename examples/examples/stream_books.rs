//! Stream top-of-book frames for a few seconds.
//!
//! `cargo run -p examples --example stream_books -- [BASE_URL] [EXCHANGE] [SYMBOL] [SECONDS]`
#![allow(clippy::print_stdout)]

use std::time::Duration;

use papertwap_client::wire::ServerMessage;
use papertwap_client::{BookChannel, Client, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).map_or("http://127.0.0.1:8000", String::as_str);
    let exchange = args.get(2).map_or("sim", String::as_str);
    let symbol = args.get(3).map_or("BTC-USDT", String::as_str);
    let secs: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(5);
    let client = Client::new(base)?;
    client.login("premium", "CryptoTWAPpremium").await?;
    let mut stream = client.stream().await?;
    let sub = stream
        .subscribe_book(BookChannel {
            exchange: exchange.into(),
            symbol: symbol.into(),
            depth: 5,
            interval_ms: 500,
        })
        .await?;
    println!("subscribed: {sub:?}");
    let end = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut frames = 0;
    while let Ok(Some(m)) = tokio::time::timeout_at(end, stream.next()).await {
        if let ServerMessage::Book(b) = m? {
            frames += 1;
            println!(
                "{} seq {:?}  {} bids / {} asks  best {:?} / {:?}",
                b.ts,
                b.seq,
                b.bids.len(),
                b.asks.len(),
                b.bids.first(),
                b.asks.first()
            );
        }
    }
    println!("{frames} frames");
    Ok(())
}
