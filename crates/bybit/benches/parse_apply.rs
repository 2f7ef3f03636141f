//! Parse + apply throughput of Bybit book deltas (DESIGN §20: ≥ 500 000 messages/s on one
//! core): the captured 200-level BTCUSDT snapshot, then its captured delta followed by deltas
//! of the same shape near the touch. Run with `cargo bench -p bybit --bench parse_apply`.

use std::hint::black_box;

use bybit::parse::{BybitInbound, parse_frame};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::OrderBook;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let seq: Vec<serde_json::Value> = serde_json::from_str(&fixture(
        "ws_orderbook200_btcusdt_spot_ack_snapshot_delta.json",
    ))
    .unwrap_or_default();
    let Some(Ok(BybitInbound::Book(snapshot))) = seq.get(1).map(|f| parse_frame(&f.to_string()))
    else {
        return;
    };
    let mut base = OrderBook::with_scales(2, 6).with_depth_cap(Some(200));
    let _ = base.apply(&snapshot.event);
    let mut frames: Vec<String> = seq.iter().skip(2).map(|v| v.to_string()).collect();
    // Integer tick and lot arithmetic for the generated frames (no floating point).
    for i in 1..1_000u64 {
        let bid = 4_373_000 - (i % 20);
        let ask = 4_373_700 + (i % 20);
        frames.push(format!(
            r#"{{"topic":"orderbook.200.BTCUSDT","ts":1703430557896,"type":"delta","data":{{"s":"BTCUSDT","b":[["{}.{:02}","0.{:06}"]],"a":[["{}.{:02}","0.{:06}"]],"u":{},"seq":19967460823}},"cts":1703430557894}}"#,
            bid / 100,
            bid % 100,
            i % 9 + 1,
            ask / 100,
            ask % 100,
            (i * 7) % 9 + 1,
            snapshot.update_id + 1 + i
        ));
    }
    let mut g = c.benchmark_group("bybit");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_apply_btcusdt_deltas", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in &frames {
                    if let Ok(BybitInbound::Book(d)) = parse_frame(f) {
                        black_box(book.apply(&d.event).ok());
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
