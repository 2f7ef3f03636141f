//! Request id and access log.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::{Instrument, error, info, info_span, warn};

/// The request id of the current request, in request extensions.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub(crate) String);

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn next_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SALT: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let salt = SALT.get_or_init(process_salt);
    format!(
        "{salt:08x}-{:010x}",
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A per-process prefix so ids from before and after a restart do not collide in logs.
/// Uniqueness, not secrecy, is the point: start time and an address suffice.
fn process_salt() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0);
    let local = 0u8;
    t ^ ((&local as *const u8 as usize) as u32).rotate_left(16)
}

fn acceptable(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (1..=64).contains(&s.len()).then_some(())?;
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        .then(|| s.to_owned())
}

/// Give every request an id (the caller's `X-Request-Id` when it is sane, else a new one),
/// run it inside a span carrying that id, and echo the id on the response.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable)
        .unwrap_or_else(next_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let mut res = next.call(req).instrument(span).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(X_REQUEST_ID.clone(), v);
    }
    Ok(res)
}

/// Log each request's outcome and latency; log the cause of every 5xx.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    if status >= 500 {
        let cause = res
            .response()
            .error()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default();
        error!(request_id = %id, %method, %path, status, latency_ms = ms, %cause, "request failed");
    } else if status >= 400 {
        warn!(request_id = %id, %method, %path, status, latency_ms = ms, "request rejected");
    } else {
        info!(request_id = %id, %method, %path, status, latency_ms = ms, "request");
    }
    Ok(res)
}
