//! Parse + apply throughput of Coinbase `l2_data` updates (DESIGN §20: ≥ 500 000
//! messages/s on one core): a 1 000-level BTC-USD snapshot in the documented frame shape,
//! then updates of the live shape (one or two levels near the touch, with their
//! `event_time`s). Run with `cargo bench -p coinbase --bench parse_apply`.

use std::hint::black_box;

use coinbase::parse::{CbInbound, parse_frame};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::OrderBook;

fn level(side: &str, ticks: u64, qty: u64) -> String {
    format!(
        r#"{{"side":"{side}","event_time":"2026-07-01T12:00:00.349000Z","price_level":"{}.{:02}","new_quantity":"0.{:08}"}}"#,
        ticks / 100,
        ticks % 100,
        qty
    )
}

fn frame(seq: u64, kind: &str, levels: &[String]) -> String {
    format!(
        r#"{{"channel":"l2_data","client_id":"","timestamp":"2026-07-01T12:00:00.350000000Z","sequence_num":{seq},"events":[{{"type":"{kind}","product_id":"BTC-USD","updates":[{}]}}]}}"#,
        levels.join(",")
    )
}

fn bench(c: &mut Criterion) {
    // Integer tick and lot arithmetic for the generated frames (no floating point).
    let mut snap = Vec::new();
    for i in 0..1_000u64 {
        snap.push(level("bid", 6_700_000 - i, 10_000_000 + i * 7));
        snap.push(level("offer", 6_700_001 + i, 20_000_000 + i * 3));
    }
    let Ok(f) = parse_frame(&frame(0, "snapshot", &snap)) else {
        return;
    };
    let CbInbound::Books(books) = f.inbound else {
        return;
    };
    let mut base = OrderBook::with_scales(2, 8);
    let _ = base.apply(&books[0].event);
    let frames: Vec<String> = (1..=1_000u64)
        .map(|i| {
            let mut l = vec![level("bid", 6_700_000 - (i % 20), i % 9 * 1_000_000)];
            if i % 2 == 0 {
                l.push(level(
                    "offer",
                    6_700_001 + (i % 20),
                    (i * 7) % 9 * 1_000_000 + 1,
                ));
            }
            frame(i, "update", &l)
        })
        .collect();
    let mut g = c.benchmark_group("coinbase");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_apply_btcusd_updates", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in &frames {
                    if let Ok(parsed) = parse_frame(f)
                        && let CbInbound::Books(bs) = parsed.inbound
                    {
                        for b in &bs {
                            black_box(book.apply(&b.event).ok());
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
