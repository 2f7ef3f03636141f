//! Rate limits per tier and route group, on `governor` (GCRA) behind a small middleware of
//! ours (`actix-governor` is GPL-3.0; this project is MIT OR Apache-2.0).
//!
//! Anonymous callers are keyed by IP (the peer address, or the left-most `X-Forwarded-For`
//! entry when the peer is a configured trusted proxy), authenticated ones by user id. Every
//! limited response carries `x-ratelimit-limit`, `x-ratelimit-remaining` and
//! `x-ratelimit-reset`; a refused one is a 429 problem with `Retry-After`. `/health`,
//! `/metrics`, `/docs`, `/redoc`, `/openapi.json` and `/ui` are not limited here. A `/ws`
//! upgrade counts as one market-data request (a reconnect loop is a request flood).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;
use crate::state::AppState;

/// Route groups with their own budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Market data: `/`, `/exchanges…`, `/klines…`, `/trades…`, `/orderbook…`.
    Market,
    /// Orders: `/orders…`.
    Orders,
    /// `POST /token`, per IP.
    Token,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// No valid token: by IP.
    Ip(IpAddr),
    /// A user, by id.
    User(i64),
}

/// Budgets in requests per minute.
#[derive(Debug, Clone)]
pub struct LimitConfig {
    /// Anonymous callers, per IP: (market, orders).
    pub anonymous: (u32, u32),
    /// Basic users: (market, orders).
    pub basic: (u32, u32),
    /// Premium users: (market, orders).
    pub premium: (u32, u32),
    /// `POST /token` attempts per IP.
    pub token_per_ip: u32,
    /// `POST /token` attempts per username.
    pub token_per_username: u32,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            anonymous: (60, 60),
            basic: (300, 300),
            premium: (1_200, 1_200),
            token_per_ip: 10,
            token_per_username: 5,
            trusted_proxies: Vec::new(),
        }
    }
}

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock, StateInformationMiddleware>;

struct Limiter<K: std::hash::Hash + Eq + Clone> {
    per_minute: u32,
    inner: Keyed<K>,
}

fn quota(per_minute: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    fn new(per_minute: u32) -> Self {
        Limiter {
            per_minute,
            inner: RateLimiter::keyed(quota(per_minute))
                .with_middleware::<StateInformationMiddleware>(),
        }
    }

    /// `Ok((limit, remaining, reset))` or `Err((limit, retry_after))`.
    fn check(&self, key: &K) -> Result<(u32, u32, Duration), (u32, Duration)> {
        let per_token = Duration::from_secs(60) / self.per_minute.max(1);
        match self.inner.check_key(key) {
            Ok(s) => {
                let remaining = s.remaining_burst_capacity();
                Ok((
                    self.per_minute,
                    remaining,
                    per_token * (self.per_minute - remaining.min(self.per_minute)),
                ))
            }
            Err(not_until) => Err((
                self.per_minute,
                not_until.wait_time_from(DefaultClock::default().now()),
            )),
        }
    }

    fn clean(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }
}

/// Every limiter of the server.
pub struct RateLimits {
    config: LimitConfig,
    // [tier][group] for market and orders; tier 0 anonymous, 1 basic, 2 premium.
    by_caller: [[Limiter<Caller>; 2]; 3],
    token_ip: Limiter<IpAddr>,
    token_user: Limiter<String>,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("config", &self.config)
            .finish()
    }
}

impl RateLimits {
    /// Limiters for `config`, with a background task dropping idle keys every minute (it
    /// ends when the limiters are dropped).
    pub fn new(config: LimitConfig) -> Arc<Self> {
        let pair = |(m, o): (u32, u32)| [Limiter::new(m), Limiter::new(o)];
        let limits = Arc::new(RateLimits {
            by_caller: [
                pair(config.anonymous),
                pair(config.basic),
                pair(config.premium),
            ],
            token_ip: Limiter::new(config.token_per_ip),
            token_user: Limiter::new(config.token_per_username),
            config,
        });
        let weak = Arc::downgrade(&limits);
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(60));
                loop {
                    tick.tick().await;
                    let Some(l) = weak.upgrade() else { break };
                    for tier in &l.by_caller {
                        for g in tier {
                            g.clean();
                        }
                    }
                    l.token_ip.clean();
                    l.token_user.clean();
                }
            });
        }
        limits
    }

    /// The caller's IP: the peer, or the left-most `X-Forwarded-For` entry when the peer is
    /// a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        match (peer, forwarded_for) {
            (Some(p), Some(xff)) if self.config.trusted_proxies.contains(&p) => xff
                .split(',')
                .next()
                .and_then(|s| s.trim().parse().ok())
                .or(Some(p)),
            (p, _) => p,
        }
    }

    fn check(
        &self,
        group: Group,
        caller: &Caller,
        tier: &str,
    ) -> Result<(u32, u32, Duration), (u32, Duration)> {
        match group {
            Group::Token => match caller {
                Caller::Ip(ip) => self.token_ip.check(ip),
                Caller::User(_) => Ok((
                    self.config.token_per_ip,
                    self.config.token_per_ip,
                    Duration::ZERO,
                )),
            },
            Group::Market | Group::Orders => {
                let t = match (caller, tier) {
                    (Caller::Ip(_), _) => 0,
                    (Caller::User(_), "premium") => 2,
                    (Caller::User(_), _) => 1,
                };
                let g = usize::from(group == Group::Orders);
                self.by_caller[t][g].check(caller)
            }
        }
    }

    /// Count one login attempt for `username`; `Err(retry_after)` when over the budget.
    pub fn login_attempt(&self, username: &str) -> Result<(), Duration> {
        self.token_user
            .check(&username.to_ascii_lowercase())
            .map(|_| ())
            .map_err(|(_, d)| d)
    }
}

fn group_of(method: &actix_web::http::Method, path: &str) -> Option<Group> {
    if path == "/token" && method == actix_web::http::Method::POST {
        return Some(Group::Token);
    }
    if path == "/orders" || path.starts_with("/orders/") {
        return Some(Group::Orders);
    }
    if path == "/"
        || path == "/ws"
        || path.starts_with("/exchanges")
        || path.starts_with("/klines/")
        || path.starts_with("/trades/")
        || path.starts_with("/orderbook/")
    {
        return Some(Group::Market);
    }
    None
}

fn header(name: &'static str, v: impl ToString) -> (HeaderName, HeaderValue) {
    (
        HeaderName::from_static(name),
        HeaderValue::from_str(&v.to_string()).unwrap_or_else(|_| HeaderValue::from_static("0")),
    )
}

fn secs_up(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The rate-limit middleware (`App::wrap(from_fn(rate_limit))`).
pub async fn rate_limit<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    let Some(group) = group_of(req.method(), req.path()) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let limits = &state.limits;
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ip = limits.client_ip(req.peer_addr().map(|a| a.ip()), xff.as_deref());
    // Verified once here; the handler's extractor reuses the result.
    let bearer = state
        .trading
        .jwt
        .verify_request(req.request())
        .and_then(Result::ok);
    let (caller, tier) = match (&bearer, group) {
        (Some(c), Group::Market | Group::Orders) => (Caller::User(c.uid), c.tier.clone()),
        _ => match ip {
            Some(ip) => (Caller::Ip(ip), "anonymous".to_owned()),
            None => {
                return next
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body);
            }
        },
    };
    match limits.check(group, &caller, &tier) {
        Ok((limit, remaining, reset)) => {
            let mut res = next.call(req).await?;
            let h = res.headers_mut();
            for (k, v) in [
                header("x-ratelimit-limit", limit),
                header("x-ratelimit-remaining", remaining),
                header("x-ratelimit-reset", secs_up(reset)),
            ] {
                h.insert(k, v);
            }
            Ok(res.map_into_left_body())
        }
        Err((limit, wait)) => {
            let err = ApiError::TooManyRequests {
                detail: format!(
                    "rate limit of {limit} requests per minute reached for this {}; retry in {} s",
                    match caller {
                        Caller::Ip(_) => "address",
                        Caller::User(_) => "user",
                    },
                    secs_up(wait).max(1)
                ),
                retry_after: wait,
            };
            let mut resp = err.error_response();
            let h = resp.headers_mut();
            for (k, v) in [
                header("x-ratelimit-limit", limit),
                header("x-ratelimit-remaining", 0),
                header("x-ratelimit-reset", secs_up(wait).max(1)),
            ] {
                h.insert(k, v);
            }
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_per_caller_and_forwarded_for_only_from_trusted_proxies() {
        let l = RateLimits::new(LimitConfig {
            anonymous: (3, 3),
            trusted_proxies: vec!["10.0.0.1".parse().unwrap()],
            ..LimitConfig::default()
        });
        let a = Caller::Ip("1.2.3.4".parse().unwrap());
        let b = Caller::Ip("5.6.7.8".parse().unwrap());
        for left in [2, 1, 0] {
            assert_eq!(l.check(Group::Market, &a, "anonymous").unwrap().1, left);
        }
        let (limit, wait) = l.check(Group::Market, &a, "anonymous").unwrap_err();
        assert_eq!(limit, 3);
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20));
        assert!(
            l.check(Group::Market, &b, "anonymous").is_ok(),
            "another IP has its own budget"
        );
        assert!(
            l.check(Group::Orders, &a, "anonymous").is_ok(),
            "another group has its own budget"
        );
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            l.client_ip(Some(peer), Some("9.9.9.9, 10.0.0.1")),
            Some("9.9.9.9".parse().unwrap())
        );
        assert_eq!(
            l.client_ip(Some(other), Some("9.9.9.9")),
            Some(other),
            "untrusted peers cannot spoof"
        );
        for _ in 0..5 {
            assert!(l.login_attempt("Alice").is_ok());
        }
        assert!(
            l.login_attempt("alice").is_err(),
            "per username, case-insensitively"
        );
        assert!(l.login_attempt("bob").is_ok());
    }
}
