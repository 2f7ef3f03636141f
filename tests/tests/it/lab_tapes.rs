//! The lab's recorder through the real server: the books it follows and the liquidity its
//! paper orders take are on tape beside the database.

use std::time::Duration;

use e2e::spawn_app;
use papertwap_client::wire::{self, Strategy};
use papertwap_client::{Client, Decimal, order};
use papertwap_server::settings::StoreSettings;
use tape::{TapeEvent, TapeReader};

/// Every `Consumed` record of the sim's BTC-USDT tapes: (time, price, qty).
fn consumed(dir: &std::path::Path) -> Vec<(i64, Decimal, Decimal)> {
    let mut out = Vec::new();
    for f in tape::dir::list(dir).unwrap_or_default() {
        if f.exchange != "sim" || f.symbol != "BTC-USDT" {
            continue;
        }
        let Ok(r) = TapeReader::open(&f.path) else {
            continue;
        };
        for e in r.events().map_while(Result::ok) {
            if let TapeEvent::Consumed {
                local, price, qty, ..
            } = e
            {
                out.push((local.as_nanos(), price.get(), qty.get()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_liquidity_an_order_takes_is_on_tape() {
    let app = spawn_app().await.unwrap();
    let tapes = StoreSettings {
        url: app.store_url.clone(),
        ..StoreSettings::default()
    }
    .tape_folder()
    .expect("recording is on beside a database file");
    let c = Client::new(&app.base).unwrap();
    c.login("premium", "CryptoTWAPpremium").await.unwrap();
    c.order_book("sim", "BTC-USDT", 5).await.unwrap();
    let req = order(
        Strategy::Twap,
        "lab-1",
        "sim",
        "BTC-USDT",
        "buy",
        "0.5",
        2,
        1,
    )
    .unwrap();
    c.submit_order(&req).await.unwrap();
    let o = tokio::time::timeout(
        Duration::from_secs(60),
        c.wait_for_final("lab-1", Duration::from_millis(200)),
    )
    .await
    .expect("final within a minute")
    .unwrap();
    assert_eq!(o.status, wire::OrderStatus::Filled);
    // Each slice's fills, as the tape must hold them: (executed at, price, qty).
    let mut want: Vec<(i64, Decimal, Decimal)> = o
        .slices
        .unwrap()
        .iter()
        .flat_map(|s| {
            let at = s.executed_at.timestamp_nanos_opt().unwrap();
            s.fills.iter().map(move |(p, q)| (at, *p, *q))
        })
        .collect();
    want.sort();
    assert!(!want.is_empty());
    // The recorder writes its tapes out once a second.
    testkit::eventually_async("the fills are on tape", Duration::from_secs(10), || {
        let (tapes, want) = (tapes.clone(), want.clone());
        async move {
            let mut got = consumed(&tapes);
            got.sort();
            got == want
        }
    })
    .await;
    // The book's rules are kept beside its tapes, so a replay can serve them anywhere.
    let listed = c.pairs("sim", None).await.unwrap();
    let btc = listed.iter().find(|p| p.symbol == "BTC-USDT").unwrap();
    let kept = tape::read_pair(&tapes, "sim", "BTC-USDT")
        .unwrap()
        .expect("pair.json beside the tapes");
    assert_eq!(
        (kept.price_tick, kept.qty_step, kept.min_qty),
        (btc.price_tick, btc.qty_step, btc.min_qty)
    );
    assert_eq!(kept.exchange_symbol, btc.exchange_symbol);
}
