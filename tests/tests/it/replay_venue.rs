//! The replay venue in the real server (`exchanges.replay`, on the sample tape built in):
//! listed like any venue, its books live, and an order placed on it fills against the
//! recorded book.

use std::time::Duration;

use e2e::spawn_app_with;
use papertwap_client::wire::{self, Strategy};
use papertwap_client::{Client, Decimal, order};

#[tokio::test]
async fn orders_fill_on_a_recorded_market_offline() {
    let app = spawn_app_with(|s| {
        s.exchanges.sim.enabled = false;
        s.exchanges.replay.enabled = true;
        s.exchanges.replay.speed = Some(2.0);
    })
    .await
    .unwrap();
    let c = Client::new(&app.base).unwrap();
    let venues = c.exchanges().await.unwrap();
    assert!(venues.iter().any(|e| e.id == "replay"), "{venues:?}");
    let pairs = c.pairs("replay", None).await.unwrap();
    let mut symbols: Vec<&str> = pairs.iter().map(|p| p.symbol.as_str()).collect();
    symbols.sort();
    assert_eq!(symbols, ["ETH-USD", "NKN-USDT"]);
    let nkn = pairs.iter().find(|p| p.symbol == "NKN-USDT").unwrap();
    assert_eq!(
        nkn.exchange_symbol, "NKNUSDT",
        "the recording venue's names resolve"
    );
    // The recorded Bitstamp ETH/USD book, live.
    testkit::eventually_async("the replayed book is live", Duration::from_secs(20), || {
        let c = c.clone();
        async move {
            c.order_book("replay", "ETH-USD", 5)
                .await
                .is_ok_and(|b| b.asks.len() == 5 && b.bids.len() == 5)
        }
    })
    .await;
    let top = c.order_book("replay", "ETH-USD", 5).await.unwrap();
    let ask = top.asks[0].0;
    assert!(
        ask > Decimal::from(3_700) && ask < Decimal::from(3_900),
        "{ask}"
    );

    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    let req = order(
        Strategy::Twap,
        "replay-1",
        "replay",
        "ETH-USD",
        "buy",
        "2",
        2,
        1,
    )
    .unwrap();
    c.submit_order(&req).await.unwrap();
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        c.wait_for_final("replay-1", Duration::from_millis(200)),
    )
    .await
    .expect("final within a minute")
    .unwrap();
    assert_eq!(o.status, wire::OrderStatus::Filled, "{o:?}");
    let avg = o.avg_price.unwrap();
    assert!(
        avg > Decimal::from(3_700) && avg < Decimal::from(3_900),
        "{avg}"
    );
}
