//! Tests of the `papertwap-server` binary itself: start-up on port 0, the logged address,
//! graceful SIGTERM, and configuration errors that name their key.

mod cluster;
mod crash;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// xorshift: the kill moments and disruptions are random but reproducible from the seed.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A token for the demo user from the server at `addr`.
pub(crate) async fn token(http: &reqwest::Client, addr: &str) -> String {
    let v: serde_json::Value = http
        .post(format!("http://{addr}/token"))
        .form(&[("username", "premium"), ("password", "CryptoTWAPpremium")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_owned()
}

/// The tests that run several server processes hold this, so that they do not run at once:
/// each measures its processes' timing (a take-over within 2 × TTL) on two cores.
pub(crate) static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn server() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_papertwap-server"));
    // A clean environment for configuration: only what each test sets.
    for (k, _) in std::env::vars() {
        if k.starts_with("PAPERTWAP_") || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

/// Start the server on port 0 with JSON logs and return it with the address it logged (as
/// a structured field; every line before it must be JSON).
pub(crate) fn spawn_logged(mut cmd: Command) -> (std::process::Child, String) {
    let mut child = cmd
        .env("PAPERTWAP_SERVER__BIND", "127.0.0.1:0")
        .env("PAPERTWAP_LOG__FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("server logged its address in time");
        let v: serde_json::Value = serde_json::from_str(&line).expect("json log line");
        if let Some(a) = v["fields"]["address"].as_str() {
            break a.to_owned();
        }
    };
    (child, addr)
}

#[test]
fn starts_on_port_zero_logs_the_address_serves_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = server();
    cmd.current_dir(dir.path())
        .env("PAPERTWAP_EXCHANGES__BINANCE__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__KRAKEN__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__BYBIT__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__OKX__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__COINBASE__ENABLED", "false")
        .env("PAPERTWAP_EXCHANGES__BITSTAMP__ENABLED", "false");
    let (mut child, addr) = spawn_logged(cmd);
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        let body: serde_json::Value = http
            .get(format!("http://{addr}/orderbook/sim/BTCUSDT"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["symbol"], "BTC-USDT");
        assert_eq!(body["bids"].as_array().unwrap().len(), 10);
    });
    // The database was created in the working directory by default.
    assert!(dir.path().join("papertwap.db").exists());

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "graceful exit, got {exit:?}");
}

#[test]
fn bad_configuration_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (k, v, key) in [
        ("PAPERTWAP_SERVER__BIND", "not-an-address", "server.bind"),
        ("PAPERTWAP_AUTH__JWT_SECRET", "too-short", "auth.jwt_secret"),
        (
            "PAPERTWAP_MARKET__RELEASE_AFTER_SECS",
            "0",
            "market.release_after_secs",
        ),
    ] {
        let out = server().current_dir(dir.path()).env(k, v).output().unwrap();
        assert!(!out.status.success(), "{k}={v} must refuse to start");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key),
            "{k}={v}: stderr `{err}` should name `{key}`"
        );
    }
    let out = server()
        .current_dir(dir.path())
        .args(["--config", "/nonexistent/papertwap.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

#[test]
fn users_subcommands_manage_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("u.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = server();
        c.env("PAPERTWAP_STORE__URL", &db).args(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        } else {
            drop(child.stdin.take());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(
        &[
            "users",
            "add",
            "alice",
            "--password",
            "pw-alice-1",
            "--tier",
            "premium",
        ],
        None,
    );
    assert!(ok && out.contains("added user alice"), "{out}");
    let (ok, _, err) = run(&["users", "add", "alice", "--password", "x"], None);
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run(
        &["users", "add", "bob", "--password", &"x".repeat(73)],
        None,
    );
    assert!(!ok && err.contains("72 bytes"), "{err}");
    let (ok, _, _) = run(
        &["users", "add", "bob", "--password-stdin"],
        Some("pw-bob-1\n"),
    );
    assert!(ok);
    let (ok, out, _) = run(&["users", "list"], None);
    assert!(
        ok && out.contains("alice\tpremium") && out.contains("bob\tbasic"),
        "{out}"
    );
    assert!(!out.contains("pw-"), "passwords are never printed");
    let (ok, out, _) = run(&["users", "passwd", "bob", "--password", "pw-bob-2"], None);
    assert!(ok && out.contains("password changed"), "{out}");
    let (ok, out, _) = run(&["users", "remove", "bob"], None);
    assert!(ok && out.contains("removed user bob"), "{out}");
    let (ok, _, err) = run(&["users", "remove", "bob"], None);
    assert!(!ok && err.contains("no user bob"), "{err}");
}
