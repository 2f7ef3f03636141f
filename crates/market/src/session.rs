//! The one venue session loop every adapter runs ([`run_session`]): connect, report the
//! connection's state, resubscribe after every (re)connect, reconnect with exponential
//! backoff and full jitter, honour a venue's `Retry-After`, stop for good on a deterministic
//! refusal (HTTP 451, a bad request) instead of looping, and stop promptly on shutdown.
//! Liveness (WebSocket pings and the pong deadline) lives in the shared
//! [`crate::net::WsConn`]. Each venue supplies only its protocol ([`VenueSession`]): how to
//! open a connection, how to (re)subscribe, its frames and sync rules.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::backoff::Backoff;
use crate::error::MarketError;
use crate::exchange::{ConnState, FeedCommand, FeedContext, FeedEvent, FeedSender};

/// A venue's protocol, driven by [`run_session`].
pub trait VenueSession: Send {
    /// What the venue waits on besides commands and ticks: frames of its connection(s),
    /// results of its own background work (REST snapshots, …).
    type Event: Send;

    /// The venue's name, for logs.
    fn name(&self) -> &'static str;

    /// How often [`VenueSession::on_tick`] runs (batching subscriptions, timers).
    fn tick_every(&self) -> Duration;

    /// Open the connection. The loop has reported `connecting`; on success it reports
    /// `connected` and calls [`VenueSession::resume`].
    fn open(&mut self) -> impl Future<Output = Result<(), MarketError>> + Send;

    /// Subscribe everything again on the new connection (every book restarts its sync).
    fn resume(&mut self) -> impl Future<Output = ()> + Send;

    /// The next venue event; never resolves while there is none.
    fn next_event(&mut self) -> impl Future<Output = Self::Event> + Send;

    /// Handle one venue event; `Some(reason)` when the connection was lost (the loop
    /// reports `down` and reconnects after a backoff).
    fn on_event(&mut self, ev: Self::Event) -> impl Future<Output = Option<String>> + Send;

    /// Handle a command from the hub.
    fn on_command(&mut self, cmd: FeedCommand) -> impl Future<Output = ()> + Send;

    /// Periodic work.
    fn on_tick(&mut self) -> impl Future<Output = ()> + Send;

    /// True while a connection is open.
    fn is_connected(&self) -> bool;

    /// Close every connection (at shutdown).
    fn close(&mut self);
}

/// How a failed connection attempt is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Deterministic: retrying will not help (HTTP 451, a refused request). Stop.
    Never,
    /// Try again after this long (the venue's `Retry-After`, or the backoff's delay).
    After(Duration),
}

/// Classify a failed connection attempt: terminal errors stop the loop; a rate limit waits
/// the venue's `Retry-After`; anything else waits the backoff's next (jittered) delay.
pub fn retry_policy(e: &MarketError, backoff: &mut Backoff) -> Retry {
    match e {
        MarketError::RateLimited { retry_after, .. } => Retry::After(*retry_after),
        MarketError::Unavailable {
            retry_after: Some(d),
            ..
        } => Retry::After((*d).max(backoff.next_delay())),
        e if !e.is_retryable() => Retry::Never,
        _ => Retry::After(backoff.next_delay()),
    }
}

async fn report(events: &FeedSender, state: ConnState, error: Option<String>) {
    let _ = events.send(FeedEvent::Connection { state, error }).await;
}

/// Run `venue` until shutdown (or until the hub drops its command channel).
pub async fn run_session<V: VenueSession>(mut venue: V, ctx: FeedContext, mut backoff: Backoff) {
    let FeedContext {
        mut commands,
        events,
        shutdown,
    } = ctx;
    let mut tick = tokio::time::interval(venue.tick_every());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut retry_at: Option<Instant> = Some(Instant::now());
    let mut failed = false;
    let name = venue.name();
    loop {
        if !venue.is_connected() && !failed && retry_at.is_some_and(|t| t <= Instant::now()) {
            report(&events, ConnState::Connecting, None).await;
            match venue.open().await {
                Ok(()) => {
                    info!(venue = name, "connected");
                    backoff.reset();
                    retry_at = None;
                    report(&events, ConnState::Connected, None).await;
                    venue.resume().await;
                }
                Err(e) => match retry_policy(&e, &mut backoff) {
                    Retry::Never => {
                        warn!(venue = name, error = %e, "giving up until restart: the error is deterministic");
                        failed = true;
                        report(&events, ConnState::Failed, Some(e.to_string())).await;
                    }
                    Retry::After(d) => {
                        warn!(venue = name, error = %e, retry_in_ms = d.as_millis() as u64, "connection failed");
                        report(&events, ConnState::Down, Some(e.to_string())).await;
                        retry_at = Some(Instant::now() + d);
                    }
                },
            }
        }
        // Wake for the next attempt even when nothing else happens.
        let retry_wait = retry_at.filter(|_| !failed && !venue.is_connected());
        tokio::select! {
            _ = shutdown.cancelled() => break,
            cmd = commands.recv() => match cmd {
                Some(c) => venue.on_command(c).await,
                None => break,
            },
            ev = venue.next_event() => {
                if let Some(lost) = venue.on_event(ev).await {
                    let d = backoff.next_delay();
                    warn!(venue = name, reason = %lost, retry_in_ms = d.as_millis() as u64, "connection lost");
                    report(&events, ConnState::Down, Some(lost)).await;
                    retry_at = Some(Instant::now() + d);
                }
            }
            _ = async { match retry_wait { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {}
            _ = tick.tick() => venue.on_tick().await,
        }
    }
    venue.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::ExchangeId;

    #[test]
    fn terminal_errors_stop_and_rate_limits_wait_the_venues_time() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let refused = MarketError::Refused {
            exchange: ExchangeId::Binance,
            detail: "451".into(),
        };
        assert_eq!(retry_policy(&refused, &mut b), Retry::Never);
        let limited = MarketError::RateLimited {
            exchange: ExchangeId::Binance,
            retry_after: Duration::from_secs(42),
            banned: false,
        };
        assert_eq!(
            retry_policy(&limited, &mut b),
            Retry::After(Duration::from_secs(42))
        );
        let down = MarketError::Unavailable {
            exchange: ExchangeId::Kraken,
            reason: "connection refused".into(),
            retry_after: None,
        };
        match retry_policy(&down, &mut b) {
            Retry::After(d) => assert!(d <= Duration::from_secs(30)),
            Retry::Never => panic!("a refused TCP connection is retried"),
        }
    }
}
