//! Abuse load (issue 8/8): how much do abusive clients cost everyone else?
//!
//! A fixed-rate load of well-behaved authenticated requests (open loop: latency counted from
//! each request's scheduled time, so a stall is never hidden) runs alone, then beside each
//! abuse in turn — slow request heads, slow chunked bodies, oversized bodies, oversized request
//! lines, WebSocket subscription floods, login floods — and the tool prints, per phase, the
//! well-behaved clients' p50/p99 and the p99 ratio to the baseline, with what the abusers were
//! answered. `scripts/abuse-load.sh` starts a release server and runs it.
//!
//! Every loop is bounded by the phase's duration and stops by itself.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use papertwap_tools::percentiles;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Debug)]
#[command(about = "Well-behaved clients' latency while abusive clients attack the server")]
struct Args {
    /// Server address, host:port.
    #[arg(long)]
    addr: String,
    /// Bearer token of the user the well-behaved clients (and the WS flood) use.
    #[arg(long)]
    token: String,
    /// Path the well-behaved clients GET.
    #[arg(long, default_value = "/orders/load-1")]
    path: String,
    /// Well-behaved requests per second (open loop).
    #[arg(long, default_value_t = 2_000)]
    rate: u64,
    /// Well-behaved client connections.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 15)]
    secs: u64,
    /// The server's process id, to report the CPU it spent per phase (Linux `/proc`).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Phases to run after the baseline (comma-separated), default all.
    #[arg(
        long,
        default_value = "slow-heads,slow-bodies,big-bodies,big-lines,ws-flood,login-flood"
    )]
    phases: String,
}

/// One keep-alive HTTP/1.1 GET; returns the status.
async fn get(s: &mut TcpStream, req: &[u8], buf: &mut Vec<u8>) -> anyhow::Result<u16> {
    s.write_all(req).await?;
    buf.clear();
    let mut tmp = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut tmp).await?;
        anyhow::ensure!(n > 0, "closed");
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = std::str::from_utf8(&buf[..end])?;
            let status: u16 = head.get(9..12).context("status")?.parse()?;
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = s.read(&mut tmp).await?;
                anyhow::ensure!(n > 0, "closed");
                buf.extend_from_slice(&tmp[..n]);
            }
            return Ok(status);
        }
    }
}

/// The well-behaved load for `secs`: latencies in ms (from the scheduled send time) and
/// the count of non-200 answers.
async fn measure(args: &Args, secs: u64) -> anyhow::Result<(Vec<f64>, u64)> {
    let req = format!(
        "GET {} HTTP/1.1\r\nHost: load\r\nAuthorization: Bearer {}\r\n\r\n",
        args.path, args.token
    )
    .into_bytes();
    let per_client = Duration::from_secs_f64(args.clients as f64 / args.rate as f64);
    let start = Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let req = req.clone();
        let addr = args.addr.clone();
        let offset = per_client.mul_f64(c as f64 / args.clients as f64);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut bad = 0u64;
            let mut s = TcpStream::connect(&addr).await?;
            s.set_nodelay(true)?;
            let mut buf = Vec::new();
            let mut at = start + offset;
            while at < end {
                tokio::time::sleep_until(at.into()).await;
                match get(&mut s, &req, &mut buf).await {
                    Ok(200) => {}
                    Ok(_) => bad += 1,
                    Err(_) => {
                        bad += 1;
                        s = TcpStream::connect(&addr).await?;
                        s.set_nodelay(true)?;
                    }
                }
                lat.push(at.elapsed().as_secs_f64() * 1_000.0);
                at += per_client;
            }
            anyhow::Ok((lat, bad))
        }));
    }
    let mut all = Vec::new();
    let mut bad = 0;
    for t in tasks {
        let (l, b) = t.await??;
        all.extend(l);
        bad += b;
    }
    Ok((all, bad))
}

/// Answers the abusers got, by status line or close code.
type Answers = Arc<Mutex<BTreeMap<String, u64>>>;

async fn note(answers: &Answers, what: impl Into<String>) {
    *answers.lock().await.entry(what.into()).or_default() += 1;
}

/// Send `head` (then trickle `trickle` a byte a second, if given) and return the answer's
/// first line: as soon as it arrives when `until_close` is false (a flooding client moves
/// on), else once the server closes (a slow client holds on as long as it is allowed to).
async fn abuse_raw(
    addr: &str,
    head: &[u8],
    trickle: Option<&[u8]>,
    until_close: bool,
    stop: &AtomicBool,
) -> String {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return "connect failed".into();
    };
    if s.write_all(head).await.is_err() {
        return "write failed".into();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if !until_close && out.windows(2).any(|w| w == b"\r\n") { break; }
                }
            },
            _ = tick.tick() => {
                if stop.load(Ordering::Relaxed) { return "stopped".into(); }
                if let Some(t) = trickle { let _ = s.write_all(t).await; }
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    text.lines()
        .next()
        .unwrap_or("closed without answer")
        .to_owned()
}

fn spawn_abusers(
    rt: &tokio::runtime::Handle,
    args: &Args,
    phase: &str,
    stop: Arc<AtomicBool>,
    answers: Answers,
    count: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    // (abusers, kind, attempts per second per abuser; 0 = back to back). Slow attacks hold
    // many connections; floods run at a stated rate (the attacker shares this machine's two
    // cores with the server and the measuring clients, so an unpaced flood would measure CPU
    // sharing, not the server's defences).
    let (n, kind, per_sec): (usize, &str, f64) = match phase {
        "slow-heads" => (1_000, "slow-head", 0.0),
        "slow-bodies" => (200, "slow-body", 0.0),
        "big-bodies" => (4, "big-body", 50.0),
        "big-lines" => (4, "big-line", 50.0),
        "ws-flood" => (4, "ws-flood", 25.0),
        "login-flood" => (4, "login", 250.0),
        _ => (0, "", 0.0),
    };
    (0..n)
        .map(|i| {
            // Slow attackers start spread over 5 s, as they would ramp up.
            let stagger = Duration::from_millis((i as u64 * 5_000) / n.max(1) as u64);
            let pace = (per_sec > 0.0).then(|| Duration::from_secs_f64(1.0 / per_sec));
            let (addr, token, stop, answers, count) = (
                args.addr.clone(),
                args.token.clone(),
                stop.clone(),
                answers.clone(),
                count.clone(),
            );
            let kind = kind.to_owned();
            rt.spawn(async move {
                tokio::time::sleep(stagger).await;
                let mut next = tokio::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(p) = pace {
                        tokio::time::sleep_until(next).await;
                        next += p;
                    }
                    count.fetch_add(1, Ordering::Relaxed);
                    let answer = match kind.as_str() {
                        "slow-head" => {
                            abuse_raw(&addr, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ", Some(b"a"), true, &stop).await
                        }
                        "slow-body" => {
                            abuse_raw(&addr, b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nusern\r\n", None, true, &stop).await
                        }
                        "big-body" => {
                            let head = format!("POST /orders/twap HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 300000\r\n\r\n");
                            let mut req = head.into_bytes();
                            // The server refuses on the announced length; the rest need not be sent.
                            req.extend(std::iter::repeat_n(b' ', 64 * 1024));
                            abuse_raw(&addr, &req, None, false, &stop).await
                        }
                        "big-line" => {
                            let req = format!("GET /orders?token_id={} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000));
                            abuse_raw(&addr, req.as_bytes(), None, false, &stop).await
                        }
                        "ws-flood" => ws_flood(&addr, &token).await,
                        _ => {
                            let body = "username=premium&password=wrong-guess";
                            let req = format!("POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                            abuse_raw(&addr, req.as_bytes(), None, false, &stop).await
                        }
                    };
                    note(&answers, answer).await;
                }
            })
        })
        .collect()
}

/// One socket: 10 000 subscriptions as fast as possible; the close code it gets.
async fn ws_flood(addr: &str, token: &str) -> String {
    let Ok(mut req) = format!("ws://{addr}/ws").into_client_request() else {
        return "bad url".into();
    };
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.headers_mut().insert("authorization", v);
    }
    let Ok((ws, _)) = tokio_tungstenite::connect_async(req).await else {
        return "ws connect refused".into();
    };
    let (mut tx, mut rx) = ws.split();
    let writer = tokio::spawn(async move {
        for i in 0..10_000u32 {
            let m = format!(
                r#"{{"op":"subscribe","channel":"book","exchange":"sim","symbol":"BTC-USDT","depth":{},"interval_ms":1000}}"#,
                1 + i % 100
            );
            if tx.send(Message::text(m)).await.is_err() {
                break;
            }
        }
    });
    let mut closed = "ws ended without close".to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Ok(Some(m)) = tokio::time::timeout_at(deadline.into(), rx.next()).await {
        match m {
            Ok(Message::Close(c)) => {
                closed = format!("ws close {}", c.map_or(0, |c| u16::from(c.code)));
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    writer.abort();
    closed
}

/// CPU seconds a process has used (user + system), from `/proc/<pid>/stat` (100 ticks/s,
/// Linux's USER_HZ).
fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid?)).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn summary(lat: &[f64]) -> (f64, f64) {
    let (p50, p99, _) = percentiles(lat);
    (p50, p99)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The abusers run on their own runtime thread, so their tasks never queue in front of
    // the measuring clients' (they still share this machine's cores, as any attacker would).
    let abuse_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    println!(
        "well-behaved load: GET {} at {} req/s over {} connections, {} s per phase",
        args.path, args.rate, args.clients, args.secs
    );
    let cpu0 = cpu_secs(args.server_pid);
    let (lat, bad) = measure(&args, args.secs).await?;
    let cpu = |c0: Option<f64>| match (c0, cpu_secs(args.server_pid)) {
        (Some(a), Some(b)) => format!("{:>5.0}%", (b - a) / args.secs as f64 * 100.0),
        _ => "    -".to_owned(),
    };
    let base_cpu = cpu(cpu0);
    let (b50, b99) = summary(&lat);
    println!(
        "{:<12} {:>9} {:>9} {:>9} {:>6} {:>6}  abusers' answers",
        "phase", "p50 ms", "p99 ms", "p99/base", "errors", "server CPU"
    );
    println!(
        "{:<12} {b50:>9.2} {b99:>9.2} {:>9} {bad:>6} {base_cpu}",
        "baseline", "1.00"
    );
    let mut worst = 1.0f64;
    for phase in args
        .phases
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let stop = Arc::new(AtomicBool::new(false));
        let answers: Answers = Arc::default();
        let count = Arc::new(AtomicU64::new(0));
        let abusers = spawn_abusers(
            abuse_rt.handle(),
            &args,
            phase,
            stop.clone(),
            answers.clone(),
            count.clone(),
        );
        // Let the abuse reach its steady state before measuring.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let c0 = cpu_secs(args.server_pid);
        let (lat, bad) = measure(&args, args.secs).await?;
        let phase_cpu = cpu(c0);
        stop.store(true, Ordering::Relaxed);
        for a in abusers {
            let _ = tokio::time::timeout(Duration::from_secs(15), a).await;
        }
        let (p50, p99) = summary(&lat);
        let ratio = p99 / b99.max(1e-9);
        worst = worst.max(ratio);
        let got: Vec<String> = answers
            .lock()
            .await
            .iter()
            .filter(|(k, _)| k.as_str() != "stopped")
            .map(|(k, v)| format!("{v}× {k}"))
            .collect();
        println!(
            "{phase:<12} {p50:>9.2} {p99:>9.2} {ratio:>9.2} {bad:>6} {phase_cpu}  {} attempts: {}",
            count.load(Ordering::Relaxed),
            got.join(", ")
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!("worst p99 ratio: {worst:.2}");
    abuse_rt.shutdown_background();
    Ok(())
}
