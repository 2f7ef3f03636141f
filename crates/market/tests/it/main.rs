//! Hub behaviour against a scripted exchange whose events the test injects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use market::{
    ConnState, Exchange, FeedCommand, FeedContext, FeedEvent, Hub, HubConfig, KlineQuery,
    MarketError,
};
use model::{
    BookEvent, BookSide, BookState, ExchangeId, Kline, Level, OrderBook, Pair, PairStatus,
    Timestamp,
};
use rust_decimal::Decimal;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

type Pipes = (
    mpsc::UnboundedSender<FeedCommand>,
    mpsc::UnboundedReceiver<FeedEvent>,
);

/// An exchange whose feed forwards the hub's commands to the test and the test's events to
/// the hub. Its "checksum" is the number of bid levels, so tests can make it match or not.
struct Scripted {
    pipes: Mutex<Option<Pipes>>,
}

impl Exchange for Scripted {
    fn id(&self) -> ExchangeId {
        ExchangeId::Binance
    }
    fn pairs(&self) -> BoxFuture<'_, Result<Vec<Pair>, MarketError>> {
        async {
            Ok(vec![Pair {
                exchange: ExchangeId::Binance,
                symbol: "BTC-USDT".parse().unwrap(),
                exchange_symbol: "BTCUSDT".into(),
                ws_symbol: "btcusdt".into(),
                aliases: vec![],
                status: PairStatus::Trading,
                price_tick: Decimal::new(1, 2),
                qty_step: Decimal::new(1, 5),
                min_qty: Decimal::new(1, 5),
                min_notional: None,
            }])
        }
        .boxed()
    }
    fn klines(&self, _q: KlineQuery) -> BoxFuture<'_, Result<Vec<Kline>, MarketError>> {
        async { Ok(vec![]) }.boxed()
    }
    fn book_checksum(&self, _pair: &Pair, book: &OrderBook) -> Option<u32> {
        Some(book.len().0 as u32)
    }
    fn run_feed(self: Arc<Self>, ctx: FeedContext) -> BoxFuture<'static, ()> {
        let pipes = self.pipes.lock().unwrap().take();
        async move {
            let Some((to_test, mut from_test)) = pipes else { return };
            let FeedContext {
                mut commands,
                events,
                shutdown,
            } = ctx;
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    c = commands.recv() => match c {
                        Some(c) => { let _ = to_test.send(c); }
                        None => return,
                    },
                    e = from_test.recv() => match e {
                        Some(FeedEvent::Connection { state: ConnState::Connected, error }) => {
                            events.alive();
                            let _ = events.send(FeedEvent::Connection { state: ConnState::Connected, error }).await;
                        }
                        Some(e) => {
                            events.alive();
                            let _ = events.send(e).await;
                        }
                        None => return,
                    },
                }
            }
        }
        .boxed()
    }
}

struct Rig {
    hub: Hub,
    commands: mpsc::UnboundedReceiver<FeedCommand>,
    inject: mpsc::UnboundedSender<FeedEvent>,
    shutdown: CancellationToken,
}

async fn rig(config: HubConfig) -> Rig {
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel();
    let ex = Arc::new(Scripted {
        pipes: Mutex::new(Some((cmd_tx, ev_rx))),
    });
    let shutdown = CancellationToken::new();
    let hub = Hub::start(config, vec![ex as Arc<dyn Exchange>], shutdown.clone());
    hub.pairs_within(ExchangeId::Binance, Duration::from_secs(5))
        .await
        .unwrap();
    Rig {
        hub,
        commands: cmd_rx,
        inject: ev_tx,
        shutdown,
    }
}

fn lv(p: &str, q: &str) -> Level {
    Level::parse(p, q).unwrap()
}

fn book(
    kind_snapshot: bool,
    bids: Vec<Level>,
    asks: Vec<Level>,
    checksum: Option<u32>,
) -> FeedEvent {
    let mut event = if kind_snapshot {
        BookEvent::snapshot(bids, asks)
    } else {
        BookEvent::delta(bids, asks)
    };
    event.checksum = checksum;
    FeedEvent::Book {
        symbol: "BTC-USDT".parse().unwrap(),
        event,
        received: Timestamp::now(),
    }
}

impl Rig {
    async fn next_command(&mut self) -> FeedCommand {
        tokio::time::timeout(Duration::from_secs(5), self.commands.recv())
            .await
            .expect("a command in time")
            .expect("feed alive")
    }

    /// Wait for the published snapshot to satisfy `f`.
    async fn until(
        &self,
        w: &mut market::BookWatch,
        f: impl Fn(&market::BookSnapshot) -> bool,
    ) -> Arc<market::BookSnapshot> {
        let cur = w.current();
        if f(&cur) {
            return cur;
        }
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                let s = w.changed().await.unwrap();
                if f(&s) {
                    return s;
                }
            }
        })
        .await
        .expect("condition reached in time")
    }
}

#[tokio::test]
async fn crossed_book_resyncs_that_symbol_and_deltas_wait_for_a_new_baseline() {
    let mut r = rig(HubConfig::default()).await;
    let mut w = r.hub.watch(ExchangeId::Binance, "btcusdt").unwrap();
    match r.next_command().await {
        FeedCommand::Subscribe(p) => assert_eq!(p[0].symbol.as_str(), "BTC-USDT"),
        other => panic!("expected subscribe, got {other:?}"),
    }
    r.inject
        .send(book(true, vec![lv("100", "1")], vec![lv("101", "1")], None))
        .unwrap();
    let s = r.until(&mut w, |s| s.health.state == BookState::Live).await;
    assert_eq!(s.health.resyncs, 0, "the first sync is not a resync");

    // A delta that crosses the book.
    r.inject
        .send(book(false, vec![lv("102", "1")], vec![], None))
        .unwrap();
    let s = r
        .until(&mut w, |s| s.health.state == BookState::Resyncing)
        .await;
    assert!(s.health.crossed);
    assert!(!s.health.is_tradeable());
    match r.next_command().await {
        FeedCommand::Resync(p) => assert_eq!(p.symbol.as_str(), "BTC-USDT"),
        other => panic!("expected resync, got {other:?}"),
    }
    // Deltas without a baseline are not applied: a state marker sent after it publishes
    // the book as it stands once the delta has been processed (events are ordered).
    r.inject
        .send(book(false, vec![lv("99", "5")], vec![], None))
        .unwrap();
    r.inject
        .send(FeedEvent::State {
            symbol: "BTC-USDT".parse().unwrap(),
            state: BookState::Resyncing,
            reason: Some("marker".into()),
        })
        .unwrap();
    let s = r
        .until(&mut w, |s| s.health.last_error.as_deref() == Some("marker"))
        .await;
    assert!(
        s.book
            .levels(BookSide::Bid)
            .all(|l| l.price.get() != Decimal::from(99)),
        "a delta without a baseline was applied"
    );
    // A fresh snapshot restores it and counts one resync.
    r.inject
        .send(book(
            true,
            vec![lv("100", "2")],
            vec![lv("100.5", "1")],
            None,
        ))
        .unwrap();
    let s = r.until(&mut w, |s| s.health.state == BookState::Live).await;
    assert_eq!(s.health.resyncs, 1);
    assert!(!s.health.crossed);
    r.shutdown.cancel();
    r.hub.wait().await;
}

#[tokio::test]
async fn checksum_mismatch_resyncs_until_the_breaker_marks_it_unreliable() {
    let mut r = rig(HubConfig::default()).await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTC-USDT").unwrap();
    let _subscribe = r.next_command().await;
    // Checksum = number of bid levels: 1 matches.
    r.inject
        .send(book(
            true,
            vec![lv("100", "1")],
            vec![lv("101", "1")],
            Some(1),
        ))
        .unwrap();
    r.until(&mut w, |s| s.health.state == BookState::Live).await;
    for i in 1..=4u64 {
        // A snapshot with a wrong checksum.
        r.inject
            .send(book(
                true,
                vec![lv("100", "1")],
                vec![lv("101", "1")],
                Some(7),
            ))
            .unwrap();
        if i <= 3 {
            let s = r.until(&mut w, |s| s.health.checksum_failures == i).await;
            assert_eq!(s.health.state, BookState::Resyncing);
            assert!(matches!(r.next_command().await, FeedCommand::Resync(_)));
        } else {
            let s = r.until(&mut w, |s| s.health.checksum_unreliable).await;
            assert_eq!(s.health.checksum_failures, 4);
            assert_eq!(s.health.state, BookState::Live, "keeps streaming");
        }
    }
    r.shutdown.cancel();
    r.hub.wait().await;
}

#[tokio::test(start_paused = true)]
async fn quiet_connection_makes_books_stale_and_liveness_restores_them() {
    let mut r = rig(HubConfig {
        stale_after: Duration::from_millis(5_000),
        ..HubConfig::default()
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTC-USDT").unwrap();
    let _subscribe = r.next_command().await;
    r.inject
        .send(book(true, vec![lv("100", "1")], vec![lv("101", "1")], None))
        .unwrap();
    r.until(&mut w, |s| s.health.state == BookState::Live).await;
    // Heartbeats (connection liveness) keep a quiet book live.
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        r.inject
            .send(FeedEvent::Connection {
                state: ConnState::Connected,
                error: None,
            })
            .unwrap();
    }
    assert_eq!(w.current().health.state, BookState::Live);
    // Silence: stale within stale_after + the 1 s check.
    let t0 = tokio::time::Instant::now();
    let s = r
        .until(&mut w, |s| s.health.state == BookState::Stale)
        .await;
    assert!(t0.elapsed() <= Duration::from_secs(7), "{:?}", t0.elapsed());
    assert!(!s.health.is_tradeable());
    // Life again.
    r.inject
        .send(FeedEvent::Connection {
            state: ConnState::Connected,
            error: None,
        })
        .unwrap();
    r.until(&mut w, |s| s.health.state == BookState::Live).await;
    // A lost connection takes its books down.
    r.inject
        .send(FeedEvent::Connection {
            state: ConnState::Down,
            error: Some("reset by peer".into()),
        })
        .unwrap();
    let s = r.until(&mut w, |s| s.health.state == BookState::Down).await;
    assert_eq!(s.health.last_error.as_deref(), Some("reset by peer"));
    let st = r.hub.exchanges();
    assert_eq!(st[0].connection, Some(ConnState::Down));
    r.shutdown.cancel();
    r.hub.wait().await;
}

#[tokio::test]
async fn a_reader_about_to_trade_sees_staleness_before_the_sweep() {
    // The sweep runs once a second; `snapshot_for_trading` judges at the moment of reading.
    let mut r = rig(HubConfig {
        stale_after: Duration::from_millis(300),
        ..HubConfig::default()
    })
    .await;
    let mut w = r.hub.watch(ExchangeId::Binance, "BTC-USDT").unwrap();
    let _subscribe = r.next_command().await;
    r.inject
        .send(book(true, vec![lv("100", "1")], vec![lv("101", "1")], None))
        .unwrap();
    r.until(&mut w, |s| s.health.state == BookState::Live).await;
    let fresh = r
        .hub
        .snapshot_for_trading(ExchangeId::Binance, "BTC-USDT")
        .unwrap();
    assert_eq!(fresh.health.state, BookState::Live);
    // 400 ms of silence: whatever the sweep has published by now, a trader sees `stale`.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let quiet = r
        .hub
        .snapshot_for_trading(ExchangeId::Binance, "BTC-USDT")
        .unwrap();
    assert_eq!(quiet.health.state, BookState::Stale);
    assert!(!quiet.health.is_tradeable());
    // A sign of life makes it tradeable again at once.
    r.inject
        .send(book(false, vec![lv("100", "2")], vec![], None))
        .unwrap();
    r.until(&mut w, |s| {
        s.health.state == BookState::Live
            && s.book.top(1).bids()[0].qty.get() == rust_decimal::Decimal::TWO
    })
    .await;
    let back = r
        .hub
        .snapshot_for_trading(ExchangeId::Binance, "BTC-USDT")
        .unwrap();
    assert_eq!(back.health.state, BookState::Live);
    r.shutdown.cancel();
    r.hub.wait().await;
}
