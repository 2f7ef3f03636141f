//! Public trades on every venue, end to end: the server against the Binance, Kraken, OKX,
//! Bybit, Coinbase and Bitstamp mocks (and its own sim); each venue prints trades, and the SDK reads them back over
//! REST (`GET /trades/{exchange}/{symbol}`) and the WS `trades` channel, each once, with the
//! taker's side.

use std::collections::HashMap;
use std::time::Duration;

use e2e::spawn_app_with_env;
use papertwap_client::wire::{self, ServerMessage};
use papertwap_client::{BookChannel, Client};
use testkit::binance::MockBinance;
use testkit::bitstamp::MockBitstamp;
use testkit::bybit::MockBybit;
use testkit::coinbase::MockCoinbase;
use testkit::kraken::MockKraken;
use testkit::okx::MockOkx;

struct Mocks {
    binance: MockBinance,
    kraken: MockKraken,
    okx: MockOkx,
    bybit: MockBybit,
    coinbase: MockCoinbase,
    bitstamp: MockBitstamp,
}

impl Mocks {
    fn move_books(&self) {
        self.binance.random_update("BTCUSDT");
        self.kraken.random_update("BTC/USD");
        self.okx.random_update("BTC-USDT");
        self.bybit.random_update("BTCUSDT");
        self.coinbase.random_update("BTC-USD");
        self.bitstamp.random_update("btcusd");
    }

    /// One trade on each venue (the sim prints its own); returns exchange → (id, side).
    fn print(&self, n: u64) -> Vec<(&'static str, String, wire::Side)> {
        let buy = n.is_multiple_of(2);
        let id_b = self.binance.trade("BTCUSDT", "67000.01", "0.01000", !buy);
        let id_k = self.kraken.trade(
            "BTC/USD",
            if buy { "buy" } else { "sell" },
            "67000.1",
            "0.01000000",
        );
        let id_o = self.okx.trade(
            "BTC-USDT",
            if buy { "buy" } else { "sell" },
            "67000.1",
            "0.01",
        );
        let id_y = self.bybit.trade(
            "BTCUSDT",
            if buy { "Buy" } else { "Sell" },
            "67000.01",
            "0.01",
        );
        // Coinbase reports the maker's side; Bitstamp's `type` is the taker's (0 buy).
        let id_c = self.coinbase.trade(
            "BTC-USD",
            if buy { "SELL" } else { "BUY" },
            "67000.01",
            "0.01",
        );
        let id_s = self
            .bitstamp
            .trade("btcusd", u8::from(!buy), "67000.01", "0.01000000");
        let side = if buy {
            wire::Side::Buy
        } else {
            wire::Side::Sell
        };
        vec![
            ("binance", id_b.to_string(), side),
            ("kraken", id_k.to_string(), side),
            ("okx", id_o.to_string(), side),
            ("bybit", id_y.to_string(), side),
            ("coinbase", id_c.to_string(), side),
            ("bitstamp", id_s.to_string(), side),
        ]
    }
}

const SYMBOLS: [(&str, &str); 7] = [
    ("sim", "BTC-USDT"),
    ("binance", "BTC-USDT"),
    ("kraken", "BTC-USD"),
    ("okx", "BTC-USDT"),
    ("bybit", "BTC-USDT"),
    ("coinbase", "BTC-USD"),
    ("bitstamp", "BTC-USD"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_are_served_over_rest_and_ws_for_all_seven_venues() {
    let m = Mocks {
        binance: MockBinance::start(&["BTCUSDT"]).await.unwrap(),
        kraken: MockKraken::start(&["BTC/USD"]).await.unwrap(),
        okx: MockOkx::start(&["BTC-USDT"]).await.unwrap(),
        bybit: MockBybit::start(&["BTCUSDT"]).await.unwrap(),
        coinbase: MockCoinbase::start(&["BTC-USD"]).await.unwrap(),
        bitstamp: MockBitstamp::start(&["btcusd"]).await.unwrap(),
    };
    let app = spawn_app_with_env(&[
        ("PAPERTWAP_EXCHANGES__BINANCE__WS_URL", &m.binance.ws_url),
        (
            "PAPERTWAP_EXCHANGES__BINANCE__REST_URL",
            &m.binance.rest_url,
        ),
        ("PAPERTWAP_EXCHANGES__BINANCE__SYMBOLS", "BTC-USDT"),
        ("PAPERTWAP_EXCHANGES__KRAKEN__WS_URL", &m.kraken.ws_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__REST_URL", &m.kraken.rest_url),
        ("PAPERTWAP_EXCHANGES__KRAKEN__SYMBOLS", "BTC-USD"),
        ("PAPERTWAP_EXCHANGES__OKX__WS_URL", &m.okx.ws_url),
        ("PAPERTWAP_EXCHANGES__OKX__REST_URL", &m.okx.rest_url),
        ("PAPERTWAP_EXCHANGES__OKX__SYMBOLS", "BTC-USDT"),
        ("PAPERTWAP_EXCHANGES__BYBIT__WS_URL", &m.bybit.ws_url),
        ("PAPERTWAP_EXCHANGES__BYBIT__REST_URL", &m.bybit.rest_url),
        ("PAPERTWAP_EXCHANGES__BYBIT__SYMBOLS", "BTC-USDT"),
        ("PAPERTWAP_EXCHANGES__COINBASE__WS_URL", &m.coinbase.ws_url),
        (
            "PAPERTWAP_EXCHANGES__COINBASE__REST_URL",
            &m.coinbase.rest_url,
        ),
        ("PAPERTWAP_EXCHANGES__COINBASE__SYMBOLS", "BTC-USD"),
        ("PAPERTWAP_EXCHANGES__BITSTAMP__WS_URL", &m.bitstamp.ws_url),
        (
            "PAPERTWAP_EXCHANGES__BITSTAMP__REST_URL",
            &m.bitstamp.rest_url,
        ),
        ("PAPERTWAP_EXCHANGES__BITSTAMP__SYMBOLS", "BTC-USD"),
    ])
    .await
    .unwrap();
    let client = Client::new(&app.base).unwrap();
    client.login("premium", "CryptoTWAPpremium").await.unwrap();
    // Every book live (the trade channels ride the same subscriptions).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (ex, sym) in SYMBOLS {
        loop {
            m.move_books();
            if let Ok(b) = client.order_book(ex, sym, 1).await
                && b.health.state == wire::BookState::Live
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{ex} never live");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut stream = client.stream().await.unwrap();
    for (ex, sym) in SYMBOLS {
        let sub = stream.subscribe_trades(ex, sym, Some(100)).await.unwrap();
        assert_eq!(sub.symbol.as_deref(), Some(sym));
    }
    // Keep the books moving (also a margin for the venues' trade subscriptions), then print.
    for _ in 0..20 {
        m.move_books();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut printed = Vec::new();
    for n in 0..3 {
        printed.extend(m.print(n));
    }
    // WS: every venue's trades arrive, each once, with the taker's side; the sim's too.
    let mut seen: HashMap<&str, Vec<(String, wire::Side)>> = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ["binance", "kraken", "okx", "bybit", "coinbase", "bitstamp"]
        .iter()
        .any(|ex| seen.get(ex).map_or(0, Vec::len) < 3)
        || !seen.contains_key("sim")
    {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        assert!(!left.is_zero(), "trades missing over WS: {seen:?}");
        let Ok(Some(Ok(msg))) = tokio::time::timeout(left, stream.next()).await else {
            panic!("the stream ended: {seen:?}");
        };
        if let ServerMessage::Trades(t) = msg {
            let ex = SYMBOLS
                .iter()
                .find(|(e, _)| *e == t.exchange)
                .map(|(e, _)| *e)
                .unwrap();
            assert_eq!(t.symbol, SYMBOLS.iter().find(|(e, _)| *e == ex).unwrap().1);
            let v = seen.entry(ex).or_default();
            v.extend(t.trades.iter().map(|x| (x.trade_id.clone(), x.taker_side)));
        }
    }
    for (ex, id, side) in &printed {
        let got = &seen[ex];
        assert_eq!(
            got.iter().filter(|(i, _)| i == id).count(),
            1,
            "{ex} trade {id} once over WS: {got:?}"
        );
        assert!(got.contains(&(id.clone(), *side)), "{ex} {id} {side:?}");
    }
    // REST: the same trades, oldest first.
    for (ex, sym) in SYMBOLS {
        let q = wire::TradesQuery {
            limit: Some(1_000),
            ..Default::default()
        };
        let rest = client.trades(ex, sym, &q).await.unwrap();
        assert!(!rest.is_empty(), "{ex}: no trades over REST");
        let ids: Vec<&str> = rest.iter().map(|t| t.trade_id.as_str()).collect();
        for (_, id, _) in printed.iter().filter(|(e, _, _)| *e == ex) {
            assert_eq!(
                ids.iter().filter(|i| **i == id.as_str()).count(),
                1,
                "{ex} {id}"
            );
        }
        assert!(
            rest.windows(2)
                .all(|w| w[0].exchange_ts <= w[1].exchange_ts),
            "{ex}: oldest first"
        );
    }
    // Pairs, candles and books of the two newest venues through the same SDK calls.
    for (ex, sym) in [("coinbase", "BTC-USD"), ("bitstamp", "BTC-USD")] {
        let pairs = client.pairs(ex, Some("USD")).await.unwrap();
        assert!(pairs.iter().any(|p| p.symbol == sym), "{ex}: {pairs:?}");
        let q = wire::KlinesQuery {
            interval: Some("1h".into()),
            limit: Some(400),
            ..Default::default()
        };
        let k = client.klines(ex, sym, &q).await.unwrap();
        assert_eq!(k.len(), 400, "{ex}: paged by the adapter");
        assert!(k.windows(2).all(|w| w[0].open_time < w[1].open_time));
        let b = client.order_book(ex, sym, 5).await.unwrap();
        assert_eq!(b.bids.len(), 5, "{ex}");
    }
    // The book subscription of the SDK stays possible alongside.
    stream
        .subscribe_book(BookChannel {
            exchange: "okx".into(),
            symbol: "BTC-USDT".into(),
            depth: 5,
            interval_ms: 200,
        })
        .await
        .unwrap();
    app.stop().await.unwrap();
}
