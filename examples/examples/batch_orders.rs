//! Submit a batch of TWAPs in one request and list them.
//!
//! `cargo run -p examples --example batch_orders -- [BASE_URL]`
#![allow(clippy::print_stdout)]

use papertwap_client::{Client, Error, twap, wire};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let base = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:8000".into());
    let client = Client::new(&base)?;
    client.login("premium", "CryptoTWAPpremium").await?;
    let run = std::process::id();
    let batch = vec![
        twap(
            &format!("batch-{run}-btc"),
            "sim",
            "BTC-USDT",
            "buy",
            "0.02",
            60,
            10,
        )?,
        twap(
            &format!("batch-{run}-eth"),
            "sim",
            "ETH-USDT",
            "sell",
            "0.5",
            60,
            10,
        )?,
        twap(
            &format!("batch-{run}-sol"),
            "sim",
            "SOL-USDT",
            "buy",
            "3",
            60,
            10,
        )?,
    ];
    let created = client.submit_batch(&batch).await?;
    for o in &created {
        println!(
            "{:<24} {:<9} {:<4} {:>8} {}",
            o.token_id, o.symbol, o.side, o.quantity, o.status
        );
    }
    let open = client
        .orders(&wire::OrdersQuery {
            status: Some("open".into()),
            ..Default::default()
        })
        .await?;
    println!("{} open orders", open.len());
    for o in &created {
        let c = client.cancel(&o.token_id).await?;
        println!(
            "cancelled {} after filling {}",
            c.token_id, c.filled_quantity
        );
    }
    Ok(())
}
