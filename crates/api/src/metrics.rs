//! `GET /metrics` through the Prometheus client library (`prometheus-client`, OpenMetrics
//! text): books, feed messages, orders, slices and HTTP latency per route. The HTTP histogram
//! lives as long as the server; the rest is read from the server's state at each scrape.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};
use model::{BookState, Timestamp};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::convert::status_word;
use crate::state::AppState;

/// Upper bounds of the latency histogram, seconds.
const BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// (method, route pattern, status) of a request: static text on the hot path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: Cow<'static, str>,
    status: u16,
}

/// Makes each route's histogram with [`BUCKETS`].
#[derive(Debug, Clone, Copy)]
struct Buckets;

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(BUCKETS)
    }
}

/// HTTP request metrics, keyed by (method, route pattern, status).
#[derive(Debug)]
pub struct HttpMetrics {
    by_route: Family<RouteLabels, Histogram, Buckets>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            by_route: Family::new_with_constructor(Buckets),
        }
    }
}

impl HttpMetrics {
    fn observe(&self, method: &'static str, route: Cow<'static, str>, status: u16, secs: f64) {
        self.by_route
            .get_or_create(&RouteLabels {
                method,
                route,
                status,
            })
            .observe(secs);
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

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ExchangeLabels {
    exchange: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ConnLabels {
    exchange: &'static str,
    status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct BookLabels {
    exchange: &'static str,
    symbol: String,
    state: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct StatusLabels {
    status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// A counter holding `v` (a count the server keeps, read at the scrape).
fn counter(v: u64) -> Counter {
    let c = Counter::default();
    c.inc_by(v);
    c
}

/// A gauge holding `v`.
fn gauge(v: i64) -> Gauge {
    let g = Gauge::default();
    g.set(v);
    g
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, description = "OpenMetrics text exposition format 1.0.0 (Prometheus reads it)", body = String, content_type = "application/openmetrics-text")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut r = Registry::default();
    let now = Timestamp::now();
    r.register(
        "papertwap_up",
        "1 while the server serves requests",
        gauge(1),
    );
    r.register(
        "papertwap_uptime_seconds",
        "Seconds since start",
        gauge(i64::try_from(state.started.elapsed().as_secs()).unwrap_or(i64::MAX)),
    );
    let ex = state.hub.exchanges();
    let connected = Family::<ConnLabels, Gauge>::default();
    let pairs = Family::<ExchangeLabels, Gauge>::default();
    let messages = Family::<ExchangeLabels, Counter>::default();
    for e in &ex {
        let status = status_word(e);
        let exchange = e.id.as_str();
        connected
            .get_or_create(&ConnLabels {
                exchange,
                status: status.to_string(),
            })
            .set(i64::from(status == wire::ConnectionStatus::Connected));
        pairs
            .get_or_create(&ExchangeLabels { exchange })
            .set(i64::try_from(e.pairs).unwrap_or(i64::MAX));
        messages
            .get_or_create(&ExchangeLabels { exchange })
            .inc_by(e.messages);
    }
    r.register(
        "papertwap_exchange_connected",
        "1 when the exchange's feed is connected",
        connected,
    );
    r.register(
        "papertwap_exchange_pairs",
        "Pairs known per exchange",
        pairs,
    );
    r.register(
        "papertwap_feed_messages",
        "Book events received from each exchange's feed",
        messages,
    );

    let live = Family::<BookLabels, Gauge>::default();
    let age = Family::<BookLabels, Gauge<f64, AtomicU64>>::default();
    let resyncs = Family::<BookLabels, Counter>::default();
    let checksums = Family::<BookLabels, Counter>::default();
    let orphans = Family::<BookLabels, Counter>::default();
    let crossed = Family::<BookLabels, Gauge>::default();
    for id in state.hub.exchange_ids() {
        for sym in state.hub.subscribed(id) {
            let Ok(s) = state.hub.snapshot(id, sym.as_str()) else {
                continue;
            };
            let l = BookLabels {
                exchange: s.exchange.as_str(),
                symbol: s.pair.symbol.to_string(),
                state: BookState::as_str(s.health.state),
            };
            let h = &s.health;
            live.get_or_create(&l)
                .set(i64::from(h.state == BookState::Live));
            age.get_or_create(&l)
                .set(h.age_ms(now).map_or(f64::NAN, |a| a as f64 / 1e3));
            resyncs.get_or_create(&l).inc_by(h.resyncs);
            checksums.get_or_create(&l).inc_by(h.checksum_failures);
            orphans.get_or_create(&l).inc_by(h.orphan_deletes);
            crossed.get_or_create(&l).set(i64::from(h.crossed));
        }
    }
    r.register(
        "papertwap_book_live",
        "1 when the book is live (tradeable if also not crossed)",
        live,
    );
    r.register(
        "papertwap_book_age_seconds",
        "Seconds since the book's last update",
        age,
    );
    r.register(
        "papertwap_book_resyncs",
        "Re-synchronisations after the first sync",
        resyncs,
    );
    r.register(
        "papertwap_book_checksum_failures",
        "Checksum mismatches detected",
        checksums,
    );
    r.register(
        "papertwap_book_orphan_deletes",
        "Deletes for prices the book did not hold",
        orphans,
    );
    r.register(
        "papertwap_book_crossed",
        "1 when the best bid is at or above the best ask",
        crossed,
    );

    r.register(
        "papertwap_ws_clients",
        "Open WebSocket connections",
        gauge(i64::try_from(state.ws.clients.load(Ordering::Relaxed)).unwrap_or(i64::MAX)),
    );
    let st = state.trading.engine.stats();
    let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
    r.register(
        "papertwap_orders_accepted",
        "Orders accepted since start",
        counter(g(&st.accepted)),
    );
    r.register(
        "papertwap_orders_open",
        "Orders pending or working, executed by this instance",
        gauge(i64::try_from(g(&st.open)).unwrap_or(i64::MAX)),
    );
    r.register(
        "papertwap_leases_held",
        "Symbols whose open orders this instance executes, by lease (several instances on PostgreSQL; 0 alone)",
        gauge(i64::try_from(g(&st.leases)).unwrap_or(i64::MAX)),
    );
    r.register(
        "papertwap_fenced_batches",
        "Batches of slices not written because their lease had moved to another instance",
        counter(g(&st.fenced)),
    );
    let closed = Family::<StatusLabels, Counter>::default();
    for (status, a) in [
        ("filled", &st.filled),
        ("expired", &st.expired),
        ("cancelled", &st.cancelled),
    ] {
        closed.get_or_create(&StatusLabels { status }).inc_by(g(a));
    }
    r.register(
        "papertwap_orders_closed",
        "Orders that reached a final state since start",
        closed,
    );
    let slices = Family::<ResultLabels, Counter>::default();
    for (result, a) in [
        ("executed", &st.slices_done),
        ("skipped", &st.slices_skipped),
    ] {
        slices.get_or_create(&ResultLabels { result }).inc_by(g(a));
    }
    r.register("papertwap_slices", "Slices stored since start", slices);
    r.register(
        "papertwap_http_request_duration_seconds",
        "HTTP request latency by route",
        state.http_metrics.by_route.clone(),
    );
    let mut o = String::with_capacity(8 * 1024);
    if let Err(e) = prometheus_client::encoding::text::encode(&mut o, &r) {
        return HttpResponse::InternalServerError().body(e.to_string());
    }
    HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(o)
}
