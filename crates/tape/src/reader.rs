//! Reading a tape: the file is checked block by block (length, CRC-32) when opened; the
//! first block that is cut short or fails its CRC ends the readable tape (a torn tail, skipped
//! and reported). Events decode lazily, from the start or from the checkpoint before a time.

use std::path::Path;

use model::Timestamp;

use crate::codec::{Buffers, Decoder};
use crate::{TapeError, TapeEvent, TapeHeader};

/// The first bytes of every tape.
pub(crate) const MAGIC: &[u8; 8] = b"PTTAPE2\n";

/// Where one block is.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Offset of its payload in the file.
    offset: usize,
    len: usize,
    first_ts: i64,
    checkpoint: bool,
}

/// A tape, read into memory and checked.
#[derive(Debug)]
pub struct TapeReader {
    data: Vec<u8>,
    header: TapeHeader,
    blocks: Vec<Block>,
    /// End of the last good block.
    valid: usize,
}

impl TapeReader {
    /// Read and check the tape at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, TapeError> {
        TapeReader::from_bytes(std::fs::read(path)?)
    }

    /// Check a tape held in memory.
    pub fn from_bytes(data: Vec<u8>) -> Result<Self, TapeError> {
        let not = |why: &str| TapeError::NotATape(why.to_owned());
        if data.len() < MAGIC.len() + 4 || &data[..MAGIC.len()] != MAGIC {
            return Err(not(
                "missing the PTTAPE2 header (or a tape of an older version)",
            ));
        }
        let mut at = MAGIC.len();
        let len = u32_at(&data, at).ok_or_else(|| not("truncated header"))? as usize;
        at += 4;
        let body = data
            .get(at..at + len)
            .ok_or_else(|| not("truncated header"))?;
        let header = parse_header(body).ok_or_else(|| not("unreadable header"))?;
        at += len;
        let mut blocks = Vec::new();
        // Blocks until the end or the first that is cut short or fails its CRC.
        while let (Some(len), Some(crc)) = (u32_at(&data, at), u32_at(&data, at + 4)) {
            let (start, len) = (at + 8, len as usize);
            let Some(payload) = data.get(start..start + len) else {
                break;
            };
            if crc32fast::hash(payload) != crc {
                break;
            }
            let Ok((_, checkpoint, first_ts)) = Decoder::new(payload) else {
                break;
            };
            blocks.push(Block {
                offset: start,
                len,
                first_ts,
                checkpoint,
            });
            at = start + len;
        }
        Ok(TapeReader {
            data,
            header,
            blocks,
            valid: at,
        })
    }

    /// What the tape records.
    pub fn header(&self) -> &TapeHeader {
        &self.header
    }

    /// Bytes after the last good block (a torn or corrupt tail, skipped); 0 for a clean tape.
    pub fn torn_bytes(&self) -> usize {
        self.data.len() - self.valid
    }

    /// Length of the readable part (header and good blocks).
    pub fn valid_len(&self) -> usize {
        self.valid
    }

    /// Good blocks.
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The time of the first event, if any.
    pub fn start(&self) -> Option<Timestamp> {
        self.blocks
            .first()
            .map(|b| Timestamp::from_nanos(b.first_ts))
    }

    /// The time of the last event, if any (decodes the last block).
    pub fn end(&self) -> Result<Option<Timestamp>, TapeError> {
        let Some(last) = self.blocks.len().checked_sub(1) else {
            return Ok(None);
        };
        let mut t = None;
        for e in self.events_from(last) {
            t = Some(e?.local());
        }
        Ok(t)
    }

    /// The time of the last checkpoint at or before `t`, if the tape has one.
    pub fn checkpoint_at_or_before(&self, t: Timestamp) -> Option<Timestamp> {
        self.blocks
            .iter()
            .rev()
            .find(|b| b.checkpoint && b.first_ts <= t.as_nanos())
            .map(|b| Timestamp::from_nanos(b.first_ts))
    }

    /// Every event, oldest first.
    pub fn events(&self) -> Events<'_> {
        self.events_from(0)
    }

    /// The events from the last checkpoint at or before `t` (so the first book event is a
    /// [`TapeEvent::Checkpoint`] to start from), or from the start when there is none. The
    /// caller applies what comes before `t` to reach the book as it stood then.
    pub fn seek(&self, t: Timestamp) -> Events<'_> {
        let t = t.as_nanos();
        let first = self
            .blocks
            .iter()
            .rposition(|b| b.checkpoint && b.first_ts <= t)
            .unwrap_or(0);
        self.events_from(first)
    }

    /// The events of block `i` alone (each block decodes on its own), for readers that keep
    /// one block in hand at a time; `None` past the last good block.
    pub fn block_events(&self, i: usize) -> Option<Result<Vec<TapeEvent>, TapeError>> {
        let b = *self.blocks.get(i)?;
        let payload = &self.data[b.offset..b.offset + b.len];
        let corrupt = |what| TapeError::Corrupt {
            offset: b.offset,
            what,
        };
        let mut dec = match Decoder::new(payload) {
            Ok((dec, _, _)) => dec,
            Err(what) => return Some(Err(corrupt(what))),
        };
        let mut bufs = Buffers::default();
        let mut out = Vec::new();
        while let Some(e) = dec.next_reusing(&mut bufs) {
            match e {
                Ok(e) => out.push(e),
                Err(what) => return Some(Err(corrupt(what))),
            }
        }
        Some(Ok(out))
    }

    fn events_from(&self, block: usize) -> Events<'_> {
        Events {
            reader: self,
            block,
            current: None,
        }
    }
}

/// Events in tape order; an error ends the iteration.
pub struct Events<'a> {
    reader: &'a TapeReader,
    block: usize,
    current: Option<(Decoder<'a>, usize)>,
}

impl Iterator for Events<'_> {
    type Item = Result<TapeEvent, TapeError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_with(&mut Buffers::default())
    }
}

impl<'a> Events<'a> {
    /// These events through a [`Cursor`], which decodes without allocating.
    pub fn cursor(self) -> Cursor<'a> {
        Cursor {
            events: self,
            bufs: Buffers::default(),
            current: None,
        }
    }

    fn next_with(&mut self, bufs: &mut Buffers) -> Option<Result<TapeEvent, TapeError>> {
        loop {
            if let Some((dec, offset)) = &mut self.current {
                match dec.next_reusing(bufs) {
                    Some(Ok(e)) => return Some(Ok(e)),
                    Some(Err(what)) => {
                        let offset = *offset;
                        self.current = None;
                        self.block = self.reader.blocks.len();
                        return Some(Err(TapeError::Corrupt { offset, what }));
                    }
                    None => self.current = None,
                }
            }
            let b = *self.reader.blocks.get(self.block)?;
            self.block += 1;
            let payload = &self.reader.data[b.offset..b.offset + b.len];
            match Decoder::new(payload) {
                Ok((dec, _, _)) => self.current = Some((dec, b.offset)),
                Err(what) => {
                    self.block = self.reader.blocks.len();
                    return Some(Err(TapeError::Corrupt {
                        offset: b.offset,
                        what,
                    }));
                }
            }
        }
    }
}

/// Events in tape order decoded into one event that is reused (its level vectors too): no
/// allocation per event once warm, for replays that read many events and keep none.
pub struct Cursor<'a> {
    events: Events<'a>,
    bufs: Buffers,
    current: Option<TapeEvent>,
}

impl Cursor<'_> {
    /// The next event (valid until the next call); an error ends the tape.
    pub fn next_event(&mut self) -> Option<Result<&TapeEvent, TapeError>> {
        if let Some(ev) = self.current.take() {
            self.bufs.recycle(ev);
        }
        match self.events.next_with(&mut self.bufs)? {
            Ok(ev) => Some(Ok(self.current.insert(ev))),
            Err(e) => Some(Err(e)),
        }
    }
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn parse_header(mut b: &[u8]) -> Option<TapeHeader> {
    let mut text = || -> Option<String> {
        let mut len = 0usize;
        for shift in (0..35).step_by(7) {
            let (x, rest) = b.split_first()?;
            b = rest;
            len |= usize::from(x & 0x7f) << shift;
            if x & 0x80 == 0 {
                let (s, rest) = (b.get(..len)?, b.get(len..)?);
                b = rest;
                return String::from_utf8(s.to_vec()).ok();
            }
        }
        None
    };
    let exchange = text()?;
    let symbol = text()?;
    let created = i64::from_le_bytes(b.get(..8)?.try_into().ok()?);
    Some(TapeHeader {
        exchange,
        symbol,
        created: Timestamp::from_nanos(created),
    })
}
