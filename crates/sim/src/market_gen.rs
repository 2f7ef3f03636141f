//! One simulated market: a random-walk mid, a ladder of levels around it, and 1-minute
//! candles, all in integer ticks and lots.

use std::collections::BTreeMap;

use model::{
    BookEvent, ExchangeId, Interval, Kline, Level, Pair, PairStatus, Price, Qty, Side, Symbol,
    Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use crate::rng::{Rng, fnv};
use crate::takers;

/// Static description of a simulated pair.
#[derive(Debug, Clone)]
pub struct SimSpec {
    /// Base asset.
    pub base: &'static str,
    /// Quote asset.
    pub quote: &'static str,
    /// Starting mid, in ticks.
    pub start_ticks: i64,
    /// Price tick.
    pub tick: Decimal,
    /// Quantity step (lot).
    pub step: Decimal,
    /// Minimum order quantity.
    pub min_qty: Decimal,
    /// Minimum order value in quote.
    pub min_notional: Decimal,
    /// Typical level size, in lots.
    pub size_lots: i64,
    /// Largest gap between adjacent levels, in ticks.
    pub gap_ticks: i64,
    /// Largest move of the mid in one step, in ticks.
    pub move_ticks: i64,
}

impl SimSpec {
    /// The default markets: BTC-USDT, ETH-USDT, SOL-USDT and ETH-BTC.
    pub fn defaults() -> Vec<SimSpec> {
        vec![
            SimSpec {
                base: "BTC",
                quote: "USDT",
                start_ticks: 6_700_000,
                tick: Decimal::new(1, 2),
                step: Decimal::new(1, 5),
                min_qty: Decimal::new(1, 5),
                min_notional: Decimal::new(5, 0),
                size_lots: 50_000,
                gap_ticks: 25,
                move_ticks: 400,
            },
            SimSpec {
                base: "ETH",
                quote: "USDT",
                start_ticks: 350_000,
                tick: Decimal::new(1, 2),
                step: Decimal::new(1, 4),
                min_qty: Decimal::new(1, 4),
                min_notional: Decimal::new(5, 0),
                size_lots: 50_000,
                gap_ticks: 3,
                move_ticks: 30,
            },
            SimSpec {
                base: "SOL",
                quote: "USDT",
                start_ticks: 15_000,
                tick: Decimal::new(1, 2),
                step: Decimal::new(1, 3),
                min_qty: Decimal::new(1, 3),
                min_notional: Decimal::new(5, 0),
                size_lots: 40_000,
                gap_ticks: 1,
                move_ticks: 1,
            },
            SimSpec {
                base: "ETH",
                quote: "BTC",
                start_ticks: 5_200,
                tick: Decimal::new(1, 5),
                step: Decimal::new(1, 4),
                min_qty: Decimal::new(1, 4),
                min_notional: Decimal::new(1, 4),
                size_lots: 40_000,
                gap_ticks: 1,
                move_ticks: 1,
            },
        ]
    }
}

#[derive(Debug, Clone, Copy)]
struct Candle {
    minute: i64,
    open: i64,
    high: i64,
    low: i64,
    close: i64,
    volume: i64,
}

/// Levels kept per side: refilled below the minimum, trimmed above the maximum.
const MIN_LEVELS: usize = 60;
const MAX_LEVELS: usize = 80;

/// A simulated market.
#[derive(Debug, Clone)]
pub struct SimMarket {
    spec: SimSpec,
    tick_price: Price,
    pair: Pair,
    rng: Rng,
    center: i64,
    bids: BTreeMap<i64, i64>,
    asks: BTreeMap<i64, i64>,
    history: Vec<Candle>,
    current: Candle,
    steps: u64,
    /// Id of the last trade printed.
    trade_seq: u64,
}

impl SimMarket {
    /// A market seeded from `seed` and its symbol, with `history_minutes` closed 1-minute
    /// candles ending at the minute before `now`'s.
    pub fn new(
        spec: SimSpec,
        seed: u64,
        now: Timestamp,
        history_minutes: usize,
    ) -> Result<Self, SpecError> {
        let symbol = Symbol::new(spec.base, spec.quote)?;
        let tick_price = Price::try_from(spec.tick)?;
        if spec.step <= Decimal::ZERO || spec.start_ticks < 1 || spec.size_lots < 1 {
            return Err(SpecError::Parameters(symbol.to_string()));
        }
        let pair = Pair {
            exchange: ExchangeId::Sim,
            exchange_symbol: format!("{}{}", spec.base, spec.quote),
            ws_symbol: format!("{}{}", spec.base, spec.quote).to_lowercase(),
            aliases: vec![format!("{}/{}", spec.base, spec.quote)],
            symbol: symbol.clone(),
            status: PairStatus::Trading,
            price_tick: spec.tick,
            qty_step: spec.step,
            min_qty: spec.min_qty,
            min_notional: Some(spec.min_notional),
        };
        let mut rng = Rng::new(seed ^ fnv(symbol.as_str()));
        let center = spec.start_ticks;
        let minute = now.as_millis().div_euclid(60_000);
        let history = Self::gen_history(&spec, &mut rng, center, minute, history_minutes);
        let mut m = SimMarket {
            tick_price,
            current: Candle {
                minute,
                open: center,
                high: center,
                low: center,
                close: center,
                volume: 0,
            },
            spec,
            pair,
            rng,
            center,
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
            history,
            steps: 0,
            trade_seq: 0,
        };
        m.build_ladder();
        Ok(m)
    }

    /// History generated backwards from the current mid so that it ends where the live
    /// market starts.
    fn gen_history(
        spec: &SimSpec,
        rng: &mut Rng,
        end: i64,
        now_minute: i64,
        n: usize,
    ) -> Vec<Candle> {
        let vol = (spec.move_ticks * 6).max(2);
        let mut out = Vec::with_capacity(n);
        let mut close = end;
        for i in 0..n {
            let minute = now_minute - 1 - i as i64;
            // Sum of uniforms: a cheap bell-shaped move.
            let mv: i64 = (0..4).map(|_| rng.range(-vol, vol)).sum::<i64>() / 2;
            let open = (close - mv).max(spec.start_ticks / 4).max(1);
            let wick = rng.range(0, vol);
            let high = open.max(close) + wick / 2;
            let low = (open.min(close) - (vol - wick) / 2).max(1);
            // About what the takers trade in a minute at that time of day.
            let volume =
                spec.size_lots * rng.range(20, 100) * takers::activity(minute) as i64 / 100;
            out.push(Candle {
                minute,
                open,
                high,
                low,
                close,
                volume,
            });
            close = open;
        }
        out.reverse();
        out
    }

    fn size(&mut self) -> i64 {
        let base = self.spec.size_lots * self.rng.range(20, 200) / 100;
        let wall = if self.rng.chance(5) { 5 } else { 1 };
        (base * wall).max(1)
    }

    fn build_ladder(&mut self) {
        let (bb, ba) = self.touch();
        let mut p = bb;
        for _ in 0..(MIN_LEVELS + 10) {
            let q = self.size();
            self.bids.insert(p, q);
            p -= self.rng.range(1, self.spec.gap_ticks);
            if p <= 0 {
                break;
            }
        }
        let mut p = ba;
        for _ in 0..(MIN_LEVELS + 10) {
            let q = self.size();
            self.asks.insert(p, q);
            p += self.rng.range(1, self.spec.gap_ticks);
        }
    }

    /// Where the best bid and ask should be for the current centre: 1–2 ticks either side.
    fn touch(&mut self) -> (i64, i64) {
        let b = (self.center - self.rng.range(1, 2)).max(1);
        let a = self.center + self.rng.range(1, 2);
        (b, a)
    }

    /// The pair this market trades.
    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    /// Steps taken so far (the sequence number of the last event).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    fn price(&self, ticks: i64) -> Price {
        // Ticks are kept ≥ 1 and the tick is positive, so this never falls back.
        Price::try_from(Decimal::from(ticks) * self.spec.tick).unwrap_or(self.tick_price)
    }

    fn qty(&self, lots: i64) -> Qty {
        Qty::try_from(Decimal::from(lots.max(0)) * self.spec.step).unwrap_or(Qty::ZERO)
    }

    /// The whole book as a snapshot event.
    pub fn snapshot(&self, now: Timestamp) -> BookEvent {
        let bids = self
            .bids
            .iter()
            .rev()
            .map(|(p, q)| Level::new(self.price(*p), self.qty(*q)))
            .collect();
        let asks = self
            .asks
            .iter()
            .map(|(p, q)| Level::new(self.price(*p), self.qty(*q)))
            .collect();
        let mut ev = BookEvent::snapshot(bids, asks);
        ev.seq = Some(self.steps);
        ev.exchange_ts = Some(now);
        ev
    }

    /// Advance one step: move the mid, churn some levels, let takers trade at the touch,
    /// keep the ladder's depth, update the current candle. Returns the changes as a delta
    /// (absolute quantities, 0 deletes) and the trades printed.
    pub fn step(&mut self, now: Timestamp) -> (BookEvent, Vec<Trade>) {
        self.steps += 1;
        self.roll_candle(now);
        let mut changes: BTreeMap<(bool, i64), i64> = BTreeMap::new();

        // 1. Random walk of the centre.
        let mut moved_up = None;
        if self.rng.chance(30) {
            let mv = self.rng.range(1, self.spec.move_ticks);
            let up = self.rng.chance(50);
            moved_up = Some(up);
            let floor = (self.spec.start_ticks / 4).max(10);
            self.center = if up {
                self.center + mv
            } else {
                (self.center - mv).max(floor)
            };
        }
        // 2. Takers: trades at the touch that consume the size they take (the touch is then
        //    replenished like a venue's, below).
        let prints = takers::take(
            &mut self.rng,
            self.current.minute,
            moved_up,
            self.spec.size_lots,
            &mut self.bids,
            &mut self.asks,
            &mut changes,
        );
        // 3. Keep the touch 1-2 ticks from the centre: levels the move crossed are taken.
        let (bb, ba) = self.touch();
        let crossed_bids: Vec<i64> = self.bids.range(bb + 1..).map(|(p, _)| *p).collect();
        for p in crossed_bids {
            self.bids.remove(&p);
            changes.insert((true, p), 0);
        }
        let crossed_asks: Vec<i64> = self.asks.range(..ba).map(|(p, _)| *p).collect();
        for p in crossed_asks {
            self.asks.remove(&p);
            changes.insert((false, p), 0);
        }
        // When the touch moved away from the book, makers quote into the space it left (as
        // on a liquid venue), rather than leaving a hole between the new touch and the old.
        if let Some(old) = self
            .bids
            .last_key_value()
            .map(|(p, _)| *p)
            .filter(|p| *p < bb)
            .or(self.bids.is_empty().then_some(0))
        {
            let mut p = bb;
            for _ in 0..MAX_LEVELS {
                if p <= old || p <= 0 {
                    break;
                }
                let q = self.size();
                self.bids.insert(p, q);
                changes.insert((true, p), q);
                p -= self.rng.range(1, self.spec.gap_ticks);
            }
        }
        if let Some(old) = self
            .asks
            .first_key_value()
            .map(|(p, _)| *p)
            .filter(|p| *p > ba)
            .or(self.asks.is_empty().then_some(i64::MAX))
        {
            let mut p = ba;
            for _ in 0..MAX_LEVELS {
                if p >= old {
                    break;
                }
                let q = self.size();
                self.asks.insert(p, q);
                changes.insert((false, p), q);
                p += self.rng.range(1, self.spec.gap_ticks);
            }
        }
        // 4. Churn: size changes, cancels and new orders, mostly near the touch.
        let churn = self.rng.range(1, 4);
        for _ in 0..churn {
            let bid = self.rng.chance(50);
            let depth = self.rng.below(8).min(self.rng.below(70)) as usize;
            let side = if bid { &self.bids } else { &self.asks };
            let key = if bid {
                side.keys().rev().nth(depth).copied()
            } else {
                side.keys().nth(depth).copied()
            };
            let Some(p) = key else { continue };
            let r = self.rng.below(10);
            let q = if r == 0 && depth > 0 { 0 } else { self.size() };
            let side = if bid { &mut self.bids } else { &mut self.asks };
            if q == 0 {
                side.remove(&p);
            } else {
                side.insert(p, q);
            }
            changes.insert((bid, p), q);
        }
        // 5. Keep 60-80 levels a side.
        while self.bids.len() < MIN_LEVELS {
            let worst = self.bids.first_key_value().map_or(bb, |(p, _)| *p);
            let p = worst - self.rng.range(1, self.spec.gap_ticks);
            if p <= 0 {
                break;
            }
            let q = self.size();
            self.bids.insert(p, q);
            changes.insert((true, p), q);
        }
        while self.asks.len() < MIN_LEVELS {
            let worst = self.asks.last_key_value().map_or(ba, |(p, _)| *p);
            let p = worst + self.rng.range(1, self.spec.gap_ticks);
            let q = self.size();
            self.asks.insert(p, q);
            changes.insert((false, p), q);
        }
        while self.bids.len() > MAX_LEVELS {
            if let Some((p, _)) = self.bids.pop_first() {
                changes.insert((true, p), 0);
            }
        }
        while self.asks.len() > MAX_LEVELS {
            if let Some((p, _)) = self.asks.pop_last() {
                changes.insert((false, p), 0);
            }
        }
        // 6. Candle: the mid, and what traded.
        let mid = self.center;
        let c = &mut self.current;
        c.close = mid;
        c.high = c.high.max(mid);
        c.low = c.low.min(mid);
        for p in &prints {
            c.high = c.high.max(p.price);
            c.low = c.low.min(p.price);
            c.volume += p.lots;
        }
        let trades = prints
            .iter()
            .map(|p| {
                self.trade_seq += 1;
                Trade {
                    trade_id: TradeId::Num(self.trade_seq),
                    exchange_ts: now,
                    local_ts: now,
                    price: self.price(p.price),
                    qty: self.qty(p.lots),
                    taker_side: if p.buy { Side::Buy } else { Side::Sell },
                }
            })
            .collect();

        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for ((bid, p), q) in changes {
            let l = Level::new(self.price(p), self.qty(q));
            if bid { bids.push(l) } else { asks.push(l) }
        }
        let mut ev = BookEvent::delta(bids, asks);
        ev.seq = Some(self.steps);
        ev.exchange_ts = Some(now);
        (ev, trades)
    }

    fn roll_candle(&mut self, now: Timestamp) {
        let minute = now.as_millis().div_euclid(60_000);
        if minute <= self.current.minute {
            return;
        }
        let prev = self.current;
        self.history.push(prev);
        // Minutes with no step (the server was busy or stopped) repeat the close, as
        // venues report empty buckets.
        for m in (prev.minute + 1)..minute.min(prev.minute + 1 + 1_440) {
            self.history.push(Candle {
                minute: m,
                open: prev.close,
                high: prev.close,
                low: prev.close,
                close: prev.close,
                volume: 0,
            });
        }
        self.current = Candle {
            minute,
            open: prev.close,
            high: prev.close,
            low: prev.close,
            close: prev.close,
            volume: 0,
        };
        // Bound memory: keep at most 31 days of minutes.
        let cap = 31 * 1_440;
        if self.history.len() > cap {
            let excess = self.history.len() - cap;
            self.history.drain(..excess);
        }
    }

    fn kline(&self, c: &Candle, closed: bool) -> Kline {
        Kline {
            open_time: Timestamp::from_millis(c.minute * 60_000),
            close_time: Timestamp::from_millis((c.minute + 1) * 60_000),
            open: self.price(c.open),
            high: self.price(c.high),
            low: self.price(c.low),
            close: self.price(c.close),
            volume: self.qty(c.volume),
            closed,
        }
    }

    /// Candles of `interval`, oldest first, the in-progress one flagged; aggregated from the
    /// market's own 1-minute history.
    pub fn klines(&self, interval: Interval) -> Vec<Kline> {
        let mut ones: Vec<Kline> = self.history.iter().map(|c| self.kline(c, true)).collect();
        ones.push(self.kline(&self.current, false));
        if interval == Interval::M1 {
            ones
        } else {
            Kline::aggregate(&ones, interval)
        }
    }
}

/// A [`SimSpec`] that cannot make a market.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SpecError {
    /// The asset codes do not form a symbol.
    #[error(transparent)]
    Symbol(#[from] model::SymbolError),
    /// The tick is not a positive price.
    #[error(transparent)]
    Tick(#[from] model::NumError),
    /// Step, start price or size is not positive.
    #[error("sim market {0}: step, start price and level size must be positive")]
    Parameters(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::OrderBook;

    fn market(seed: u64) -> SimMarket {
        SimMarket::new(
            SimSpec::defaults().remove(0),
            seed,
            Timestamp::from_millis(1_795_256_220_000),
            1_440,
        )
        .unwrap()
    }

    #[test]
    fn books_stay_valid_realistic_and_on_the_grid() {
        let mut m = market(7);
        let t0 = Timestamp::from_millis(1_795_256_220_000);
        let mut book = OrderBook::new();
        book.apply(&m.snapshot(t0)).unwrap();
        for i in 0..5_000 {
            let (ev, _) = m.step(t0.plus_millis(i * 50));
            book.apply(&ev).unwrap();
            assert!(!book.is_crossed(), "crossed at step {i}");
            let (nb, na) = book.len();
            assert!(nb >= 50 && na >= 50, "depth {nb}/{na} at step {i}");
            let spread = book.spread().unwrap();
            assert!(
                spread > Decimal::ZERO && spread <= Decimal::new(4, 2),
                "spread {spread}"
            );
        }
        // The incremental book equals a fresh snapshot of the generator.
        let mut fresh = OrderBook::new();
        fresh.apply(&m.snapshot(t0)).unwrap();
        assert_eq!(book.top(100), fresh.top(100));
        // On the grid, with sizes that vary.
        let top = book.top(60);
        let tick = Decimal::new(1, 2);
        let step = Decimal::new(1, 5);
        for l in top.bids().iter().chain(top.asks()) {
            assert!((l.price.get() % tick).is_zero());
            assert!((l.qty.get() % step).is_zero());
        }
        let distinct: std::collections::HashSet<_> = top.bids().iter().map(|l| l.qty).collect();
        assert!(distinct.len() > 20);
    }

    #[test]
    fn deterministic_given_seed() {
        let t0 = Timestamp::from_millis(1_795_256_220_000);
        let (mut a, mut b, mut c) = (market(42), market(42), market(43));
        let mut differs = false;
        for i in 0..500 {
            let t = t0.plus_millis(i * 50);
            let (ea, eb, ec) = (a.step(t).0, b.step(t).0, c.step(t).0);
            assert_eq!(ea, eb);
            differs |= ea != ec;
        }
        assert!(differs, "another seed gives another market");
        assert_eq!(a.klines(Interval::M1), b.klines(Interval::M1));
    }

    #[test]
    fn history_is_a_day_of_minutes_ending_at_the_live_price() {
        let m = market(1);
        let k = m.klines(Interval::M1);
        assert_eq!(k.len(), 1_441);
        assert!(k[..1_440].iter().all(|c| c.closed));
        assert!(!k[1_440].closed);
        for w in k.windows(2) {
            assert_eq!(w[0].close_time, w[1].open_time);
            assert!(w[0].low <= w[0].open && w[0].open <= w[0].high);
            assert!(w[0].low <= w[0].close && w[0].close <= w[0].high);
        }
        assert_eq!(k[1_439].close, k[1_440].open);
        for iv in Interval::ALL {
            let agg = m.klines(iv);
            assert!(!agg.is_empty(), "{iv}");
            assert!(!agg.last().unwrap().closed);
        }
        assert_eq!(m.klines(Interval::H1).len(), 25);
    }

    /// The sim feels like a liquid venue (issue 8/8): a 5-minute BTC candle spans about
    /// 10–40 bps (it spanned 1–3), ETH's likewise, and the ladder near the touch has no hole
    /// wider than half a basis point — what a taker sweeping levels or a cancel leaves until
    /// makers quote again (BTC had 15 USD holes, 2 bps, between clusters after moves).
    #[test]
    fn five_minute_ranges_and_the_ladder_look_like_a_liquid_venue() {
        let t0 = Timestamp::from_millis(1_795_256_220_000);
        for (i, spec) in SimSpec::defaults().into_iter().take(2).enumerate() {
            let mut m = SimMarket::new(spec, 42, t0, 0).unwrap();
            let mut widest_hole_bps = Decimal::ZERO;
            // One hour at the default 50 ms a step.
            for k in 0..72_000 {
                let (_, _) = m.step(t0.plus_millis(k * 50));
                if k % 20 == 0 {
                    let near: Vec<i64> = m.bids.keys().rev().take(20).copied().collect();
                    for w in near.windows(2) {
                        let bps = Decimal::from(w[0] - w[1]) / Decimal::from(w[0])
                            * Decimal::from(10_000);
                        widest_hole_bps = widest_hole_bps.max(bps);
                    }
                }
            }
            let ranges: Vec<f64> = Kline::aggregate(&m.klines(Interval::M1), Interval::M5)
                .iter()
                .filter(|k| k.closed)
                .map(|k| {
                    let (h, l) = (k.high.get(), k.low.get());
                    ((h - l) / l * Decimal::from(10_000))
                        .to_string()
                        .parse()
                        .unwrap_or(0.0)
                })
                .collect();
            let mut sorted = ranges.clone();
            sorted.sort_by(f64::total_cmp);
            let median = sorted[sorted.len() / 2];
            assert!(
                sorted.len() >= 11,
                "{i}: {} five-minute candles",
                sorted.len()
            );
            assert!(
                (8.0..=60.0).contains(&median),
                "market {i}: median 5-minute range {median:.1} bps ({sorted:?})"
            );
            assert!(
                widest_hole_bps <= Decimal::new(5, 1),
                "market {i}: a hole of {widest_hole_bps} bps in the top 20 bids"
            );
        }
    }
}
