//! Parse + apply throughput of captured Kraken book frames (DESIGN §10: ≥ 500 000 messages/s
//! on one core). The frames are the real XMR/USD capture (v1) carried into v2 frames with
//! their number text unchanged. Run with `cargo bench -p kraken --bench parse_apply`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use kraken::parse::{KrakenInbound, checksum, parse_frame};
use model::OrderBook;
use serde_json::value::RawValue;

fn bench(c: &mut Criterion) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/ws_v1_book_sequence_xmrusd.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    let raw: Vec<&RawValue> = serde_json::from_str(&text).unwrap_or_default();
    let frames = testkit::kraken::v1_to_v2(&raw);
    let Some((snapshot, updates)) = frames.split_first() else {
        return;
    };
    let mut base = OrderBook::with_scales(8, 8).with_depth_cap(Some(1_000));
    if let Ok(KrakenInbound::Book(b)) = parse_frame(snapshot) {
        for x in b {
            let _ = base.apply(&x.event);
        }
    }
    let mut g = c.benchmark_group("kraken");
    g.throughput(Throughput::Elements(updates.len() as u64));
    g.bench_function("parse_apply_captured_xmrusd", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in updates {
                    if let Ok(KrakenInbound::Book(v)) = parse_frame(f) {
                        for x in v {
                            black_box(book.apply(&x.event).ok());
                        }
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("parse_apply_checksum_captured_xmrusd", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in updates {
                    if let Ok(KrakenInbound::Book(v)) = parse_frame(f) {
                        for x in v {
                            black_box(book.apply(&x.event).ok());
                            black_box(checksum(book, 8, 8));
                        }
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
