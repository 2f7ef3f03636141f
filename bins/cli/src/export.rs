//! Where `papertwap tape export` rows go: CSV (Tardis' text columns) or Parquet (the same
//! columns, typed: times as UTC timestamps in µs, prices and amounts as exact decimals).

use std::io::Write;

use rust_decimal::Decimal;

/// One row of a book export (Tardis `incremental_book_L2`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BookRow {
    /// The venue's time, µs since the epoch.
    pub timestamp: i64,
    /// Our receive time, µs since the epoch.
    pub local_timestamp: i64,
    /// Part of a full book (the first rows, and venue snapshots).
    pub is_snapshot: bool,
    /// `bid` or `ask`.
    pub side: &'static str,
    /// The level's price.
    pub price: Decimal,
    /// The level's new quantity (0 removes it).
    pub amount: Decimal,
}

/// One row of a trades export (Tardis `trades`).
#[derive(Debug, Clone)]
pub(crate) struct TradeRow {
    /// The venue's time, µs.
    pub timestamp: i64,
    /// Our receive time, µs.
    pub local_timestamp: i64,
    /// The venue's trade id.
    pub id: String,
    /// The taker's side, `buy` or `sell`.
    pub side: &'static str,
    /// Price.
    pub price: Decimal,
    /// Quantity.
    pub amount: Decimal,
}

/// Where rows go.
pub(crate) trait Sink {
    /// A book row.
    fn book(&mut self, r: BookRow) -> std::io::Result<()>;
    /// A trade row.
    fn trade(&mut self, r: TradeRow) -> std::io::Result<()>;
    /// Write out what is held; the file is complete after this.
    fn finish(&mut self) -> std::io::Result<()>;
}

/// CSV with a header, decimals plain without trailing zeros.
pub(crate) struct Csv<'a> {
    w: &'a mut dyn Write,
    exchange: String,
    symbol: String,
    header: Option<&'static str>,
}

impl<'a> Csv<'a> {
    /// A CSV of `book` rows (else trades) for `exchange`/`symbol` into `w`.
    pub(crate) fn new(w: &'a mut dyn Write, exchange: &str, symbol: &str, book: bool) -> Self {
        let header = if book {
            "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
        } else {
            "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
        };
        Csv {
            w,
            exchange: exchange.to_owned(),
            symbol: symbol.to_owned(),
            header: Some(header),
        }
    }

    fn header(&mut self) -> std::io::Result<()> {
        if let Some(h) = self.header.take() {
            writeln!(self.w, "{h}")?;
        }
        Ok(())
    }
}

impl Csv<'_> {
    /// A row: exchange and symbol, then the row's own columns.
    fn row(
        &mut self,
        (timestamp, local): (i64, i64),
        middle: &dyn std::fmt::Display,
        side: &str,
        (price, amount): (Decimal, Decimal),
    ) -> std::io::Result<()> {
        self.header()?;
        writeln!(
            self.w,
            "{},{},{timestamp},{local},{middle},{side},{},{}",
            self.exchange,
            self.symbol,
            price.normalize(),
            amount.normalize()
        )
    }
}

impl Sink for Csv<'_> {
    fn book(&mut self, r: BookRow) -> std::io::Result<()> {
        self.row(
            (r.timestamp, r.local_timestamp),
            &r.is_snapshot,
            r.side,
            (r.price, r.amount),
        )
    }

    fn trade(&mut self, r: TradeRow) -> std::io::Result<()> {
        self.row(
            (r.timestamp, r.local_timestamp),
            &r.id,
            r.side,
            (r.price, r.amount),
        )
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.header()?;
        self.w.flush()
    }
}

/// The decimal places a typed export needs: the most any price and any amount shows.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Scales {
    /// Decimal places of the finest price.
    pub price: u32,
    /// Decimal places of the finest amount.
    pub amount: u32,
}

impl Scales {
    fn see(&mut self, price: Decimal, amount: Decimal) {
        self.price = self.price.max(price.normalize().scale());
        self.amount = self.amount.max(amount.normalize().scale());
    }
}

impl Sink for Scales {
    fn book(&mut self, r: BookRow) -> std::io::Result<()> {
        self.see(r.price, r.amount);
        Ok(())
    }

    fn trade(&mut self, r: TradeRow) -> std::io::Result<()> {
        self.see(r.price, r.amount);
        Ok(())
    }

    fn finish(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
