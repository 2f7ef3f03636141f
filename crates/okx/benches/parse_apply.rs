//! Parse + apply (+ checksum) throughput of captured OKX `books` frames (DESIGN §20:
//! ≥ 500 000 messages/s on one core). Run with `cargo bench -p okx --bench parse_apply`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use model::OrderBook;
use okx::parse::{OkxInbound, checksum, parse_frame};

fn frames(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default();
    let v: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
    v.iter().map(|f| f.to_string()).collect()
}

fn bench(c: &mut Criterion) {
    let f = frames("ws_books_uni_usd_swap_sequence.json");
    let mut base = OrderBook::with_scales(3, 0).with_depth_cap(Some(400));
    if let Some(Ok(OkxInbound::Book(b))) = f.get(1).map(|s| parse_frame(s)) {
        for x in b {
            let _ = base.apply(&x.event);
        }
    }
    let updates: Vec<String> = f.iter().skip(2).cloned().collect();
    let mut g = c.benchmark_group("okx");
    g.throughput(Throughput::Elements(updates.len() as u64));
    g.bench_function("parse_apply_captured_uni", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for u in &updates {
                    if let Ok(OkxInbound::Book(bs)) = parse_frame(u) {
                        for x in bs {
                            black_box(book.apply(&x.event).ok());
                        }
                    }
                }
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("parse_apply_checksum_captured_uni", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for u in &updates {
                    if let Ok(OkxInbound::Book(bs)) = parse_frame(u) {
                        for x in bs {
                            black_box(book.apply(&x.event).ok());
                            black_box(checksum(book));
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
