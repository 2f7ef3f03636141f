//! Parse + apply throughput of Bitstamp `diff_order_book` frames (DESIGN §20: ≥ 500 000
//! messages/s on one core): the captured ETH/USD REST book, then the 85 captured diffs
//! spliced onto it, then diffs of the same shape near the touch. Run with
//! `cargo bench -p bitstamp --bench parse_apply`.

use std::hint::black_box;

use bitstamp::parse::{BtsInbound, parse_frame, parse_order_book};
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
    let Ok((_, snapshot)) = parse_order_book(&fixture("rest_order_book_ethusd.json")) else {
        return;
    };
    let mut base = OrderBook::with_scales(2, 8);
    let _ = base.apply(&snapshot);
    let seq: Vec<serde_json::Value> =
        serde_json::from_str(&fixture("ws_diff_order_book_ethusd_sequence.json"))
            .unwrap_or_default();
    let mut frames: Vec<String> = seq.iter().skip(1).map(|v| v.to_string()).collect();
    // Integer tick and lot arithmetic for the generated frames (no floating point).
    for i in 1..1_000u64 {
        let bid = 380_200 - (i % 20);
        let ask = 380_547 + (i % 20);
        frames.push(format!(
            r#"{{"data":{{"timestamp":"1641343722","microtimestamp":"{}","bids":[["{}.{:02}","{}.{:08}"]],"asks":[["{}.{:02}","0.{:08}"]]}},"channel":"diff_order_book_ethusd","event":"data"}}"#,
            1_641_343_722_000_000 + i * 1_000,
            bid / 100,
            bid % 100,
            i % 9,
            (i * 13) % 100_000_000,
            ask / 100,
            ask % 100,
            (i * 7) % 100_000_000 + 1,
        ));
    }
    let mut g = c.benchmark_group("bitstamp");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("parse_apply_ethusd_diffs", |b| {
        b.iter_batched_ref(
            || base.clone(),
            |book| {
                for f in &frames {
                    if let Ok(BtsInbound::Diff(d)) = parse_frame(f) {
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
