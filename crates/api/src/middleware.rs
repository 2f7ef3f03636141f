//! Request id, access log, and the body guard (size and time limits on request bodies).

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

/// Log each request's outcome and latency; log the cause of every 5xx. Reads what it logs
/// from the answered request, so a request whose log line is filtered out costs nothing
/// here but a clock read.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    let r = res.request();
    let ext = r.extensions();
    let id = ext.get::<RequestId>().map_or("", |r| r.0.as_str());
    let (method, path) = (r.method(), r.path());
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
    drop(ext);
    Ok(res)
}

/// Largest request body any endpoint accepts (a batch of 100 orders is about 30 KiB).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Time a client has to deliver a request body once its head has arrived.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Read every request body up front, within [`MAX_BODY_BYTES`] and [`BODY_TIMEOUT`]: a body
/// announced or sent larger is refused with 413 before it is read, and a body trickled too
/// slowly (slowloris on the body) with 408; both close the connection. Handlers then see a
/// complete body in memory, so no handler ever waits on a slow client.
pub async fn body_guard<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<B>>, Error> {
    use actix_web::ResponseError;
    use futures_util::StreamExt;

    use crate::error::ApiError;

    let headers = req.headers();
    let declared = headers
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = headers
        .get(actix_web::http::header::TRANSFER_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if declared.unwrap_or(0) == 0 && !chunked {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let refuse = |req: ServiceRequest, e: ApiError| {
        // The HTTP layer would read an unfinished body to its end after this answer, for as
        // long as the client keeps sending (or stalling): shut the socket once the answer
        // has had a moment to leave.
        if let Some(sock) = req.conn_data::<ConnSocket>() {
            let sock = sock.0.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                let _ = sock.shutdown(std::net::Shutdown::Both);
            });
        }
        let (http, _) = req.into_parts();
        Ok(ServiceResponse::new(http, e.error_response()).map_into_right_body())
    };
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse(req, ApiError::body_too_large());
    }
    let mut payload = req.take_payload();
    let read = async {
        let mut buf = actix_web::web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::bad_request("invalid_body", format!("the request body broke off: {e}"))
            })?;
            if buf.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(ApiError::body_too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    };
    match tokio::time::timeout(BODY_TIMEOUT, read).await {
        Ok(Ok(body)) => {
            req.set_payload(actix_web::dev::Payload::from(body));
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Ok(Err(e)) => refuse(req, e),
        Err(_) => refuse(
            req,
            ApiError::RequestTimeout {
                detail: format!(
                    "the request body did not arrive within {} s",
                    BODY_TIMEOUT.as_secs()
                ),
            },
        ),
    }
}

/// A second handle on a connection's socket (a duplicated descriptor, closed with the
/// connection), so that [`body_guard`] can shut a connection whose body it refused. It costs
/// one extra file descriptor per open connection (5 000 WebSocket clients hold 10 000).
#[derive(Debug, Clone)]
pub struct ConnSocket(std::sync::Arc<std::net::TcpStream>);

/// `HttpServer::on_connect` hook: remember each TCP connection's socket as [`ConnSocket`].
pub fn remember_socket(conn: &dyn std::any::Any, ext: &mut actix_web::dev::Extensions) {
    use std::os::fd::AsFd;
    if let Some(s) = conn.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Ok(fd) = s.as_fd().try_clone_to_owned()
    {
        ext.insert(ConnSocket(std::sync::Arc::new(std::net::TcpStream::from(
            fd,
        ))));
    }
}
