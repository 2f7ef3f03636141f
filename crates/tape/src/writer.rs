//! Appending to a tape: events are encoded into a block in memory and written, length and
//! CRC first, when the block is flushed (by the caller, typically once a second, or when it
//! reaches its size). The writer keeps its own copy of the book so that it can start a block
//! with a checkpoint of the whole book every `checkpoint_every`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use model::{BookEventKind, BookSide, OrderBook, Timestamp};

use crate::codec::{Encoder, put_varint};
use crate::reader::{MAGIC, TapeReader};
use crate::{TapeError, TapeEvent, TapeHeader};

/// How a writer cuts its blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterConfig {
    /// A checkpoint (the whole book) starts a block at least this often (ns of tape time),
    /// so that a reader seeking a time decodes at most this much before it: the writer keeps
    /// its own copy of the book for it. `None`: the writer keeps no book, and checkpoints are
    /// those appended ([`TapeEvent::Checkpoint`], e.g. taken by the hub, which has the book).
    pub checkpoint_every_ns: Option<i64>,
    /// A block is written out when it reaches this many bytes, flushed or not.
    pub block_bytes: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            checkpoint_every_ns: Some(60_000_000_000),
            block_bytes: 64 * 1024,
        }
    }
}

/// Counters of what a writer wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events appended (checkpoints included).
    pub events: u64,
    /// Levels written in book events and checkpoints.
    pub levels: u64,
    /// Bytes written to the file (headers included).
    pub bytes: u64,
    /// Checkpoints written.
    pub checkpoints: u64,
}

/// Appends events to one tape file.
#[derive(Debug)]
pub struct TapeWriter {
    file: File,
    path: PathBuf,
    config: WriterConfig,
    block: Option<Encoder>,
    book: OrderBook,
    /// The book holds a picture a checkpoint may be taken of (a snapshot applied, no error
    /// since).
    book_ok: bool,
    last_checkpoint: Option<i64>,
    stats: WriterStats,
}

impl TapeWriter {
    /// Create a new tape at `path` (failing if it exists).
    pub fn create(
        path: impl AsRef<Path>,
        header: &TapeHeader,
        config: WriterConfig,
    ) -> Result<Self, TapeError> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let h = header_bytes(header);
        file.write_all(&h)?;
        Ok(TapeWriter::on(file, path, config, h.len()))
    }

    fn on(file: File, path: PathBuf, config: WriterConfig, bytes: usize) -> Self {
        TapeWriter {
            file,
            path,
            config,
            block: None,
            book: OrderBook::new(),
            book_ok: false,
            last_checkpoint: None,
            stats: WriterStats {
                bytes: bytes as u64,
                ..WriterStats::default()
            },
        }
    }

    /// Open an existing tape to append to it: a torn tail (a block cut short by a crash) is
    /// cut off first. The next block starts with a checkpoint as soon as a venue snapshot has
    /// been appended.
    pub fn open(path: impl AsRef<Path>, config: WriterConfig) -> Result<Self, TapeError> {
        let path = path.as_ref().to_path_buf();
        let reader = TapeReader::open(&path)?;
        let good = reader.valid_len();
        let file = OpenOptions::new().write(true).open(&path)?;
        file.set_len(good as u64)?;
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0))?;
        Ok(TapeWriter::on(file, path, config, good))
    }

    /// The file written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was written so far.
    pub fn stats(&self) -> WriterStats {
        self.stats
    }

    /// Append an event (in arrival order). A book event is also applied to the writer's copy
    /// of the book; when a checkpoint is due, the current block is written out and the next
    /// one starts with the whole book.
    pub fn append(&mut self, ev: &TapeEvent) -> Result<(), TapeError> {
        let t = ev.local().as_nanos();
        if let TapeEvent::Checkpoint { .. } = ev {
            // A given checkpoint starts its own block.
            self.flush()?;
            let mut block = Encoder::new(t, true);
            block.push(ev);
            self.count(&block);
            self.block = Some(block);
            self.stats.checkpoints += 1;
            self.last_checkpoint = Some(t);
            return Ok(());
        }
        let Some(every) = self.config.checkpoint_every_ns else {
            return self.push(ev, t);
        };
        let due = self.book_ok
            && self
                .last_checkpoint
                .is_none_or(|c| t.saturating_sub(c) >= every);
        if due {
            // The book as every event before this one left it, first in a new block.
            self.flush()?;
            let checkpoint = TapeEvent::Checkpoint {
                local: Timestamp::from_nanos(t),
                bids: self.book.levels(BookSide::Bid).collect(),
                asks: self.book.levels(BookSide::Ask).collect(),
            };
            let mut block = Encoder::new(t, true);
            block.push(&checkpoint);
            self.count(&block);
            self.block = Some(block);
            self.stats.checkpoints += 1;
            self.last_checkpoint = Some(t);
        }
        if let TapeEvent::Book { event, .. } = ev {
            match self.book.apply(event) {
                Ok(_) if event.kind == BookEventKind::Snapshot => self.book_ok = true,
                Ok(_) => {}
                Err(_) => self.book_ok = false,
            }
        }
        self.push(ev, t)
    }

    fn push(&mut self, ev: &TapeEvent, t: i64) -> Result<(), TapeError> {
        let block = self.block.get_or_insert_with(|| Encoder::new(t, false));
        let (e, l) = (block.events, block.levels);
        block.push(ev);
        self.stats.events += (block.events - e) as u64;
        self.stats.levels += (block.levels - l) as u64;
        if self
            .block
            .as_ref()
            .is_some_and(|b| b.len() >= self.config.block_bytes)
        {
            self.flush()?;
        }
        Ok(())
    }

    fn count(&mut self, block: &Encoder) {
        self.stats.events += block.events as u64;
        self.stats.levels += block.levels as u64;
    }

    /// Write a block encoded elsewhere ([`crate::BlockEncoder`]) after what this writer
    /// holds. Meant for a writer with no checkpoints of its own
    /// (`checkpoint_every_ns: None`): the block's events are not applied to its book.
    pub fn append_block(&mut self, block: &crate::Block) -> Result<(), TapeError> {
        self.flush()?;
        self.stats.events += block.events as u64;
        self.stats.levels += block.levels as u64;
        self.stats.checkpoints += u64::from(block.checkpoint);
        self.write_block(block.payload())
    }

    /// Write out the current block (nothing when it is empty). After a crash the tape holds
    /// every block flushed before it.
    pub fn flush(&mut self) -> Result<(), TapeError> {
        let Some(block) = self.block.take() else {
            return Ok(());
        };
        self.write_block(block.payload())
    }

    fn write_block(&mut self, payload: &[u8]) -> Result<(), TapeError> {
        let mut out = Vec::with_capacity(payload.len() + 8);
        out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        self.file.write_all(&out)?;
        self.stats.bytes += out.len() as u64;
        Ok(())
    }

    /// Flush and make the data durable (fsync).
    pub fn sync(&mut self) -> Result<(), TapeError> {
        self.flush()?;
        self.file.sync_data()?;
        Ok(())
    }
}

/// The magic and header of a tape.
fn header_bytes(header: &TapeHeader) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(MAGIC);
    let mut body = Vec::new();
    for s in [&header.exchange, &header.symbol] {
        put_varint(&mut body, s.len() as u128);
        body.extend_from_slice(s.as_bytes());
    }
    body.extend_from_slice(&header.created.as_nanos().to_le_bytes());
    h.extend_from_slice(&(body.len() as u32).to_le_bytes());
    h.extend_from_slice(&body);
    h
}

/// A whole tape in memory: its header and `blocks`, each behind its length and CRC-32 (what
/// a [`TapeWriter`] would write to a file; for tests and tools).
pub fn tape_bytes(header: &TapeHeader, blocks: &[crate::Block]) -> Vec<u8> {
    let mut out = header_bytes(header);
    for b in blocks {
        out.extend_from_slice(&(b.payload().len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(b.payload()).to_le_bytes());
        out.extend_from_slice(b.payload());
    }
    out
}

impl Drop for TapeWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}
