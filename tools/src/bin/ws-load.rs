//! WebSocket fan-out load: N authenticated connections, each subscribed to a top-N book at a
//! fixed interval; measures delivery lag (receive time − the frame's `ts`, the instant the
//! server produced it) and counts frames per connection.
//!
//! Use `scripts/ws-load.sh` (starts the release server, raises fd limits, samples RSS), or:
//! `ws-load --url ws://127.0.0.1:8000/ws --token T --connections 5000 --seconds 30`
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use papertwap_tools::percentiles;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Bytes read from a socket at a time (several book frames).
const READ_BUFFER: usize = 8 * 1024;

#[derive(Parser, Debug, Clone)]
struct Args {
    /// The server's `/ws` URL.
    #[arg(long)]
    url: String,
    /// Bearer token.
    #[arg(long)]
    token: String,
    /// Connections.
    #[arg(long, default_value_t = 5_000)]
    connections: usize,
    /// Measured seconds (after every connection is subscribed).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Exchange and symbol to subscribe.
    #[arg(long, default_value = "sim")]
    exchange: String,
    /// Symbol.
    #[arg(long, default_value = "BTC-USDT")]
    symbol: String,
    /// Levels per side.
    #[arg(long, default_value_t = 10)]
    depth: u32,
    /// Frame interval, ms.
    #[arg(long, default_value_t = 1_000)]
    interval_ms: u64,
    /// Connections opened concurrently while ramping up.
    #[arg(long, default_value_t = 250)]
    ramp: usize,
    /// The server's process id: its CPU time over the measured window is reported (Linux).
    #[arg(long)]
    server_pid: Option<u32>,
}

/// A process's user + system CPU time so far, seconds (Linux `/proc/<pid>/stat`).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

struct Outcome {
    lags_ms: Vec<f64>,
    frames: usize,
    error: Option<String>,
}

fn now_ms() -> f64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_secs_f64() * 1e3
}

/// One connection: connect, subscribe, say ready, then read until `stop`, recording the lag
/// of every book frame received inside the measuring window.
async fn one(
    args: Args,
    ready: tokio::sync::mpsc::Sender<()>,
    window: tokio::sync::watch::Receiver<Option<(f64, f64)>>,
    stop: tokio_util::sync::CancellationToken,
) -> Outcome {
    let mut out = Outcome {
        lags_ms: Vec::new(),
        frames: 0,
        error: None,
    };
    let mut req = match args.url.as_str().into_client_request() {
        Ok(r) => r,
        Err(e) => {
            out.error = Some(e.to_string());
            let _ = ready.send(()).await;
            return out;
        }
    };
    if let Ok(v) = format!("Bearer {}", args.token).parse() {
        req.headers_mut().insert("authorization", v);
    }
    let mut ws = match tokio::time::timeout(
        Duration::from_secs(30),
        // tungstenite zero-fills `read_buffer_size` bytes (128 KiB by default) before every
        // read: at 5 000 frames a tick that memset was two thirds of this tool's CPU (perf),
        // so the client measured itself more than the server. A book frame is about 1 KiB.
        tokio_tungstenite::connect_async_with_config(
            req,
            Some(WebSocketConfig::default().read_buffer_size(READ_BUFFER)),
            false,
        ),
    )
    .await
    {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(e)) => {
            out.error = Some(format!("connect: {e}"));
            let _ = ready.send(()).await;
            return out;
        }
        Err(_) => {
            out.error = Some("connect timed out".into());
            let _ = ready.send(()).await;
            return out;
        }
    };
    let sub = serde_json::json!({"op": "subscribe", "channel": "book", "exchange": args.exchange,
        "symbol": args.symbol, "depth": args.depth, "interval_ms": args.interval_ms});
    if ws.send(Message::text(sub.to_string())).await.is_err() {
        out.error = Some("subscribe failed".into());
    }
    let _ = ready.send(()).await;
    loop {
        let m = tokio::select! {
            m = ws.next() => m,
            _ = stop.cancelled() => break,
        };
        let t = match m {
            Some(Ok(Message::Text(t))) => t,
            Some(Ok(Message::Close(c))) => {
                out.error = Some(format!(
                    "closed by the server: {}",
                    c.map(|c| format!("{} {}", c.code, c.reason))
                        .unwrap_or_default()
                ));
                break;
            }
            Some(Err(e)) => {
                out.error = Some(format!("read error: {e}"));
                break;
            }
            None => {
                out.error = Some("connection ended".into());
                break;
            }
            Some(Ok(_)) => continue,
        };
        let recv = now_ms();
        let Some((start, end)) = *window.borrow() else {
            continue;
        };
        if recv < start || recv > end {
            continue;
        }
        // Book frames start with {"type":"book"; the `ts` value is found without parsing the
        // whole frame, so the measuring client stays cheap next to the server it measures.
        if !t.starts_with(r#"{"type":"book""#) {
            continue;
        }
        let ts = t
            .find(r#""ts":""#)
            .and_then(|i| t[i + 6..].split('"').next())
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
        if let Some(ts) = ts {
            out.lags_ms.push(recv - ts.timestamp_micros() as f64 / 1e3);
            out.frames += 1;
        }
    }
    let _ = ws.close(None).await;
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let t0 = Instant::now();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.connections.max(1));
    let (window_tx, window_rx) = tokio::sync::watch::channel(None::<(f64, f64)>);
    let stop = tokio_util::sync::CancellationToken::new();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(args.ramp.max(1)));
    let mut handles = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (a, tx, w, st, sem) = (
            args.clone(),
            ready_tx.clone(),
            window_rx.clone(),
            stop.clone(),
            sem.clone(),
        );
        handles.push(tokio::spawn(async move {
            // Bound concurrent handshakes while ramping up.
            let permit = sem.acquire_owned().await;
            let (inner_tx, mut inner_rx) = tokio::sync::mpsc::channel(1);
            let run = one(a, inner_tx, w, st);
            tokio::pin!(run);
            let out = tokio::select! {
                _ = inner_rx.recv() => None,
                o = &mut run => Some(o),
            };
            drop(permit);
            let _ = tx.send(()).await;
            match out {
                Some(o) => o,
                None => run.await,
            }
        }));
    }
    drop(ready_tx);
    let mut ready = 0usize;
    let ramp_limit = Duration::from_secs(180);
    while ready < args.connections {
        match tokio::time::timeout(ramp_limit.saturating_sub(t0.elapsed()), ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            _ => break,
        }
    }
    println!(
        "{ready}/{} connections subscribed in {:.1} s",
        args.connections,
        t0.elapsed().as_secs_f64()
    );
    // Let every subscription settle onto the interval grid, then measure.
    tokio::time::sleep(Duration::from_millis(2 * args.interval_ms)).await;
    let start = now_ms();
    let _ = window_tx.send(Some((start, start + args.seconds as f64 * 1e3)));
    let cpu_before = args.server_pid.and_then(cpu_seconds);
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let cpu = args
        .server_pid
        .and_then(cpu_seconds)
        .zip(cpu_before)
        .map(|(after, before)| after - before);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let mut lags = Vec::new();
    let mut frames = Vec::new();
    let mut errors: std::collections::BTreeMap<String, usize> = Default::default();
    for h in handles {
        if let Ok(Ok(o)) = tokio::time::timeout(Duration::from_secs(30), h).await {
            frames.push(o.frames);
            lags.extend(o.lags_ms);
            if let Some(e) = o.error {
                *errors.entry(e).or_default() += 1;
            }
        }
    }
    let (p50, p99, max) = percentiles(&lags);
    let expected = (args.seconds * 1_000 / args.interval_ms.max(1)) as usize;
    let short = frames.iter().filter(|f| **f + 1 < expected).count();
    println!(
        "frames: {} (expected about {expected} per connection over {} s)",
        lags.len(),
        args.seconds
    );
    println!(
        "delivery lag (receive − frame ts): p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms"
    );
    println!(
        "connections that missed frames: {short} of {}",
        frames.len()
    );
    if let Some(cpu) = cpu {
        let per = cpu * 1e6 / lags.len().max(1) as f64;
        println!("server CPU over the window: {cpu:.2} s, {per:.1} µs per frame delivered");
    }
    for (e, n) in errors {
        println!("errors: {n} × {e}");
    }
    Ok(())
}
