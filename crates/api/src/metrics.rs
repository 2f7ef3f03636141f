//! `GET /metrics` in the Prometheus text format: books, feed messages, orders, slices and
//! HTTP latency per route.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use model::{BookState, Timestamp};

use crate::convert::status_word;
use crate::state::AppState;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// (method, route pattern, status): static text on the hot path, so recording a request
/// allocates nothing.
type RouteKey = (&'static str, Cow<'static, str>, u16);

/// HTTP request metrics, keyed by (method, route pattern, status).
#[derive(Debug, Default)]
pub struct HttpMetrics {
    by_route: Mutex<BTreeMap<RouteKey, Histogram>>,
}

impl HttpMetrics {
    fn observe(&self, method: &'static str, route: Cow<'static, str>, status: u16, secs: f64) {
        let mut m = self
            .by_route
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = m.entry((method, route, status)).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }
}

/// Middleware recording every request's latency under its route pattern (`/orders/{token_id}`,
/// never the raw path, so label cardinality stays bounded).
pub async fn track<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    let start = Instant::now();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.http_metrics.clone());
    let method = method_word(req.method());
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        // Our resources carry their pattern; the few others (docs, dashboard assets) are
        // matched again.
        let r = res.request();
        let route: Cow<'static, str> = match r.app_data::<crate::routes::RoutePattern>() {
            Some(p) => Cow::Borrowed(p.0),
            None => Cow::Owned(r.match_pattern().unwrap_or_else(|| "unmatched".to_owned())),
        };
        m.observe(
            method,
            route,
            res.status().as_u16(),
            start.elapsed().as_secs_f64(),
        );
    }
    Ok(res)
}

/// The request method as static text (anything unusual is `OTHER`: bounded labels).
fn method_word(m: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut o = String::with_capacity(8 * 1024);
    let now = Timestamp::now();
    let _ = writeln!(
        o,
        "# HELP papertwap_up 1 while the server serves requests.\n# TYPE papertwap_up gauge\npapertwap_up 1"
    );
    let _ = writeln!(
        o,
        "# HELP papertwap_uptime_seconds Seconds since start.\n# TYPE papertwap_uptime_seconds gauge\npapertwap_uptime_seconds {}",
        state.started.elapsed().as_secs()
    );
    let ex = state.hub.exchanges();
    let _ = writeln!(
        o,
        "# HELP papertwap_exchange_connected 1 when the exchange's feed is connected.\n# TYPE papertwap_exchange_connected gauge"
    );
    for e in &ex {
        let _ = writeln!(
            o,
            "papertwap_exchange_connected{{exchange=\"{}\",status=\"{}\"}} {}",
            e.id.as_str(),
            status_word(e),
            u8::from(status_word(e) == wire::ConnectionStatus::Connected)
        );
    }
    let _ = writeln!(
        o,
        "# HELP papertwap_exchange_pairs Pairs known per exchange.\n# TYPE papertwap_exchange_pairs gauge"
    );
    for e in &ex {
        let _ = writeln!(
            o,
            "papertwap_exchange_pairs{{exchange=\"{}\"}} {}",
            e.id.as_str(),
            e.pairs
        );
    }
    let _ = writeln!(
        o,
        "# HELP papertwap_feed_messages_total Book events received from each exchange's feed.\n# TYPE papertwap_feed_messages_total counter"
    );
    for e in &ex {
        let _ = writeln!(
            o,
            "papertwap_feed_messages_total{{exchange=\"{}\"}} {}",
            e.id.as_str(),
            e.messages
        );
    }
    let mut books = Vec::new();
    for id in state.hub.exchange_ids() {
        for sym in state.hub.subscribed(id) {
            if let Ok(s) = state.hub.snapshot(id, sym.as_str()) {
                books.push(s);
            }
        }
    }
    type Field = fn(&market::BookSnapshot, Timestamp) -> String;
    let series: [(&str, &str, &str, Field); 6] = [
        (
            "papertwap_book_live",
            "gauge",
            "1 when the book is live (tradeable if also not crossed).",
            |s, _| u8::from(s.health.state == BookState::Live).to_string(),
        ),
        (
            "papertwap_book_age_seconds",
            "gauge",
            "Seconds since the book's last update.",
            |s, now| {
                s.health
                    .age_ms(now)
                    .map_or("NaN".to_owned(), |a| format!("{:.3}", a as f64 / 1e3))
            },
        ),
        (
            "papertwap_book_resyncs_total",
            "counter",
            "Re-synchronisations after the first sync.",
            |s, _| s.health.resyncs.to_string(),
        ),
        (
            "papertwap_book_checksum_failures_total",
            "counter",
            "Checksum mismatches detected.",
            |s, _| s.health.checksum_failures.to_string(),
        ),
        (
            "papertwap_book_orphan_deletes_total",
            "counter",
            "Deletes for prices the book did not hold.",
            |s, _| s.health.orphan_deletes.to_string(),
        ),
        (
            "papertwap_book_crossed",
            "gauge",
            "1 when the best bid is at or above the best ask.",
            |s, _| u8::from(s.health.crossed).to_string(),
        ),
    ];
    for (name, kind, help, f) in series {
        let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for s in &books {
            let _ = writeln!(
                o,
                "{name}{{exchange=\"{}\",symbol=\"{}\",state=\"{}\"}} {}",
                s.exchange.as_str(),
                esc(s.pair.symbol.as_str()),
                BookState::as_str(s.health.state),
                f(s, now)
            );
        }
    }
    let _ = writeln!(
        o,
        "# HELP papertwap_ws_clients Open WebSocket connections.\n# TYPE papertwap_ws_clients gauge\npapertwap_ws_clients {}",
        state.ws.clients.load(Ordering::Relaxed)
    );
    let st = state.trading.engine.stats();
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let _ = writeln!(
        o,
        "# HELP papertwap_orders_accepted_total TWAP orders accepted since start.\n# TYPE papertwap_orders_accepted_total counter\npapertwap_orders_accepted_total {}",
        g(&st.accepted)
    );
    let _ = writeln!(
        o,
        "# HELP papertwap_orders_open TWAP orders pending or working.\n# TYPE papertwap_orders_open gauge\npapertwap_orders_open {}",
        g(&st.open)
    );
    let _ = writeln!(
        o,
        "# HELP papertwap_orders_closed_total Orders that reached a final state since start.\n# TYPE papertwap_orders_closed_total counter"
    );
    for (s, a) in [
        ("filled", &st.filled),
        ("expired", &st.expired),
        ("cancelled", &st.cancelled),
    ] {
        let _ = writeln!(
            o,
            "papertwap_orders_closed_total{{status=\"{s}\"}} {}",
            g(a)
        );
    }
    let _ = writeln!(
        o,
        "# HELP papertwap_slices_total Slices stored since start.\n# TYPE papertwap_slices_total counter"
    );
    let _ = writeln!(
        o,
        "papertwap_slices_total{{result=\"executed\"}} {}",
        g(&st.slices_done)
    );
    let _ = writeln!(
        o,
        "papertwap_slices_total{{result=\"skipped\"}} {}",
        g(&st.slices_skipped)
    );
    let _ = writeln!(
        o,
        "# HELP papertwap_http_request_duration_seconds HTTP request latency by route.\n# TYPE papertwap_http_request_duration_seconds histogram"
    );
    let snapshot = state
        .http_metrics
        .by_route
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    for ((method, route, status), h) in snapshot {
        let labels = format!(
            "method=\"{method}\",route=\"{}\",status=\"{status}\"",
            esc(&route)
        );
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "papertwap_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            o,
            "papertwap_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(
            o,
            "papertwap_http_request_duration_seconds_sum{{{labels}}} {}",
            h.sum
        );
        let _ = writeln!(
            o,
            "papertwap_http_request_duration_seconds_count{{{labels}}} {}",
            h.count
        );
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(o)
}
