//! Rate limits per tier and route group, login limits, trusted-proxy handling.

use e2e::spawn_app_with;
use serde_json::Value;

#[tokio::test]
async fn anonymous_users_and_logins_are_limited_with_headers() {
    let app = spawn_app_with(|s| {
        s.limits.anonymous.per_minute = 3;
        s.limits.basic.per_minute = 5;
        s.limits.premium.per_minute = 8;
        s.limits.token_per_ip_per_minute = 4;
        s.limits.token_per_username_per_minute = 2;
        s.limits.trusted_proxies = vec!["127.0.0.1".into()];
    })
    .await
    .unwrap();
    let get = |path: &str, xff: Option<&str>, token: Option<&str>| {
        let mut r = app.http.get(app.url(path));
        if let Some(x) = xff {
            r = r.header("x-forwarded-for", x);
        }
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };
    for left in ["2", "1", "0"] {
        let r = get("/exchanges", Some("203.0.113.7"), None).await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3");
        assert_eq!(r.headers()["x-ratelimit-remaining"], left);
        assert!(r.headers().contains_key("x-ratelimit-reset"));
    }
    let r = get("/exchanges", Some("203.0.113.7"), None).await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "{retry}");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["code"], "rate_limited");
    // Another client behind the trusted proxy has its own budget; health is never limited.
    assert_eq!(
        get("/exchanges", Some("203.0.113.8"), None)
            .await
            .unwrap()
            .status(),
        200
    );
    for _ in 0..10 {
        assert_eq!(
            get("/health", Some("203.0.113.7"), None)
                .await
                .unwrap()
                .status(),
            200
        );
    }
    // Users are limited by id and tier, not by IP: the demo user (premium) gets 8.
    let token = app.login_demo().await.unwrap();
    let mut ok = 0;
    for _ in 0..10 {
        if get("/exchanges", Some("203.0.113.7"), Some(&token))
            .await
            .unwrap()
            .status()
            == 200
        {
            ok += 1;
        }
    }
    assert_eq!(ok, 8);
    // Logins: 2 per username, then 429 even with the right password.
    assert_eq!(
        app.http
            .post(app.url("/token"))
            .header("x-forwarded-for", "198.51.100.1")
            .form(&[("username", "premium"), ("password", "CryptoTWAPpremium")])
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = app
        .http
        .post(app.url("/token"))
        .header("x-forwarded-for", "198.51.100.2")
        .form(&[("username", "premium"), ("password", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "the demo login above used one attempt already"
    );
    // Per IP: 4 attempts whatever the username.
    let mut codes = Vec::new();
    for i in 0..6 {
        let r = app
            .http
            .post(app.url("/token"))
            .header("x-forwarded-for", "198.51.100.9")
            .form(&[("username", format!("u{i}")), ("password", "x".to_owned())])
            .send()
            .await
            .unwrap();
        codes.push(r.status().as_u16());
    }
    assert_eq!(codes, [401, 401, 401, 401, 429, 429]);
    app.stop().await.unwrap();
}
