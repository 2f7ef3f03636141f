//! The `papertwap` CLI driven as a subprocess against a real server on port 0.

use std::process::Command;

use serde_json::Value;

fn cli(server: &str, config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_papertwap"))
        .env("XDG_CONFIG_HOME", config)
        .env_remove("PAPERTWAP_TOKEN")
        .arg("--server")
        .arg(server)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn login_market_data_and_a_watched_twap() {
    let app = e2e::spawn_app().await.unwrap();
    let conf = tempfile::tempdir().unwrap();
    let server = app.base.clone();
    let run = |args: Vec<&'static str>| {
        let (s, c) = (server.clone(), conf.path().to_owned());
        tokio::task::spawn_blocking(move || cli(&s, &c, &args))
    };
    let (code, _, err) = run(vec!["orders"]).await.unwrap();
    assert_eq!(code, 4, "not logged in: {err}");
    let (code, _, err) = run(vec!["login", "--password", "wrong"]).await.unwrap();
    assert_eq!(code, 1, "{err}");
    let (code, out, err) = run(vec!["login", "--password", "CryptoTWAPpremium"])
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("logged in as premium"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(conf.path().join("papertwap/token.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (code, out, _) = run(vec!["exchanges", "--json"]).await.unwrap();
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["id"], "sim");
    let (code, out, _) = run(vec!["book", "sim", "btcusdt", "--depth", "3"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        out.contains("sim BTC-USDT") && out.contains("health live"),
        "{out}"
    );
    // Time and sales: the book above subscribed BTC-USDT, whose takers print trades.
    let (code, out, err) = run(vec![
        "trades",
        "sim",
        "BTC-USDT",
        "--watch",
        "--seconds",
        "2",
        "--limit",
        "1",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains("price") && lines.len() > 2, "{out}");
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.contains(" buy ") || l.contains(" sell ")),
        "{out}"
    );
    let (code, out, _) = run(vec!["trades", "sim", "btcusdt", "--limit", "5", "--json"])
        .await
        .unwrap();
    assert_eq!(code, 0);
    let trades: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(trades.as_array().unwrap().len(), 5, "{trades}");
    assert!(trades[0]["price"].is_string() && trades[0]["trade_id"].is_string());
    let (code, out, _) = run(vec!["pairs", "sim", "--quote", "USDT"]).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("ETH-USDT"));
    let (code, out, _) = run(vec![
        "klines",
        "sim",
        "BTC-USDT",
        "--interval",
        "5m",
        "--limit",
        "3",
        "--json",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let (code, out, err) = run(vec![
        "twap",
        "submit",
        "--symbol",
        "BTC-USDT",
        "--side",
        "buy",
        "--quantity",
        "0.2",
        "--duration",
        "3",
        "--interval",
        "1",
        "--token-id",
        "cli-1",
        "--watch",
        "--json",
    ])
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let o: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(o["status"], "filled", "{o}");
    assert_eq!(o["slices"].as_array().unwrap().len(), 3);
    let (code, out, _) = run(vec!["order", "cli-1"]).await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("cli-1") && out.contains("#2"), "{out}");
    let (code, _, err) = run(vec!["cancel", "cli-1"]).await.unwrap();
    assert_eq!(code, 1, "a filled order cannot be cancelled: {err}");
    assert!(err.contains("order_not_cancellable"), "{err}");
    let (code, _, err) = run(vec!["order", "missing"]).await.unwrap();
    assert_eq!(code, 1);
    assert!(err.contains("order_not_found"));
    let (code, _, _) = run(vec![
        "twap", "submit", "--symbol", "BTC-USDT", "--side", "buy",
    ])
    .await
    .unwrap();
    assert_eq!(code, 2, "usage error");
    // Any strategy: a preview first, then the order, then its cost analysis.
    let vwap = [
        "--strategy",
        "vwap",
        "--symbol",
        "ETH-USDT",
        "--side",
        "sell",
        "--quantity",
        "0.3",
        "--duration",
        "3",
        "--interval",
        "1",
    ];
    let (code, out, err) = run([&["preview"][..], &vwap[..]].concat()).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("vwap sim ETH-USDT"), "{out}");
    assert!(
        out.contains("share") && out.contains("square_root_law"),
        "{out}"
    );
    let (code, out, err) = run([
        &["order", "submit", "--token-id", "cli-v", "--watch"][..],
        &vwap[..],
    ]
    .concat())
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cli-v") && out.contains("filled"), "{out}");
    assert!(
        out.contains("implementation shortfall") && out.contains("total"),
        "{out}"
    );
    let (code, _, err) = run(vec![
        "order",
        "submit",
        "--strategy",
        "pov",
        "--symbol",
        "BTC-USDT",
        "--side",
        "buy",
        "--quantity",
        "1",
        "--duration",
        "60",
        "--interval",
        "10",
        "--participation",
        "0.7",
    ])
    .await
    .unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("invalid_participation"), "{err}");
    let (code, _, _) = run(vec!["order"]).await.unwrap();
    assert_eq!(code, 2, "neither a token id nor submit");
    let (code, _, _) = {
        let c = conf.path().to_owned();
        tokio::task::spawn_blocking(move || cli("http://127.0.0.1:9", &c, &["exchanges"]))
            .await
            .unwrap()
    };
    assert_eq!(code, 3, "unreachable server");
    app.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn whatif_and_backtests_from_the_command_line() {
    let app = e2e::spawn_app().await.unwrap();
    let conf = tempfile::tempdir().unwrap();
    let server = app.base.clone();
    let run = |args: Vec<String>| {
        let (s, c) = (server.clone(), conf.path().to_owned());
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&s, &c, &args)
        })
    };
    let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (code, _, err) = run(v(&["login", "--password", "CryptoTWAPpremium"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(v(&[
        "order",
        "submit",
        "--symbol",
        "BTC-USDT",
        "--side",
        "buy",
        "--quantity",
        "0.2",
        "--duration",
        "3",
        "--interval",
        "1",
        "--token-id",
        "cli-lab",
        "--watch",
        "--json",
    ]))
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let o: Value = serde_json::from_str(&out).unwrap();
    // Unchanged: the same fills; changed: a different run, side by side.
    let (code, out, err) = run(v(&["whatif", "cli-lab"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("reproduces the original fill for fill"),
        "{out}"
    );
    assert!(out.contains("original") && out.contains("what-if"), "{out}");
    let (code, out, err) = run(v(&["whatif", "cli-lab", "--slices", "1", "--json"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let w: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(w["simulated"], true);
    assert_eq!(w["order"]["slices"].as_array().unwrap().len(), 1);
    let (code, _, err) = run(v(&["whatif", "cli-lab", "--duration", "7200"]))
        .await
        .unwrap();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not_recorded"), "{err}");
    // A backtest on the same window, with a variant; listed and shown again.
    let start = o["start_time"].as_str().unwrap().to_owned();
    let (code, out, err) = run(v(&[
        "backtest",
        "run",
        "--symbol",
        "BTC-USDT",
        "--side",
        "sell",
        "--quantity",
        "0.2",
        "--duration",
        "2",
        "--interval",
        "1",
        "--start",
        &start,
        "--variant",
        r#"{"interval_secs":2}"#,
        "--json",
    ]))
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let b: Value = serde_json::from_str(&out).unwrap();
    let id = b["id"].as_str().unwrap().to_owned();
    assert_eq!(b["results"].as_array().unwrap().len(), 2);
    let (code, out, err) = run(v(&["backtest", "ls"])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&id), "{out}");
    let (code, out, err) = run(v(&["backtest", "show", &id])).await.unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("base") && out.contains("interval_secs"),
        "{out}"
    );
    assert!(out.contains("shortfall bps"), "{out}");
    let (code, _, err) = run(v(&[
        "backtest",
        "run",
        "--symbol",
        "BTC-USDT",
        "--side",
        "sell",
        "--quantity",
        "0.2",
        "--duration",
        "2",
        "--interval",
        "1",
        "--start",
        &start,
        "--variant",
        "{nope",
    ]))
    .await
    .unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--variant #0"), "{err}");
}
