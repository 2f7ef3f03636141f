//! Harnesses for the second-stage venues' decoders (OKX, Bybit, Coinbase, Bitstamp): their
//! frames, their REST bodies, and Bitstamp's splice rule fed with arbitrary diff sequences.

use model::{BookEvent, BookEventKind, Interval, OrderBook, Pair, Timestamp, Trade};
use rust_decimal::Decimal;

use crate::{NOW_SECS, assert_book_sane};

/// Scales for a fuzzed book from one byte: price and quantity decimals 0–8.
fn scales(b: u8) -> (u32, u32) {
    (u32::from(b % 9), u32::from((b / 9) % 9))
}

/// Apply `events` to a book at the scales `b` picks; every accepted event leaves it sane.
/// Returns the book, or `None` once an event is refused (more decimals than the scale).
fn apply_all<'a>(
    b: u8,
    cap: Option<usize>,
    events: impl IntoIterator<Item = &'a BookEvent>,
) -> Option<OrderBook> {
    let (p, q) = scales(b);
    let mut book = OrderBook::with_scales(p, q).with_depth_cap(cap);
    for e in events {
        book.apply(e).ok()?;
        assert_book_sane(&book);
    }
    Some(book)
}

fn assert_trades(trades: &[Trade]) {
    for t in trades {
        assert!(t.price.get() > Decimal::ZERO, "a trade's price is positive");
        assert!(
            t.qty.get() > Decimal::ZERO,
            "a trade's quantity is positive"
        );
    }
}

fn assert_pairs(pairs: &[Pair]) {
    for p in pairs {
        assert!(p.symbol.as_str().contains('-'));
        assert!(p.price_tick > Decimal::ZERO && p.qty_step > Decimal::ZERO);
        assert!(!p.min_qty.is_sign_negative());
        assert!(p.min_notional.is_none_or(|m| !m.is_sign_negative()));
    }
}

/// The text OKX prints for the top 25 levels interleaved, from the book's `Decimal`s.
fn okx_text(book: &OrderBook) -> Vec<u8> {
    let render =
        |l: &model::Level| format!("{}:{}", l.price.get().normalize(), l.qty.get().normalize());
    let top = book.top(25);
    let mut parts = Vec::new();
    for i in 0..25 {
        if let Some(b) = top.bids().get(i) {
            parts.push(render(b));
        }
        if let Some(a) = top.asks().get(i) {
            parts.push(render(a));
        }
    }
    parts.join(":").into_bytes()
}

/// An OKX public frame. Accepted books apply to a 400-level book without breaking it, and
/// the checksum input rendered from the book's integers equals the text rendered from its
/// decimals; trades have a positive price and quantity.
pub fn okx_frame(data: &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match okx::parse::parse_frame(text) {
        Ok(okx::parse::OkxInbound::Book(books)) => {
            if let Some(book) = apply_all(b, Some(400), books.iter().map(|k| &k.event)) {
                assert_eq!(
                    okx::parse::checksum_input(&book),
                    okx_text(&book),
                    "integer and text checksum inputs agree"
                );
            }
        }
        Ok(okx::parse::OkxInbound::Trades(t)) => {
            assert_trades(&t.into_iter().map(|(_, t)| t).collect::<Vec<_>>())
        }
        _ => {}
    }
}

/// A Bybit public frame. Accepted books apply without breaking a 200-level book; trades have
/// a positive price and quantity.
pub fn bybit_frame(data: &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match bybit::parse::parse_frame(text) {
        Ok(bybit::parse::BybitInbound::Book(k)) => {
            assert_eq!(k.event.seq, Some(k.update_id));
            let _ = apply_all(b, Some(200), [&k.event]);
        }
        Ok(bybit::parse::BybitInbound::Trades(t)) => {
            assert_trades(&t.into_iter().map(|(_, t)| t).collect::<Vec<_>>())
        }
        _ => {}
    }
}

/// A Coinbase market-data frame. Book events carry the frame's `sequence_num` and apply
/// without breaking a whole book; trades are positive and oldest first.
pub fn coinbase_frame(data: &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(f) = coinbase::parse::parse_frame(text) else {
        return;
    };
    match f.inbound {
        coinbase::parse::CbInbound::Books(books) => {
            assert!(
                books
                    .iter()
                    .all(|k| k.event.seq == f.seq && f.seq.is_some())
            );
            let _ = apply_all(b, None, books.iter().map(|k| &k.event));
        }
        coinbase::parse::CbInbound::Trades { trades, .. } => {
            let t: Vec<Trade> = trades.into_iter().map(|(_, t)| t).collect();
            assert_trades(&t);
            assert!(t.windows(2).all(|w| w[0].exchange_ts <= w[1].exchange_ts));
        }
        _ => {}
    }
}

/// A Bitstamp v2 frame. Diffs are deltas stamped with their `microtimestamp` and apply
/// without breaking a whole book; trades are positive.
pub fn bitstamp_frame(data: &[u8]) {
    let Some((&b, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match bitstamp::parse::parse_frame(text) {
        Ok(bitstamp::parse::BtsInbound::Diff(d)) => {
            assert_eq!(d.event.kind, BookEventKind::Delta);
            assert!(d.micros > 0);
            let _ = apply_all(b, None, [&d.event]);
        }
        Ok(bitstamp::parse::BtsInbound::Trade(_, t)) => assert_trades(&[t]),
        _ => {}
    }
}

/// A REST body of OKX, Bybit, Coinbase or Bitstamp (the first byte picks the venue and the
/// route). Accepted pairs have a positive tick and step and no negative minimum; candles run
/// end after they start; books apply without breaking.
pub fn venue_rest(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let now = Timestamp::from_secs(NOW_SECS);
    let interval = Interval::ALL[usize::from(which / 16) % Interval::ALL.len()];
    let candles_ok = |k: &[model::Kline]| {
        assert!(k.iter().all(|c| c.open_time < c.close_time));
    };
    match which % 10 {
        0 => {
            if let Ok(p) = okx::parse::parse_instruments(text) {
                assert_pairs(&p)
            }
        }
        1 => {
            if let Ok(k) = okx::parse::parse_candles(text, interval) {
                candles_ok(&k)
            }
        }
        2 => {
            if let Ok(b) = okx::parse::parse_rest_book(text) {
                let _ = apply_all(which, Some(400), [&b.event]);
            }
        }
        3 => {
            if let Ok(p) = bybit::parse::parse_instruments(text) {
                assert_pairs(&p)
            }
        }
        4 => {
            if let Ok(k) = bybit::parse::parse_klines(text, interval, now) {
                candles_ok(&k)
            }
        }
        5 => {
            if let Ok(p) = coinbase::parse::parse_products(text) {
                assert_pairs(&p)
            }
        }
        6 => {
            if let Ok(k) = coinbase::parse::parse_candles(text, interval, now) {
                candles_ok(&k)
            }
        }
        7 => {
            if let Ok(p) = bitstamp::parse::parse_pairs(text) {
                assert_pairs(&p)
            }
        }
        8 => {
            if let Ok(k) = bitstamp::parse::parse_ohlc(text, interval, now) {
                candles_ok(&k)
            }
        }
        _ => {
            if let Ok((at, b)) = bitstamp::parse::parse_order_book(text) {
                assert!(at > 0);
                let _ = apply_all(which, None, [&b]);
            }
        }
    }
}

/// Bitstamp's splice rule fed with arbitrary diffs and placements (each op 9 bytes: a tag,
/// then a signed time step). Diffs apply only when live and after the placed time, are
/// covered only at or before it, a time going back always breaks the chain, and a placement
/// returns the buffered diffs after its time, in order.
pub fn bitstamp_splice(data: &[u8]) {
    use bitstamp::sync::{DiffChain, Step};
    let mut chain = DiffChain::new(1 + usize::from(data.first().copied().unwrap_or(0) % 16));
    let mut t: i64 = 1_000_000;
    let mut placed: Option<i64> = None;
    let mut last: Option<i64> = None;
    let ev = |m: i64| {
        let mut e = BookEvent::delta(Vec::new(), Vec::new());
        e.seq = u64::try_from(m).ok();
        e
    };
    for op in data.get(1..).unwrap_or_default().chunks_exact(9) {
        let step = i64::from(i16::from_le_bytes([op[1], op[2]]));
        t = t.saturating_add(step).max(1);
        if op[0] % 4 == 0 {
            let floor = chain.floor();
            match chain.place(t) {
                Some(kept) => {
                    assert!(floor.is_some_and(|f| f <= t));
                    let times: Vec<u64> = kept.iter().filter_map(|e| e.seq).collect();
                    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in order");
                    assert!(times.iter().all(|m| *m as i64 > t), "only what follows");
                    assert!(chain.is_live());
                    placed = Some(t);
                }
                None => assert!(floor.is_none_or(|f| f > t)),
            }
        } else {
            let was_live = chain.is_live();
            match chain.diff(t, ev(t)) {
                Step::Apply(e) => {
                    assert!(was_live && placed.is_none_or(|p| t > p));
                    assert_eq!(e.seq, u64::try_from(t).ok());
                }
                Step::Covered => assert!(was_live && placed.is_some_and(|p| t <= p)),
                Step::Buffered => assert!(!was_live),
                Step::Broken { last: l, got } => {
                    assert_eq!(Some(l), last);
                    assert!(got < l && !chain.is_live());
                    placed = None;
                    continue;
                }
            }
            last = Some(t);
        }
    }
}
