//! `GET /ws`: authenticated book frames at fixed intervals, consolidated books and the user's
//! order updates on one socket (protocol in docs/WEBSOCKET.md).
//!
//! One task per connection. Book frames are produced at wall-clock-aligned ticks of their
//! interval from the hub's latest snapshot (never a backlog: a slow reader simply gets the
//! newest book at a later tick), serialized once per (book, depth, tick) for every
//! subscriber, and queued by one group per worker and key (`ws::fanout`); a client that stops
//! reading for 10 s is closed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use bytestring::ByteString;
use model::{ExchangeId, Symbol};

use crate::error::ApiError;
use crate::state::AppState;

mod conn;
mod fanout;
mod frames;
mod subscription;

use conn::run;

/// WebSocket limits and defaults.
#[derive(Debug, Clone)]
pub struct WsConfig {
    /// Book interval when a subscription gives none.
    pub default_interval_ms: u64,
    /// Subscriptions per connection.
    pub max_subscriptions: usize,
    /// Open connections per user.
    pub max_connections_per_user: usize,
    /// Largest client message, bytes.
    pub max_message_bytes: usize,
    /// Time to send the first `auth` message when no header was given.
    pub auth_timeout: Duration,
    /// A send that cannot complete in this time closes the connection.
    pub send_timeout: Duration,
    /// Client messages per second, sustained.
    pub max_messages_per_second: u32,
    /// Client messages at once (bucket size); beyond it: `too_many_messages`, close 1008.
    pub message_burst: u32,
}

impl Default for WsConfig {
    fn default() -> Self {
        WsConfig {
            default_interval_ms: 1_000,
            max_subscriptions: 50,
            max_connections_per_user: 20,
            max_message_bytes: 16 * 1024,
            auth_timeout: Duration::from_secs(5),
            send_timeout: Duration::from_secs(10),
            max_messages_per_second: 50,
            message_burst: 100,
        }
    }
}

type FrameKey = (ExchangeId, Symbol, usize, u64);

/// Shared WebSocket state: limits, per-user connection counts, the frame cache.
#[derive(Debug, Default)]
pub struct WsState {
    /// Limits and defaults.
    pub config: WsConfig,
    per_user: Mutex<HashMap<i64, usize>>,
    /// Connected clients.
    pub clients: AtomicU64,
    /// Latest serialized book frame per (exchange, symbol, depth, interval): (tick ms, text).
    frames: Mutex<HashMap<FrameKey, (i64, ByteString)>>,
    /// The frame cache's size after its last sweep.
    swept_len: std::sync::atomic::AtomicUsize,
}

impl WsState {
    /// Frames cached now (for tests and metrics).
    pub fn cached_frames(&self) -> usize {
        self.frames
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// State with these limits.
    pub fn new(config: WsConfig) -> Self {
        WsState {
            config,
            ..WsState::default()
        }
    }

    fn claim(&self, uid: i64) -> bool {
        let mut m = self
            .per_user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(uid).or_insert(0);
        if *n >= self.config.max_connections_per_user {
            return false;
        }
        *n += 1;
        true
    }

    fn release(&self, uid: i64) {
        let mut m = self
            .per_user
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&uid) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&uid);
            }
        }
    }
}

/// `GET /ws`: upgrade. A bad `Authorization` header fails the upgrade with 401; without a
/// header the first message must be `{"op":"auth"}` within 5 s.
pub async fn ws(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let claims = state
        .trading
        .jwt
        .verify_request(&req)
        .transpose()
        .map_err(|e| ApiError::unauthorized("invalid_token", e.to_string()))?;
    if let Some(c) = &claims
        && !state.ws.claim(c.uid)
    {
        return Err(ApiError::TooManyRequests {
            detail: format!(
                "at most {} WebSocket connections per user",
                state.ws.config.max_connections_per_user
            ),
            retry_after: Duration::from_secs(5),
        });
    }
    let (resp, session, stream) = match actix_ws::handle(&req, body) {
        Ok(x) => x,
        Err(e) => {
            if let Some(c) = &claims {
                state.ws.release(c.uid);
            }
            return Err(ApiError::bad_request(
                "websocket_upgrade",
                format!("not a WebSocket upgrade: {e}"),
            ));
        }
    };
    let stream = stream.max_frame_size(state.ws.config.max_message_bytes);
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        state.ws.clients.fetch_add(1, Ordering::Relaxed);
        let uid = run(state.clone(), session, stream, claims).await;
        state.ws.clients.fetch_sub(1, Ordering::Relaxed);
        if let Some(uid) = uid {
            state.ws.release(uid);
        }
    });
    Ok(resp)
}
