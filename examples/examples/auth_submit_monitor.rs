//! Connect, authenticate, submit a TWAP, and monitor it over REST polling and the WebSocket
//! `orders` channel at once while printing the top of book; print the final analytics.
//!
//! `cargo run -p examples --example auth_submit_monitor -- [BASE_URL] [EXCHANGE] [SYMBOL]`
//! (defaults: http://127.0.0.1:8000 sim BTC-USDT; the demo user premium/CryptoTWAPpremium,
//! or PAPERTWAP_USER / PAPERTWAP_PASSWORD).
#![allow(clippy::print_stdout)]

use std::time::Duration;

use papertwap_client::wire::ServerMessage;
use papertwap_client::{BookChannel, Client, Error, twap};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).map_or("http://127.0.0.1:8000", String::as_str);
    let exchange = args.get(2).map_or("sim", String::as_str);
    let symbol = args.get(3).map_or("BTC-USDT", String::as_str);
    let user = std::env::var("PAPERTWAP_USER").unwrap_or_else(|_| "premium".into());
    let password =
        std::env::var("PAPERTWAP_PASSWORD").unwrap_or_else(|_| "CryptoTWAPpremium".into());

    let client = Client::new(base)?;
    client.login(&user, &password).await?;
    println!("logged in to {base} as {user}");

    let mut stream = client.stream().await?;
    stream.subscribe_orders().await?;
    stream
        .subscribe_book(BookChannel {
            exchange: exchange.into(),
            symbol: symbol.into(),
            depth: 1,
            interval_ms: 1_000,
        })
        .await?;

    let token_id = format!("example-{}", std::process::id());
    let order = client
        .submit(&twap(&token_id, exchange, symbol, "buy", "0.05", 10, 2)?)
        .await?;
    println!(
        "accepted {} ({} slices, status {})",
        order.token_id, order.slices_total, order.status
    );

    // REST polling in the background, the WebSocket in the foreground.
    let poller = {
        let client = client.clone();
        let token_id = token_id.clone();
        tokio::spawn(async move {
            client
                .wait_for_final(&token_id, Duration::from_millis(500))
                .await
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), stream.next()).await
        else {
            break;
        };
        match msg? {
            ServerMessage::Book(b) => println!(
                "  book  {} {}  bid {:?}  ask {:?}  ({})",
                b.exchange,
                b.symbol,
                b.bids.first().map(|l| l.0),
                b.asks.first().map(|l| l.0),
                b.health.state
            ),
            ServerMessage::Order { order, slice } if order.token_id == token_id => {
                if let Some(s) = slice {
                    println!(
                        "  slice {} filled {} of {} at {:?}",
                        s.index, s.filled_quantity, s.target_quantity, s.avg_price
                    );
                }
                println!(
                    "  order {}  filled {} / {}",
                    order.status, order.filled_quantity, order.quantity
                );
                if !matches!(order.status.as_str(), "pending" | "working") {
                    break;
                }
            }
            _ => {}
        }
    }
    let done = match poller.await {
        Ok(r) => r?,
        Err(e) => return Err(Error::Transport(e.to_string())),
    };
    let a = &done.analytics;
    println!(
        "final: {}  filled {} ({} of the order) at {:?}",
        done.status, done.filled_quantity, done.fill_ratio, done.avg_price
    );
    println!(
        "  arrival mid {:?}  slippage vs arrival {:?} bps",
        a.arrival_mid, a.slippage_vs_arrival_bps
    );
    println!(
        "  market TWAP {:?}  slippage vs TWAP {:?} bps",
        a.market_twap, a.slippage_vs_market_twap_bps
    );
    println!(
        "  fees {}  spread cost {}  slices done {} skipped {}",
        done.fees, a.spread_cost, done.slices_done, done.slices_skipped
    );
    Ok(())
}
