//! What the lab's recorder costs the whole ingest path: the hub following N simulated books
//! (each updated every `--interval-ms`), the process's CPU time measured over `--secs`, first
//! without recording, then with the server's recorder writing every event to tapes.
//!
//! `cargo run --release -p papertwap-tools --bin record-load -- --books 200 --interval-ms 5 --secs 10 --rounds 5`
//!
//! "Ingest" here is everything the process does to keep the books: the simulated venue
//! generating events (in place of the network and the parser), the hub applying them and
//! publishing snapshots. The recorder's share is the CPU the second phase adds.
//!
//! `--paired` runs each round's two phases at the same time, in two child processes (this
//! tool with `--only without` and `--only with`), so that what the shared machine does to one
//! (frequency, other tenants) it does to the other: the difference is the recorder's, not the
//! machine's drift between two phases run one after the other.
//!
//! `--venue binance` follows a Binance venue on loopback instead (testkit's mock in a child
//! process of its own, `--books` symbols each sent a diff-depth frame of one to four levels
//! every `--interval-ms` and a trade every fourth): then "ingest" is the whole of a live
//! venue's path in the measured process — socket reads, frame parsing, update-id sync, apply,
//! publish — and the venue's own work is not counted.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use market::{Exchange, Hub, HubConfig};
use model::{ExchangeId, Timestamp};
use papertwap_tools::binance_feed;
use sim::{SimConfig, SimExchange};
use tokio_util::sync::CancellationToken;

#[derive(Parser, Debug)]
struct Args {
    /// Books followed (the sim's 4 markets plus synthetic copies of BTC-USDT).
    #[arg(long, default_value_t = 50)]
    books: usize,
    /// Time between two updates of each book, ms.
    #[arg(long, default_value_t = 10)]
    interval_ms: u64,
    /// Seconds measured per phase.
    #[arg(long, default_value_t = 20)]
    secs: u64,
    /// Rounds of (without, with) phases, alternating; the median share is reported (the
    /// machine's noise is of the order of the share measured).
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Run one phase only (`with` or `without` recording), for a profiler.
    #[arg(long)]
    only: Option<String>,
    /// Run each round's two phases at the same time, in two child processes.
    #[arg(long)]
    paired: bool,
    /// The venue followed.
    #[arg(long, value_enum, default_value_t = Venue::Sim)]
    venue: Venue,
    /// The Binance mock's stream endpoint (set by the tool for its children).
    #[arg(long, hide = true)]
    ws_url: Option<String>,
    /// The Binance mock's REST origin (set by the tool for its children).
    #[arg(long, hide = true)]
    rest_url: Option<String>,
    /// Serve the Binance mock for `--secs` seconds (the tool's venue child).
    #[arg(long, hide = true)]
    serve_binance: bool,
}

/// What the hub follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Venue {
    /// The in-process simulated exchange (its event generation counts as ingest).
    Sim,
    /// Binance's protocol from a mock in another process.
    Binance,
}

impl Venue {
    fn id(self) -> ExchangeId {
        match self {
            Venue::Sim => ExchangeId::Sim,
            Venue::Binance => ExchangeId::Binance,
        }
    }
}

/// Run this tool as a child for one phase; its CPU in cores.
fn child(args: &Args, only: &str) -> anyhow::Result<std::process::Child> {
    Ok(std::process::Command::new(std::env::current_exe()?)
        .args([
            "--books",
            &args.books.to_string(),
            "--interval-ms",
            &args.interval_ms.to_string(),
            "--secs",
            &args.secs.to_string(),
            "--only",
            only,
            "--venue",
            match args.venue {
                Venue::Sim => "sim",
                Venue::Binance => "binance",
            },
        ])
        .args(
            [("--ws-url", &args.ws_url), ("--rest-url", &args.rest_url)]
                .into_iter()
                .filter_map(|(flag, v)| v.as_ref().map(|v| [flag, v.as_str()]))
                .flatten(),
        )
        .stdout(std::process::Stdio::piped())
        .spawn()?)
}

/// A child process killed when dropped.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start this tool as the Binance venue for `secs` seconds; the child and its two URLs.
fn venue_child(args: &Args, secs: u64) -> anyhow::Result<(Killed, String, String)> {
    use std::io::BufRead;
    let mut child = Killed(
        std::process::Command::new(std::env::current_exe()?)
            .args(["--serve-binance", "--books", &args.books.to_string()])
            .args(["--interval-ms", &args.interval_ms.to_string()])
            .args(["--secs", &secs.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()?,
    );
    let out = child
        .0
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("the venue child has no output"))?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    let Some((ws, rest)) = line.trim().split_once(' ') else {
        anyhow::bail!("the venue child did not start: {line:?}");
    };
    Ok((child, ws.to_owned(), rest.to_owned()))
}

/// The cores a child reported (`… recording: 0.169 cores, …`); its line is printed.
fn cores_of(c: std::process::Child) -> anyhow::Result<f64> {
    let out = c.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(out.status.success(), "a phase failed: {text}");
    print!("  {text}");
    text.split_once(": ")
        .and_then(|(_, r)| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("unreadable phase output: {text}"))
}

/// CPU seconds this process's threads have run, in ns resolution (`/proc/self/task/*/schedstat`;
/// `/proc/self/stat` counts 10 ms ticks, too coarse for a few per cent of a tenth of a core).
/// The threads measured live through the window (the runtime's workers, the feed's).
fn cpu_secs() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    let ns: u64 = tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e9
}

async fn phase(args: &Args, record: bool) -> anyhow::Result<(f64, u64, u64)> {
    let dir = tempfile::tempdir()?;
    let (venue, symbols): (Arc<dyn Exchange>, Vec<String>) = match args.venue {
        Venue::Sim => {
            let (specs, symbols) = papertwap_tools::sim_books(args.books);
            let sim = SimExchange::with_specs(
                SimConfig {
                    update_interval: Duration::from_millis(args.interval_ms),
                    history_minutes: 0,
                    ..SimConfig::default()
                },
                specs,
                Timestamp::now(),
            )?;
            (Arc::new(sim), symbols)
        }
        Venue::Binance => {
            let (Some(ws), Some(rest)) = (&args.ws_url, &args.rest_url) else {
                anyhow::bail!("--venue binance: no mock to follow");
            };
            let (_, symbols) = binance_feed::symbols(args.books);
            (binance_feed::exchange(ws, rest)?, symbols)
        }
    };
    let id = args.venue.id();
    let stop_recorder = CancellationToken::new();
    let recorder = if record {
        Some(papertwap_server::recorder::start(
            dir.path().join("tapes"),
            7,
            stop_recorder.clone(),
        )?)
    } else {
        None
    };
    let shutdown = CancellationToken::new();
    let hub = Hub::start(
        HubConfig {
            default_symbols: [(id, symbols.clone())].into(),
            recorder: recorder
                .as_ref()
                .map(|r| r.recorders.clone() as Arc<dyn market::RecorderFactory>),
            ..HubConfig::default()
        },
        vec![venue],
        shutdown.child_token(),
    );
    hub.pairs_within(id, Duration::from_secs(10)).await?;
    // Every book live (30 s at most), and two seconds more, before measuring.
    let live = || {
        symbols
            .iter()
            .filter(|s| {
                hub.snapshot(id, s)
                    .is_ok_and(|b| b.health.state == model::BookState::Live)
            })
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while live() < symbols.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let n = live();
    anyhow::ensure!(
        n == symbols.len(),
        "{n} of {} books live after 30 s",
        symbols.len()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let messages = || {
        hub.exchanges()
            .iter()
            .find(|e| e.id == id)
            .map_or(0, |e| e.messages)
    };
    let (m0, c0, t0) = (messages(), cpu_secs(), Instant::now());
    tokio::time::sleep(Duration::from_secs(args.secs)).await;
    let (m1, c1, wall) = (messages(), cpu_secs(), t0.elapsed().as_secs_f64());
    shutdown.cancel();
    hub.wait().await;
    let mut bytes = 0;
    if let Some(r) = recorder {
        stop_recorder.cancel();
        let dropped = r.dropped();
        let _ = r.task.await;
        anyhow::ensure!(dropped == 0, "the recorder dropped {dropped} blocks");
        bytes = tape::dir::list(dir.path().join("tapes"))?
            .iter()
            .map(|f| f.bytes)
            .sum();
    }
    Ok(((c1 - c0) / wall, (m1 - m0) / args.secs.max(1), bytes))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = Args::parse();
    if args.serve_binance {
        return binance_feed::serve(
            args.books,
            Duration::from_millis(args.interval_ms),
            args.secs,
        )
        .await;
    }
    // The Binance venue runs in a child of its own for the whole measurement.
    let _venue = match (args.venue, &args.ws_url) {
        (Venue::Binance, None) => {
            let phases = if args.paired { 1 } else { 2 };
            let secs = (args.secs + 40) * phases * args.rounds.max(1) as u64 + 30;
            let (venue, ws, rest) = venue_child(&args, secs)?;
            (args.ws_url, args.rest_url) = (Some(ws), Some(rest));
            Some(venue)
        }
        _ => None,
    };
    if let Some(only) = &args.only {
        let (cpu, rate, bytes) = phase(&args, only == "with").await?;
        println!("{only} recording: {cpu:.3} cores, {rate} book events/s, {bytes} bytes of tape");
        return Ok(());
    }
    let mut shares = Vec::new();
    if args.paired {
        for round in 1..=args.rounds.max(1) {
            let (off, on) = (child(&args, "without")?, child(&args, "with")?);
            let (off, on) = (cores_of(off)?, cores_of(on)?);
            let share = (on - off) / off * 100.0;
            println!(
                "round {round} (phases side by side): CPU {off:.3} cores without, {on:.3} with: {share:+.1} %"
            );
            shares.push(share);
        }
        shares.sort_by(f64::total_cmp);
        println!(
            "the recorder adds {:.1} % to the ingest path's CPU (median of {} paired rounds of {} s; venue {:?}, {} books, an update each every {} ms)",
            shares[shares.len() / 2],
            shares.len(),
            args.secs,
            args.venue,
            args.books,
            args.interval_ms
        );
        return Ok(());
    }
    for round in 1..=args.rounds.max(1) {
        let (off, rate, _) = phase(&args, false).await?;
        let (on, rate_on, bytes) = phase(&args, true).await?;
        let share = (on - off) / off * 100.0;
        println!(
            "round {round}: {} books, an update each every {} ms: {rate} book events/s without recording, {rate_on} with; CPU {off:.3} cores without, {on:.3} with: {share:+.1} %; {bytes} bytes of tape",
            args.books, args.interval_ms
        );
        shares.push(share);
    }
    shares.sort_by(f64::total_cmp);
    println!(
        "the recorder adds {:.1} % to the ingest path's CPU (median of {} rounds of {} s per phase)",
        shares[shares.len() / 2],
        shares.len(),
        args.secs
    );
    Ok(())
}
