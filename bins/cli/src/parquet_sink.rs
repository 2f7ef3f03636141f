//! `tape export --format parquet`: the rows of an export in a Parquet file — the CSV's
//! columns, typed: `timestamp` and `local_timestamp` as UTC timestamps in microseconds,
//! `price` and `amount` as exact decimals (`DECIMAL(38, s)`, `s` the most decimal places any
//! row shows, found by a first pass), text as UTF-8; snappy pages, row groups of 131 072 rows.

use std::fs::File;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, FixedLenByteArray, FixedLenByteArrayType, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use rust_decimal::Decimal;

use crate::export::{BookRow, Scales, Sink, TradeRow};

/// Rows per row group.
const ROW_GROUP: usize = 131_072;

/// The columns of the rows not written yet.
#[derive(Default)]
struct Columns {
    timestamp: Vec<i64>,
    local_timestamp: Vec<i64>,
    is_snapshot: Vec<bool>,
    id: Vec<ByteArray>,
    side: Vec<ByteArray>,
    price: Vec<FixedLenByteArray>,
    amount: Vec<FixedLenByteArray>,
}

/// A Parquet file being written.
pub(crate) struct Parquet {
    writer: Option<SerializedFileWriter<File>>,
    book: bool,
    exchange: ByteArray,
    symbol: ByteArray,
    scales: Scales,
    cols: Columns,
}

fn io(e: parquet::errors::ParquetError) -> std::io::Error {
    std::io::Error::other(e)
}

impl Parquet {
    /// A file of `book` rows (else trades) of `exchange`/`symbol` at `scales`.
    pub(crate) fn create(
        file: File,
        exchange: &str,
        symbol: &str,
        book: bool,
        scales: Scales,
    ) -> std::io::Result<Self> {
        let middle = if book {
            "REQUIRED BOOLEAN is_snapshot;"
        } else {
            "REQUIRED BYTE_ARRAY id (UTF8);"
        };
        let schema = format!(
            "message {} {{
                REQUIRED BYTE_ARRAY exchange (UTF8);
                REQUIRED BYTE_ARRAY symbol (UTF8);
                REQUIRED INT64 timestamp (TIMESTAMP(MICROS,true));
                REQUIRED INT64 local_timestamp (TIMESTAMP(MICROS,true));
                {middle}
                REQUIRED BYTE_ARRAY side (UTF8);
                REQUIRED FIXED_LEN_BYTE_ARRAY (16) price (DECIMAL(38,{}));
                REQUIRED FIXED_LEN_BYTE_ARRAY (16) amount (DECIMAL(38,{}));
            }}",
            if book {
                "incremental_book_L2"
            } else {
                "trades"
            },
            scales.price,
            scales.amount
        );
        let schema = Arc::new(parse_message_type(&schema).map_err(io)?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by("papertwap tape export".to_owned())
                .build(),
        );
        let writer = SerializedFileWriter::new(file, schema, props).map_err(io)?;
        Ok(Parquet {
            writer: Some(writer),
            book,
            exchange: ByteArray::from(exchange),
            symbol: ByteArray::from(symbol),
            scales,
            cols: Columns::default(),
        })
    }

    fn fixed(d: Decimal, scale: u32) -> std::io::Result<FixedLenByteArray> {
        let mut d = d;
        d.rescale(scale);
        if d.scale() != scale {
            return Err(std::io::Error::other(format!(
                "{d} does not fit {scale} decimal places"
            )));
        }
        Ok(FixedLenByteArray::from(d.mantissa().to_be_bytes().to_vec()))
    }

    /// One row: the columns every row has, and `extra` pushes the row's own.
    fn push(
        &mut self,
        timestamp: i64,
        local: i64,
        side: &str,
        (price, amount): (Decimal, Decimal),
        extra: impl FnOnce(&mut Columns),
    ) -> std::io::Result<()> {
        let (p, a) = (
            Self::fixed(price, self.scales.price)?,
            Self::fixed(amount, self.scales.amount)?,
        );
        let c = &mut self.cols;
        extra(c);
        c.timestamp.push(timestamp);
        c.local_timestamp.push(local);
        c.side.push(ByteArray::from(side));
        c.price.push(p);
        c.amount.push(a);
        if c.timestamp.len() >= ROW_GROUP {
            self.write_group()?;
        }
        Ok(())
    }

    fn write_group(&mut self) -> std::io::Result<()> {
        let n = self.cols.timestamp.len();
        let Some(w) = self.writer.as_mut() else {
            return Ok(());
        };
        if n == 0 {
            return Ok(());
        }
        let c = std::mem::take(&mut self.cols);
        let mut rg = w.next_row_group().map_err(io)?;
        let text = |v: &ByteArray| vec![v.clone(); n];
        let mut i = 0;
        while let Some(mut col) = rg.next_column().map_err(io)? {
            // Columns in schema order.
            match (i, self.book) {
                (0, _) => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&text(&self.exchange), None, None)
                }
                (1, _) => col
                    .typed::<ByteArrayType>()
                    .write_batch(&text(&self.symbol), None, None),
                (2, _) => col
                    .typed::<Int64Type>()
                    .write_batch(&c.timestamp, None, None),
                (3, _) => col
                    .typed::<Int64Type>()
                    .write_batch(&c.local_timestamp, None, None),
                (4, true) => col
                    .typed::<BoolType>()
                    .write_batch(&c.is_snapshot, None, None),
                (4, false) => col.typed::<ByteArrayType>().write_batch(&c.id, None, None),
                (5, _) => col
                    .typed::<ByteArrayType>()
                    .write_batch(&c.side, None, None),
                (6, _) => col
                    .typed::<FixedLenByteArrayType>()
                    .write_batch(&c.price, None, None),
                _ => col
                    .typed::<FixedLenByteArrayType>()
                    .write_batch(&c.amount, None, None),
            }
            .map_err(io)?;
            col.close().map_err(io)?;
            i += 1;
        }
        rg.close().map_err(io)?;
        Ok(())
    }
}

impl Sink for Parquet {
    fn book(&mut self, r: BookRow) -> std::io::Result<()> {
        let snapshot = r.is_snapshot;
        self.push(
            r.timestamp,
            r.local_timestamp,
            r.side,
            (r.price, r.amount),
            |c| c.is_snapshot.push(snapshot),
        )
    }

    fn trade(&mut self, r: TradeRow) -> std::io::Result<()> {
        let id = ByteArray::from(r.id.as_str());
        self.push(
            r.timestamp,
            r.local_timestamp,
            r.side,
            (r.price, r.amount),
            |c| c.id.push(id),
        )
    }

    fn finish(&mut self) -> std::io::Result<()> {
        self.write_group()?;
        if let Some(w) = self.writer.take() {
            w.close().map_err(io)?;
        }
        Ok(())
    }
}
