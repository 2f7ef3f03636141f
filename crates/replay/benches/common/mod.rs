//! A recorded sim market and an order on it, shared by the what-if bench and tests.
#![allow(clippy::unwrap_used, dead_code)]

use std::str::FromStr;

use engine::{
    CatchUp, Limits, Order, OrderParts, OrderRequest, OrderStatus, Strategy, Timing, TokenId,
    Totals, validate,
};
use model::{ExchangeId, Pair, Side, Timestamp};
use rust_decimal::Decimal;
use sim::{SimMarket, SimSpec};
use tape::{TapeDir, TapeEvent, WriterConfig};

pub(crate) const SECOND: i64 = 1_000_000_000;

/// The sim's BTC-USDT market and its pair.
pub(crate) fn market(start: Timestamp) -> (SimMarket, Pair) {
    let spec = SimSpec::defaults().remove(0);
    let m = SimMarket::new(spec, 7, start, 0).unwrap();
    let pair = m.pair().clone();
    (m, pair)
}

/// `steps` tenths of a second of the sim's BTC-USDT book (10 Hz) and its trades, recorded
/// as the server records (hour files, a checkpoint a minute). Returns the book events.
pub(crate) fn record(root: &std::path::Path, start: Timestamp, steps: i64) -> usize {
    let (mut m, _) = market(start);
    let mut tapes = TapeDir::new(root, WriterConfig::default()).unwrap();
    let snapshot = TapeEvent::Book {
        local: start,
        event: m.snapshot(start),
    };
    tapes.append("sim", "BTC-USDT", &snapshot).unwrap();
    let mut events = 1;
    for i in 1..=steps {
        let now = Timestamp::from_nanos(start.as_nanos() + i * SECOND / 10);
        let (event, trades) = m.step(now);
        tapes
            .append("sim", "BTC-USDT", &TapeEvent::Book { local: now, event })
            .unwrap();
        events += 1;
        for mut t in trades {
            t.local_ts = now;
            tapes
                .append("sim", "BTC-USDT", &TapeEvent::Trade(t))
                .unwrap();
        }
        if i % 10 == 0 {
            tapes.flush().unwrap();
        }
    }
    tapes.flush().unwrap();
    events
}

/// A TWAP buy of `qty` over `duration_secs`, a slice every `interval_secs`, from `start`.
pub(crate) fn order(
    pair: &Pair,
    start: Timestamp,
    qty: Decimal,
    duration_secs: u64,
    interval_secs: u64,
) -> Order {
    order_with(
        pair,
        start,
        qty,
        duration_secs,
        interval_secs,
        Strategy::default(),
    )
}

/// As [`order`], with another strategy.
pub(crate) fn order_with(
    pair: &Pair,
    start: Timestamp,
    qty: Decimal,
    duration_secs: u64,
    interval_secs: u64,
    strategy: Strategy,
) -> Order {
    let req = OrderRequest {
        token_id: TokenId::from_str("bench").unwrap(),
        exchange: ExchangeId::Sim,
        side: Side::Buy,
        quantity: qty,
        limit_price: None,
        timing: Timing::DurationInterval {
            duration_secs,
            interval_secs,
        },
        start_time: Some(start),
        catch_up: CatchUp::Spread,
        strategy: strategy.clone(),
        latency_ms: 0,
        route: None,
    };
    let plan = validate(&req, pair, start, &Limits::default(), None).unwrap();
    Order::from_parts(OrderParts {
        id: 1,
        user_id: 1,
        token_id: req.token_id,
        exchange: ExchangeId::Sim,
        symbol: pair.symbol.clone(),
        side: Side::Buy,
        limit_price: None,
        catch_up: CatchUp::Spread,
        strategy,
        route: None,
        latency_ms: 0,
        plan,
        fee_bps: Decimal::from(10),
        created_at: start,
        status: OrderStatus::Working,
        closed_at: None,
        next_index: 0,
        totals: Totals::default(),
    })
}
