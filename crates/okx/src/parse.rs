//! OKX frames and REST bodies → normalized `model` values, and the book checksum.

use market::parse_level;
use model::{
    BookEvent, BookSide, ExchangeId, Interval, Kline, Level, OrderBook, Pair, PairStatus, Price,
    Qty, Side, Symbol, Timestamp, Trade, TradeId,
};
use rust_decimal::Decimal;

use crate::msg::{OkxBookData, OkxEvent, OkxInstrument, OkxPush, OkxRest, OkxTrade};

pub use market::ParseError;

fn err(reason: impl Into<String>, raw: &str) -> ParseError {
    ParseError::new(reason, raw)
}

/// One instrument's part of a `books` push, normalized.
#[derive(Debug, Clone, PartialEq)]
pub struct OkxBook {
    /// `BTC-USDT`.
    pub inst_id: String,
    /// `prevSeqId` (-1 on a snapshot), when the venue sends it.
    pub prev_seq: Option<i64>,
    /// `seqId`, when the venue sends it.
    pub seq: Option<i64>,
    /// Snapshot or delta, with the checksum when non-zero (its bits as `u32`) and the
    /// venue's time.
    pub event: BookEvent,
}

/// What a public frame means.
#[derive(Debug, Clone, PartialEq)]
pub enum OkxInbound {
    /// A `books` push (one element per instrument).
    Book(Vec<OkxBook>),
    /// Public trades, oldest first: `(instId, trade)` (local times set by the caller).
    Trades(Vec<(String, Trade)>),
    /// A subscription answered.
    Subscribed {
        /// Channel.
        channel: String,
        /// Instrument.
        inst_id: Option<String>,
    },
    /// An unsubscription answered.
    Unsubscribed {
        /// Channel.
        channel: String,
        /// Instrument.
        inst_id: Option<String>,
    },
    /// A refused request (`event: error`).
    Error {
        /// Our request id, when echoed.
        id: Option<String>,
        /// OKX's code (`60012`, `60018`…).
        code: String,
        /// OKX's text (names the offending argument when it can).
        msg: String,
    },
    /// The venue's notice (`64008`: the connection will close for an upgrade).
    Notice {
        /// Code.
        code: String,
        /// Text.
        msg: String,
    },
    /// The text `pong`.
    Pong,
    /// A message we do not use.
    Other(String),
}

fn levels(raw: &[Vec<&str>], frame: &str) -> Result<Vec<Level>, ParseError> {
    raw.iter()
        .map(|l| match l.as_slice() {
            [p, q, ..] => parse_level(p, q, frame),
            _ => Err(err("a level needs a price and a size", frame)),
        })
        .collect()
}

fn millis(s: Option<&str>) -> Option<Timestamp> {
    s.and_then(|t| t.parse::<i64>().ok())
        .and_then(Timestamp::venue_millis)
}

/// The `u32` bits of OKX's signed checksum; `None` for 0, "not provided".
pub fn checksum_bits(c: Option<i64>) -> Option<u32> {
    match c {
        None | Some(0) => None,
        Some(c) => Some(c as i32 as u32),
    }
}

fn book_data(d: &OkxBookData<'_>, snapshot: bool, text: &str) -> Result<BookEvent, ParseError> {
    let (bids, asks) = (levels(&d.bids, text)?, levels(&d.asks, text)?);
    let mut event = if snapshot {
        BookEvent::snapshot(bids, asks)
    } else {
        BookEvent::delta(bids, asks)
    };
    event.checksum = checksum_bits(d.checksum);
    event.seq = d.seq_id.and_then(|s| u64::try_from(s).ok());
    event.exchange_ts = millis(d.ts);
    Ok(event)
}

fn books(push: &OkxPush<'_>, text: &str) -> Result<OkxInbound, ParseError> {
    let snapshot = match push.action {
        Some("snapshot") => true,
        Some("update") => false,
        Some(other) => return Err(err(format!("unknown books action `{other}`"), text)),
        None => return Err(err("books push without an action", text)),
    };
    let inst = push
        .arg
        .inst_id
        .ok_or_else(|| err("books push without an instId", text))?;
    let data: Vec<OkxBookData<'_>> = serde_json::from_str(push.data.get())
        .map_err(|e| err(format!("malformed books data: {e}"), text))?;
    data.iter()
        .map(|d| {
            Ok(OkxBook {
                inst_id: inst.to_owned(),
                prev_seq: d.prev_seq_id,
                seq: d.seq_id,
                event: book_data(d, snapshot, text)?,
            })
        })
        .collect::<Result<_, _>>()
        .map(OkxInbound::Book)
}

fn trades(push: &OkxPush<'_>, text: &str) -> Result<OkxInbound, ParseError> {
    let list: Vec<OkxTrade<'_>> = serde_json::from_str(push.data.get())
        .map_err(|e| err(format!("malformed trades data: {e}"), text))?;
    let mut out = Vec::with_capacity(list.len());
    for t in &list {
        let level = parse_level(t.px, t.sz, text)?;
        if level.qty.is_zero() {
            return Err(err("trade of zero quantity", text));
        }
        let taker_side = match t.side {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            other => return Err(err(format!("unknown trade side `{other}`"), text)),
        };
        let at = millis(Some(t.ts)).ok_or_else(|| err("bad trade time", text))?;
        if t.trade_id.is_empty() {
            return Err(err("trade without an id", text));
        }
        out.push((
            t.inst_id.to_owned(),
            Trade {
                trade_id: TradeId::parse(t.trade_id),
                exchange_ts: at,
                local_ts: at,
                price: level.price,
                qty: level.qty,
                taker_side,
            },
        ));
    }
    Ok(OkxInbound::Trades(out))
}

/// Decode one text frame of the public endpoint.
pub fn parse_frame(text: &str) -> Result<OkxInbound, ParseError> {
    if text == "pong" {
        return Ok(OkxInbound::Pong);
    }
    if let Ok(push) = serde_json::from_str::<OkxPush<'_>>(text) {
        return match push.arg.channel {
            "books" => books(&push, text),
            "trades" => trades(&push, text),
            other => Ok(OkxInbound::Other(other.to_owned())),
        };
    }
    let e: OkxEvent<'_> =
        serde_json::from_str(text).map_err(|e| err(format!("not an OKX frame: {e}"), text))?;
    let arg = |a: &Option<crate::msg::OkxArg<'_>>| {
        (
            a.as_ref()
                .map_or_else(String::new, |a| a.channel.to_owned()),
            a.as_ref().and_then(|a| a.inst_id.map(str::to_owned)),
        )
    };
    Ok(match e.event {
        "subscribe" => {
            let (channel, inst_id) = arg(&e.arg);
            OkxInbound::Subscribed { channel, inst_id }
        }
        "unsubscribe" => {
            let (channel, inst_id) = arg(&e.arg);
            OkxInbound::Unsubscribed { channel, inst_id }
        }
        "error" => OkxInbound::Error {
            id: e.id,
            code: e.code.unwrap_or_default(),
            msg: e.msg.unwrap_or_default(),
        },
        "notice" => OkxInbound::Notice {
            code: e.code.unwrap_or_default(),
            msg: e.msg.unwrap_or_default(),
        },
        other => OkxInbound::Other(other.to_owned()),
    })
}

/// A REST book (`/api/v5/market/books`) for the splice: its levels and `seqId` if sent.
#[derive(Debug, Clone, PartialEq)]
pub struct OkxRestBook {
    /// `seqId` of the book, when the venue sends it.
    pub seq: Option<i64>,
    /// The book as a snapshot event.
    pub event: BookEvent,
}

/// A REST body's payload, or the venue's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestBodyError {
    /// Not the documented shape.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// `code` ≠ `"0"`.
    #[error("OKX error {code}: {msg}")]
    Api {
        /// `50011` rate limit, `51001` unknown instrument…
        code: String,
        /// The reason.
        msg: String,
    },
}

fn payload(text: &str) -> Result<&str, RestBodyError> {
    let r: OkxRest<'_> = serde_json::from_str(text)
        .map_err(|e| err(format!("malformed OKX response: {e}"), text))?;
    if r.code != "0" {
        return Err(RestBodyError::Api {
            code: r.code,
            msg: r.msg,
        });
    }
    r.data
        .map(|d| d.get())
        .ok_or_else(|| err("response without data", text).into())
}

/// Decode `GET /api/v5/market/books`.
pub fn parse_rest_book(text: &str) -> Result<OkxRestBook, RestBodyError> {
    let data: Vec<OkxBookData<'_>> = serde_json::from_str(payload(text)?)
        .map_err(|e| err(format!("malformed book: {e}"), text))?;
    let d = data
        .first()
        .ok_or_else(|| err("an empty book answer", text))?;
    Ok(OkxRestBook {
        seq: d.seq_id,
        event: book_data(d, true, text)?,
    })
}

use market::parse_decimal as dec;

fn status(s: Option<&str>) -> PairStatus {
    match s {
        None | Some("live") => PairStatus::Trading,
        Some("suspend") => PairStatus::Halted,
        Some("preopen") => PairStatus::PreTrading,
        Some(other) => PairStatus::Unknown(other.to_owned()),
    }
}

/// Decode `GET /api/v5/public/instruments?instType=SPOT` into pairs (instruments whose rules
/// are missing or not positive are skipped, not guessed).
pub fn parse_instruments(text: &str) -> Result<Vec<Pair>, RestBodyError> {
    let list: Vec<OkxInstrument> = serde_json::from_str(payload(text)?)
        .map_err(|e| err(format!("malformed instruments: {e}"), text))?;
    let mut out = Vec::with_capacity(list.len());
    for i in list {
        let Ok(symbol) = Symbol::new(&i.base_ccy, &i.quote_ccy) else {
            continue;
        };
        let (Some(price_tick), Some(qty_step)) = (dec(Some(&i.tick_sz)), dec(Some(&i.lot_sz)))
        else {
            continue;
        };
        let min_qty = dec(i.min_sz.as_deref()).unwrap_or(qty_step);
        if price_tick <= Decimal::ZERO || qty_step <= Decimal::ZERO || min_qty.is_sign_negative() {
            continue;
        }
        out.push(Pair {
            exchange: ExchangeId::Okx,
            aliases: Vec::new(),
            symbol,
            ws_symbol: i.inst_id.clone(),
            exchange_symbol: i.inst_id,
            status: status(i.state.as_deref()),
            price_tick,
            qty_step,
            min_qty,
            min_notional: None,
        });
    }
    Ok(out)
}

/// The `bar` parameter of a candle size (UTC-aligned from 6 h up).
pub fn bar(i: Interval) -> &'static str {
    match i {
        Interval::M1 => "1m",
        Interval::M3 => "3m",
        Interval::M5 => "5m",
        Interval::M15 => "15m",
        Interval::M30 => "30m",
        Interval::H1 => "1H",
        Interval::H2 => "2H",
        Interval::H4 => "4H",
        Interval::H6 => "6Hutc",
        Interval::H12 => "12Hutc",
        Interval::D1 => "1Dutc",
        Interval::D3 => "3Dutc",
        Interval::W1 => "1Wutc",
        Interval::Mo1 => "1Mutc",
    }
}

/// Decode `GET /api/v5/market/candles` (newest first) into candles of `interval`, oldest
/// first; `confirm` says whether one is closed.
pub fn parse_candles(text: &str, interval: Interval) -> Result<Vec<Kline>, RestBodyError> {
    let rows: Vec<Vec<&str>> = serde_json::from_str(payload(text)?)
        .map_err(|e| err(format!("malformed candles: {e}"), text))?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows.iter().rev() {
        let field = |i: usize| {
            row.get(i)
                .copied()
                .ok_or_else(|| err("short candle row", text))
        };
        let open_ms: i64 = field(0)?
            .parse()
            .map_err(|_| err("bad candle time", text))?;
        let price = |i: usize| -> Result<Price, ParseError> {
            field(i)?
                .parse::<Price>()
                .map_err(|e| err(format!("bad candle price: {e}"), text))
        };
        let volume: Qty = field(5)?
            .parse()
            .map_err(|e| err(format!("bad candle volume: {e}"), text))?;
        let open_time = Timestamp::venue_millis(open_ms)
            .ok_or_else(|| err("candle time out of range", text))?;
        out.push(Kline {
            open_time,
            close_time: interval.next_start(open_time),
            open: price(1)?,
            high: price(2)?,
            low: price(3)?,
            close: price(4)?,
            volume,
            closed: field(8)? == "1",
        });
    }
    Ok(out)
}

/// Append `m` at decimal `scale` as OKX prints numbers: no trailing zeros, no trailing point
/// (digits rendered on the stack: no allocation).
fn text_of(m: u64, scale: u32, out: &mut Vec<u8>) {
    let mut buf = [b'0'; 40];
    let mut i = buf.len();
    let mut n = m;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let scale = (scale as usize).min(30);
    // At least one digit before the point: the buffer is pre-filled with zeros.
    let start = i.min(buf.len() - scale - 1);
    let digits = &buf[start..];
    let (int, frac) = digits.split_at(digits.len() - scale);
    let frac_len = frac.iter().rposition(|d| *d != b'0').map_or(0, |i| i + 1);
    out.extend_from_slice(int);
    if frac_len > 0 {
        out.push(b'.');
        out.extend_from_slice(&frac[..frac_len]);
    }
}

/// The checksum input of `book`: the top 25 bids and asks interleaved (`bid:ask:…`, then the
/// longer side alone), each level `price:size` as OKX prints it.
pub fn checksum_input(book: &OrderBook) -> Vec<u8> {
    let (ps, qs) = book.scales();
    let mut bids = book.fixed_levels(BookSide::Bid).take(25);
    let mut asks = book.fixed_levels(BookSide::Ask).take(25);
    let mut out = Vec::with_capacity(1_536);
    let level = |(p, q): (u64, u64), out: &mut Vec<u8>| {
        if !out.is_empty() {
            out.push(b':');
        }
        text_of(p, ps, out);
        out.push(b':');
        text_of(q, qs, out);
    };
    loop {
        let (b, a) = (bids.next(), asks.next());
        if b.is_none() && a.is_none() {
            break;
        }
        if let Some(b) = b {
            level(b, &mut out);
        }
        if let Some(a) = a {
            level(a, &mut out);
        }
    }
    out
}

/// OKX's book checksum: CRC-32 of [`checksum_input`]; its bits read as `i32` are what the
/// venue sends.
pub fn checksum(book: &OrderBook) -> u32 {
    crc32fast::hash(&checksum_input(book))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_printed_as_okx_prints_it() {
        let t = |m, s| {
            let mut v = Vec::new();
            text_of(m, s, &mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(t(670_001, 1), "67000.1");
        assert_eq!(t(670_000, 1), "67000");
        assert_eq!(t(5, 3), "0.005");
        assert_eq!(t(1_200, 3), "1.2");
        assert_eq!(t(0, 2), "0");
        assert_eq!(t(42, 0), "42");
    }

    #[test]
    fn the_reference_checksum_vectors() {
        // Reference §5.2: computed vectors, as signed 32-bit values.
        let mut book = OrderBook::with_scales(1, 1);
        let ev = BookEvent::snapshot(
            vec![
                Level::parse("67000.1", "0.5").unwrap(),
                Level::parse("67000", "1.2").unwrap(),
            ],
            vec![
                Level::parse("67000.2", "0.3").unwrap(),
                Level::parse("67000.5", "2").unwrap(),
            ],
        );
        book.apply(&ev).unwrap();
        assert_eq!(
            String::from_utf8(checksum_input(&book)).unwrap(),
            "67000.1:0.5:67000.2:0.3:67000:1.2:67000.5:2"
        );
        assert_eq!(checksum(&book) as i32, -886_910_335);
        let mut b2 = OrderBook::with_scales(1, 0);
        b2.apply(&BookEvent::snapshot(
            vec![
                Level::parse("3366.1", "7").unwrap(),
                Level::parse("3366.8", "9").unwrap(),
            ],
            vec![
                Level::parse("3368", "8").unwrap(),
                Level::parse("3372", "8").unwrap(),
            ],
        ))
        .unwrap();
        // The vector's levels are given in wire order; the book orders them, so rebuild
        // the string from the vector itself to check the CRC convention.
        assert_eq!(
            crc32fast::hash(b"3366.1:7:3366.8:9:3368:8:3372:8") as i32,
            831_078_360
        );
        assert_eq!(checksum_bits(Some(-886_910_335)), Some(checksum(&book)));
        assert_eq!(checksum_bits(Some(0)), None);
    }

    #[test]
    fn frames() {
        assert_eq!(parse_frame("pong"), Ok(OkxInbound::Pong));
        let snap = r#"{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot","data":[{"asks":[["67000.2","0.3","0","2"],["67000.5","2","0","4"]],"bids":[["67000.1","0.5","0","3"],["67000","1.2","0","5"]],"ts":"1782907200101","checksum":0,"prevSeqId":-1,"seqId":1000}]}"#;
        let Ok(OkxInbound::Book(b)) = parse_frame(snap) else {
            panic!()
        };
        assert_eq!((b[0].prev_seq, b[0].seq), (Some(-1), Some(1000)));
        assert_eq!(b[0].event.checksum, None, "0 is not provided");
        assert_eq!(
            b[0].event.exchange_ts,
            Some(Timestamp::from_millis(1782907200101))
        );
        assert!(matches!(
            parse_frame(r#"{"id":"1","event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"},"connId":"a4d3ae55"}"#),
            Ok(OkxInbound::Subscribed { channel, inst_id: Some(i) }) if channel == "books" && i == "BTC-USDT"
        ));
        assert!(matches!(
            parse_frame(r#"{"id":"1","event":"error","code":"60012","msg":"Invalid request","connId":"a4d3ae55"}"#),
            Ok(OkxInbound::Error { code, .. }) if code == "60012"
        ));
        assert!(matches!(
            parse_frame(r#"{"event":"notice","code":"64008","msg":"The connection will soon be closed for a service upgrade. Please reconnect.","connId":"x"}"#),
            Ok(OkxInbound::Notice { code, .. }) if code == "64008"
        ));
        let trades = r#"{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":"BTC-USDT","tradeId":"130639474","px":"42219.9","sz":"0.12060306","side":"buy","ts":"1630048897897","count":"3"}]}"#;
        let Ok(OkxInbound::Trades(t)) = parse_frame(trades) else {
            panic!()
        };
        assert_eq!(t[0].1.trade_id, TradeId::Num(130_639_474));
        assert_eq!(t[0].1.taker_side, Side::Buy);
        for bad in [
            "",
            "ping",
            r#"{"arg":{"channel":"books","instId":"X"},"action":"patch","data":[]}"#,
            r#"{"arg":{"channel":"books","instId":"X"},"action":"update","data":[{"asks":[["1"]],"bids":[]}]}"#,
            r#"{"arg":{"channel":"trades","instId":"X"},"data":[{"instId":"X","tradeId":"1","px":"1","sz":"1","side":"hold","ts":"1"}]}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn instruments_and_candles() {
        let body = r#"{"code":"0","msg":"","data":[{"instType":"SPOT","instId":"BTC-USDT","baseCcy":"BTC","quoteCcy":"USDT","tickSz":"0.1","lotSz":"0.00000001","minSz":"0.00001","maxLmtSz":"9999999999","maxMktSz":"1000000","state":"live","listTime":"1606468572000","ruleType":"normal","category":"1","ctVal":"","ctMult":"","ctValCcy":"","settleCcy":"","uly":"","instFamily":"","alias":"","lever":"","expTime":""}]}"#;
        let p = &parse_instruments(body).unwrap()[0];
        assert_eq!(
            (p.symbol.as_str(), p.exchange_symbol.as_str()),
            ("BTC-USDT", "BTC-USDT")
        );
        assert_eq!(p.qty_step, Decimal::new(1, 8));
        assert_eq!(p.min_qty, Decimal::new(1, 5));
        let candles = r#"{"code":"0","msg":"","data":[["1782907260000","67020.5","67031","67001.2","67005","3.21","215123.44","215123.44","0"],["1782907200000","67000","67050","66990","67020.5","12.34567","827345.12","827345.12","1"]]}"#;
        let k = parse_candles(candles, Interval::M1).unwrap();
        assert!(k[0].open_time < k[1].open_time && k[0].closed && !k[1].closed);
        let limited = r#"{"code":"50011","msg":"Too Many Requests","data":[]}"#;
        assert!(
            matches!(parse_candles(limited, Interval::M1), Err(RestBodyError::Api { code, .. }) if code == "50011")
        );
    }
}
