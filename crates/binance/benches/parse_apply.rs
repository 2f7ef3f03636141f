//! Parse + apply throughput of captured Binance diff-depth frames (DESIGN §10: ≥ 500 000
//! messages/s on one core). Run with `cargo bench -p binance --bench parse_apply`.

use std::hint::black_box;

use binance::parse::{BinanceInbound, parse_frame, parse_snapshot};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::{BookEvent, OrderBook};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    // The 149 contiguous NKNUSDT frames after the one the snapshot covers, as raw text.
    let seq: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("ws_diff_depth_nknusdt_sequence.json")).unwrap_or_default();
    let frames: Vec<String> = seq.iter().skip(1).map(|v| v.to_string()).collect();
    let Ok(snap) = parse_snapshot(&fixture("rest_depth_nknusdt_limit1000.json")) else {
        return;
    };
    let mut base = OrderBook::with_scales(8, 8).with_depth_cap(Some(1_000));
    let _ = base.apply(&BookEvent::snapshot(snap.bids, snap.asks));

    let mut g = c.benchmark_group("binance");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_apply_captured_nknusdt", |b| {
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
            BatchSize::LargeInput,
        )
    });
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_only_captured_nknusdt", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(parse_frame(black_box(f)).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
