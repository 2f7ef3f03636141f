//! Tape benchmarks on a realistic stream: one hour of the simulated BTC-USDT market at
//! 20 book updates a second (72 000 deltas, their trades, a snapshot first).
//!
//! Run with `cargo bench -p tape --bench tape`. Reports events per second for reading a tape
//! from the start and for appending, and prints the bytes on disk per level update.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use model::Timestamp;
use sim::{SimMarket, SimSpec};
use tape::{BlockEncoder, TapeEvent, TapeHeader, TapeReader, TapeWriter, WriterConfig};

fn stream() -> Vec<TapeEvent> {
    let start = Timestamp::from_nanos(1_765_000_000_000_000_000);
    let spec = SimSpec::defaults().remove(0);
    let mut m = SimMarket::new(spec, 7, start, 0).unwrap();
    let mut out = vec![TapeEvent::Book {
        local: start,
        event: m.snapshot(start),
    }];
    for i in 1..=72_000i64 {
        let now = Timestamp::from_nanos(start.as_nanos() + i * 50_000_000);
        let (event, trades) = m.step(now);
        out.push(TapeEvent::Book { local: now, event });
        out.extend(trades.into_iter().map(|mut t| {
            t.local_ts = now;
            TapeEvent::Trade(t)
        }));
    }
    out
}

fn header() -> TapeHeader {
    TapeHeader {
        exchange: "sim".into(),
        symbol: "BTC-USDT".into(),
        created: Timestamp::from_nanos(0),
    }
}

fn write(path: &std::path::Path, events: &[TapeEvent]) -> tape::WriterStats {
    let _ = std::fs::remove_file(path);
    let mut w = TapeWriter::create(path, &header(), WriterConfig::default()).unwrap();
    let mut last = 0;
    for e in events {
        w.append(e).unwrap();
        // Flushed once a second of tape time, as the recorder does.
        let t = e.local().as_nanos() / 1_000_000_000;
        if t != last {
            w.flush().unwrap();
            last = t;
        }
    }
    w.sync().unwrap();
    w.stats()
}

fn bench(c: &mut Criterion) {
    let events = stream();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.tape");
    let stats = write(&path, &events);
    let updates: usize = events
        .iter()
        .map(|e| match e {
            TapeEvent::Book { event, .. } => event.bids.len() + event.asks.len(),
            _ => 0,
        })
        .sum();
    let bytes = std::fs::metadata(&path).unwrap().len();
    println!(
        "tape: {} events ({} level updates, {} checkpoints), {} bytes: {:.2} bytes per level \
         update all in (checkpoints, trades, headers included)",
        stats.events,
        updates,
        stats.checkpoints,
        bytes,
        bytes as f64 / updates as f64
    );
    let reader = TapeReader::open(&path).unwrap();
    let n = reader.events().count() as u64;
    let mut g = c.benchmark_group("tape");
    g.throughput(Throughput::Elements(n));
    g.bench_function("read_all_events_cursor", |b| {
        b.iter(|| {
            let mut levels = 0usize;
            let mut c = reader.events().cursor();
            while let Some(e) = c.next_event() {
                if let TapeEvent::Book { event, .. } = e.unwrap() {
                    levels += event.bids.len() + event.asks.len();
                }
            }
            black_box(levels)
        })
    });
    g.bench_function("read_all_events", |b| {
        b.iter(|| {
            let mut levels = 0usize;
            for e in reader.events() {
                if let TapeEvent::Book { event, .. } = e.unwrap() {
                    levels += event.bids.len() + event.asks.len();
                }
            }
            black_box(levels)
        })
    });
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.bench_function("append_all_events", |b| {
        b.iter(|| black_box(write(&path, &events)))
    });
    g.finish();
}

/// What recording costs next to what ingest costs, per captured Binance diff-depth frame:
/// ingest = parse the frame and apply it to the book (the hub's work); recording = append
/// the event to a tape as the recorder does (the hub hands the event over after applying it,
/// without a copy, and takes the checkpoints itself: the writer keeps no book), flushed every
/// 10 frames (a second at Binance's 100 ms).
fn recording_vs_ingest(c: &mut Criterion) {
    use binance::parse::{BinanceInbound, parse_frame, parse_snapshot};
    use model::{BookEvent, OrderBook};
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/../binance/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let seq: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("ws_diff_depth_nknusdt_sequence.json")).unwrap();
    let frames: Vec<String> = seq.iter().skip(1).map(|v| v.to_string()).collect();
    let snap = parse_snapshot(&fixture("rest_depth_nknusdt_limit1000.json")).unwrap();
    let snapshot = BookEvent::snapshot(snap.bids, snap.asks);
    let mut base = OrderBook::with_scales(8, 8).with_depth_cap(Some(1_000));
    base.apply(&snapshot).unwrap();
    let events: Vec<BookEvent> = frames
        .iter()
        .filter_map(|f| match parse_frame(f) {
            Ok(BinanceInbound::Depth { update, .. }) => {
                let mut ev = BookEvent::delta(update.bids, update.asks);
                ev.seq = Some(update.last);
                Some(ev)
            }
            _ => None,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("recording_vs_ingest");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("ingest_parse_apply", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in &frames {
                    if let Ok(BinanceInbound::Depth { update, .. }) = parse_frame(f) {
                        let mut ev = BookEvent::delta(update.bids, update.asks);
                        ev.seq = Some(update.last);
                        black_box(book.apply(&ev).ok());
                    }
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let mut n = 0u64;
    // Appending with a write every 10 frames (the recorder's once a second at 100 ms), and
    // encoding alone (the block is written after the timing).
    for (name, flush_every) in [
        ("record_append", Some(10)),
        ("record_encode_only", None::<usize>),
    ] {
        g.bench_function(name, |b| {
            b.iter_batched_ref(
                || {
                    n += 1;
                    let path = dir.path().join(format!("r{n}.tape"));
                    let config = WriterConfig {
                        checkpoint_every_ns: None,
                        ..WriterConfig::default()
                    };
                    let mut w = TapeWriter::create(&path, &header(), config).unwrap();
                    w.append(&TapeEvent::Book {
                        local: Timestamp::from_nanos(0),
                        event: snapshot.clone(),
                    })
                    .unwrap();
                    w.flush().unwrap();
                    // The events as the hub hands them over (owned; made outside the timing).
                    let owned: Vec<TapeEvent> = events
                        .iter()
                        .enumerate()
                        .map(|(i, ev)| TapeEvent::Book {
                            local: Timestamp::from_nanos(2 + i as i64 * 100_000_000),
                            event: ev.clone(),
                        })
                        .collect();
                    (w, owned)
                },
                |(w, owned)| {
                    for (i, ev) in owned.iter().enumerate() {
                        w.append(ev).unwrap();
                        if flush_every.is_some_and(|k| i % k == k - 1) {
                            w.flush().unwrap();
                        }
                    }
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    // What the hub's ingest task does now: encode each applied event by reference into its
    // book's block, a block finished (handed to the writer) every 10 frames (a second of a
    // 10 Hz book), and its buffer back for a later block once written, as the recorder's pool
    // does.
    let mut spare: Vec<Vec<u8>> = Vec::new();
    g.bench_function("record_block_encode", |b| {
        b.iter(|| {
            let mut blocks = 0usize;
            let fresh = |spare: &mut Vec<Vec<u8>>| {
                BlockEncoder::reusing(Timestamp::from_nanos(0), spare.pop().unwrap_or_default())
            };
            let mut block = fresh(&mut spare);
            for (i, ev) in events.iter().enumerate() {
                block.book(Timestamp::from_nanos(2 + i as i64 * 100_000_000), ev);
                if i % 10 == 9 {
                    let next = fresh(&mut spare);
                    let done = black_box(std::mem::replace(&mut block, next).finish());
                    blocks += done.bytes();
                    spare.push(done.into_buffer());
                }
            }
            let done = block.finish();
            blocks += done.bytes();
            spare.push(done.into_buffer());
            blocks
        })
    });
    g.finish();
}

criterion_group!(benches, bench, recording_vs_ingest);
criterion_main!(benches);
