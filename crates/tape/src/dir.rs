//! A folder of tapes: one file per (exchange, symbol, hour of tape time), so that retention
//! deletes whole files and a reader opens only the hours it needs.
//!
//! Layout: `<root>/<exchange>/<symbol>/<YYYYMMDD>T<HH>.tape` (UTC). The folder is created
//! owner-only (0700 on Unix): tapes show what the server's users traded.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use model::{Timestamp, civil_from_days, days_from_civil};

use crate::writer::{TapeWriter, WriterConfig};
use crate::{TapeError, TapeEvent, TapeHeader};

/// An hour of tape time, ns: each file holds one.
pub const HOUR_NS: i64 = 3_600_000_000_000;

/// One tape file of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapeFile {
    /// The venue's name.
    pub exchange: String,
    /// The canonical symbol.
    pub symbol: String,
    /// The start of the file's hour.
    pub hour: Timestamp,
    /// Its size on disk.
    pub bytes: u64,
    /// Its path.
    pub path: PathBuf,
}

/// The writers of a folder of tapes, one per book, each on its current hour's file.
#[derive(Debug)]
pub struct TapeDir {
    root: PathBuf,
    config: WriterConfig,
    /// Open writers by exchange, then symbol (looked up without allocating).
    open: HashMap<String, HashMap<String, (i64, TapeWriter)>>,
    /// The tapes this folder has written to since it was opened.
    started: HashSet<(String, String)>,
}

impl TapeDir {
    /// The folder at `root` (created if missing, owner-only).
    pub fn new(root: impl AsRef<Path>, config: WriterConfig) -> Result<Self, TapeError> {
        let root = root.as_ref().to_path_buf();
        create_private_dir(&root)?;
        Ok(TapeDir {
            root,
            config,
            open: HashMap::new(),
            started: HashSet::new(),
        })
    }

    /// The folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Append an event to its book's tape (the file of the event's hour, created or reopened
    /// as needed; an event older than the file's hour goes to the current file). The first
    /// event a folder writes to a tape is preceded by [`TapeEvent::Released`]: a new process
    /// starts with no paper consumption.
    pub fn append(
        &mut self,
        exchange: &str,
        symbol: &str,
        ev: &TapeEvent,
    ) -> Result<(), TapeError> {
        self.writer(exchange, symbol, ev.local())?.append(ev)
    }

    /// Append a block encoded elsewhere to its book's tape (the file of its first event's
    /// hour, as [`TapeDir::append`] chooses it).
    pub fn append_block(
        &mut self,
        exchange: &str,
        symbol: &str,
        block: &crate::Block,
    ) -> Result<(), TapeError> {
        self.writer(exchange, symbol, block.first())?
            .append_block(block)
    }

    /// The writer of the book's tape for an event at `at`.
    fn writer(
        &mut self,
        exchange: &str,
        symbol: &str,
        at: Timestamp,
    ) -> Result<&mut TapeWriter, TapeError> {
        let hour = at.as_nanos().div_euclid(HOUR_NS);
        let current = self
            .open
            .get(exchange)
            .and_then(|m| m.get(symbol))
            .is_some_and(|(h, _)| hour <= *h);
        if !current {
            if let Some((_, mut w)) = self.open.get_mut(exchange).and_then(|m| m.remove(symbol)) {
                w.flush()?;
            }
            let path = self.path_of(exchange, symbol, hour);
            if let Some(dir) = path.parent() {
                create_private_dir(dir)?;
            }
            let mut w = if path.exists() {
                TapeWriter::open(&path, self.config)?
            } else {
                let header = TapeHeader {
                    exchange: exchange.to_owned(),
                    symbol: symbol.to_owned(),
                    created: Timestamp::from_nanos(hour * HOUR_NS),
                };
                TapeWriter::create(&path, &header, self.config)?
            };
            if self
                .started
                .insert((exchange.to_owned(), symbol.to_owned()))
            {
                w.append(&TapeEvent::Released { local: at })?;
            }
            self.open
                .entry(exchange.to_owned())
                .or_default()
                .insert(symbol.to_owned(), (hour, w));
        }
        self.open
            .get_mut(exchange)
            .and_then(|m| m.get_mut(symbol))
            .map(|(_, w)| w)
            .ok_or_else(|| TapeError::NotATape(format!("no writer for {exchange} {symbol}")))
    }

    /// Append an event to every open tape (a mark that concerns them all).
    pub fn append_all(&mut self, ev: &TapeEvent) -> Result<(), TapeError> {
        for (_, w) in self.open.values_mut().flat_map(|m| m.values_mut()) {
            w.append(ev)?;
        }
        Ok(())
    }

    /// Write out every open tape's current block.
    pub fn flush(&mut self) -> Result<(), TapeError> {
        for (_, w) in self.open.values_mut().flat_map(|m| m.values_mut()) {
            w.flush()?;
        }
        Ok(())
    }

    /// Close the tape of a book (it is no longer recorded).
    pub fn close(&mut self, exchange: &str, symbol: &str) -> Result<(), TapeError> {
        if let Some((_, mut w)) = self.open.get_mut(exchange).and_then(|m| m.remove(symbol)) {
            w.flush()?;
        }
        Ok(())
    }

    /// Delete the files whose hour ended more than `keep_days` before `now`; returns how many.
    pub fn sweep(&mut self, now: Timestamp, keep_days: u32) -> Result<usize, TapeError> {
        let cutoff = now.as_nanos() - i64::from(keep_days) * 24 * HOUR_NS;
        let mut removed = 0;
        for f in list(&self.root)? {
            if f.hour.as_nanos() + HOUR_NS <= cutoff {
                let open = self.open.get(&f.exchange).and_then(|m| m.get(&f.symbol));
                if open.is_some_and(|(h, _)| *h * HOUR_NS == f.hour.as_nanos()) {
                    continue;
                }
                std::fs::remove_file(&f.path)?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn path_of(&self, exchange: &str, symbol: &str, hour: i64) -> PathBuf {
        self.root
            .join(exchange)
            .join(symbol)
            .join(format!("{}.tape", hour_name(hour)))
    }
}

/// Every tape file under `root`, by exchange, symbol and hour.
pub fn list(root: impl AsRef<Path>) -> Result<Vec<TapeFile>, TapeError> {
    let mut out = Vec::new();
    let root = root.as_ref();
    if !root.exists() {
        return Ok(out);
    }
    for ex in std::fs::read_dir(root)? {
        let ex = ex?;
        if !ex.file_type()?.is_dir() {
            continue;
        }
        for sym in std::fs::read_dir(ex.path())? {
            let sym = sym?;
            if !sym.file_type()?.is_dir() {
                continue;
            }
            for f in std::fs::read_dir(sym.path())? {
                let f = f?;
                let name = f.file_name().to_string_lossy().into_owned();
                let Some(hour) = name.strip_suffix(".tape").and_then(parse_hour) else {
                    continue;
                };
                out.push(TapeFile {
                    exchange: ex.file_name().to_string_lossy().into_owned(),
                    symbol: sym.file_name().to_string_lossy().into_owned(),
                    hour: Timestamp::from_nanos(hour * HOUR_NS),
                    bytes: f.metadata()?.len(),
                    path: f.path(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.exchange, &a.symbol, a.hour.as_nanos()).cmp(&(
            &b.exchange,
            &b.symbol,
            b.hour.as_nanos(),
        ))
    });
    Ok(out)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), TapeError> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// `YYYYMMDDTHH` of an hour number (hours since the Unix epoch, UTC).
fn hour_name(hour: i64) -> String {
    let days = hour.div_euclid(24);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}", hour.rem_euclid(24))
}

fn parse_hour(name: &str) -> Option<i64> {
    let (date, hh) = name.split_once('T')?;
    if date.len() != 8 || hh.len() != 2 {
        return None;
    }
    let y: i64 = date.get(0..4)?.parse().ok()?;
    let m: i64 = date.get(4..6)?.parse().ok()?;
    let d: i64 = date.get(6..8)?.parse().ok()?;
    let h: i64 = hh.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(0..24).contains(&h) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 24 + h)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use model::BookState;

    #[test]
    fn hour_names_round_trip() {
        for hour in [0i64, 1, 23, 24, 490_000, 491_234, 500_000] {
            assert_eq!(
                parse_hour(&hour_name(hour)),
                Some(hour),
                "{}",
                hour_name(hour)
            );
        }
        assert_eq!(hour_name(491_234), "20260115T02");
        // 1 765 000 000 s after the epoch is 2025-12-06T05:46:40Z.
        assert_eq!(hour_name(1_765_000_000 / 3_600), "20251206T05");
        assert_eq!(parse_hour("20261307T00"), None);
    }

    #[test]
    fn a_folder_rotates_by_hour_lists_and_sweeps() {
        let dir = tempfile::tempdir().unwrap();
        let mut tapes = TapeDir::new(dir.path().join("tapes"), WriterConfig::default()).unwrap();
        let state = |h: i64| TapeEvent::State {
            local: Timestamp::from_nanos(h * HOUR_NS + 5),
            state: BookState::Live,
        };
        for h in [490_000, 490_000, 490_001, 490_002] {
            tapes.append("sim", "BTC-USDT", &state(h)).unwrap();
        }
        tapes
            .append("binance", "ETH-USDT", &state(490_002))
            .unwrap();
        // A mark for every open tape: the current hour's two files take it.
        tapes.append_all(&state(490_002)).unwrap();
        tapes.flush().unwrap();
        let files = list(tapes.root()).unwrap();
        let names: Vec<(String, i64)> = files
            .iter()
            .map(|f| (f.exchange.clone(), f.hour.as_nanos() / HOUR_NS))
            .collect();
        assert_eq!(
            names,
            [
                ("binance".into(), 490_002),
                ("sim".into(), 490_000),
                ("sim".into(), 490_001),
                ("sim".into(), 490_002)
            ]
        );
        let kinds = |f: &TapeFile| -> Vec<bool> {
            crate::TapeReader::open(&f.path)
                .unwrap()
                .events()
                .map(|e| matches!(e.unwrap(), TapeEvent::Released { .. }))
                .collect()
        };
        // The first write to each tape is preceded by the release mark, once per folder.
        assert_eq!(kinds(&files[1]), [true, false, false]);
        assert_eq!(kinds(&files[0]), [true, false, false]);
        assert_eq!(kinds(&files[3]), [false, false]);
        // Two days kept at hour 490 050: the hours that ended before 490 002 go.
        let now = Timestamp::from_nanos(490_050 * HOUR_NS);
        assert_eq!(tapes.sweep(now, 2).unwrap(), 2);
        assert_eq!(list(tapes.root()).unwrap().len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(tapes.root())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }
}
