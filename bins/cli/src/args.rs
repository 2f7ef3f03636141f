//! The command line: every subcommand and flag (clap).

use clap::{Parser, Subcommand};
use papertwap_client::Decimal;

/// papertwap command-line client.
#[derive(Parser, Debug)]
#[command(version, about)]
pub(crate) struct Cli {
    /// Server base URL.
    #[arg(
        long,
        global = true,
        env = "PAPERTWAP_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    pub(crate) server: String,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Log in and keep the token (in the user's config dir, mode 0600).
    Login {
        /// User name.
        #[arg(long, default_value = "premium")]
        user: String,
        /// Password (or --password-stdin).
        #[arg(long)]
        password: Option<String>,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Exchanges and their status.
    Exchanges,
    /// An exchange's pairs.
    Pairs {
        /// Exchange id.
        exchange: String,
        /// Only pairs quoted in this asset.
        #[arg(long)]
        quote: Option<String>,
    },
    /// Candles.
    Klines {
        /// Exchange id.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// 1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 3d 1w 1M.
        #[arg(long, default_value = "1m")]
        interval: String,
        /// How many (1–1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// Public trades (time and sales); `--watch` prints new ones as they print.
    Trades {
        /// Exchange id.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// How many of the newest (1–1000).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Keep printing new trades until Ctrl-C (or for --seconds).
        #[arg(long)]
        watch: bool,
        /// Stop watching after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// The order book; `--watch` redraws a live ladder in place.
    Book {
        /// Exchange id.
        exchange: String,
        /// Symbol.
        symbol: String,
        /// Levels per side.
        #[arg(long, default_value_t = 10)]
        depth: u32,
        /// Redraw live until Ctrl-C (or for --seconds).
        #[arg(long)]
        watch: bool,
        /// Stop watching after this many seconds.
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// TWAP orders.
    Twap {
        #[command(subcommand)]
        action: TwapAction,
    },
    /// Your orders.
    Orders {
        /// open, closed or all.
        #[arg(long, default_value = "all")]
        status: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One order with its slices and analytics (`papertwap order TOKEN_ID`), or a new order
    /// of any strategy (`papertwap order submit --strategy vwap …`).
    #[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
    Order {
        /// The order's token id.
        token_id: Option<String>,
        #[command(subcommand)]
        action: Option<OrderAction>,
    },
    /// What an order would do, without placing it: its schedule, what the current book would
    /// give each slice, and a square-root-law estimate.
    Preview(OrderSpec),
    /// Cancel an order.
    Cancel {
        /// The order's token id.
        token_id: String,
    },
    /// Re-run a finished order on the market recorded during its window, with changes; shows
    /// both side by side (no changes: the re-run must reproduce the original).
    Whatif(WhatIfArgs),
    /// Backtests: an order and its variants side by side on a recorded past window.
    Backtest {
        #[command(subcommand)]
        action: BacktestAction,
    },
    /// The lab's tapes on this machine (the server's `store.tape_dir`).
    Tape {
        #[command(subcommand)]
        action: TapeAction,
    },
}

/// `papertwap whatif TOKEN_ID` and the changes to make.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct WhatIfArgs {
    /// The finished order's token id.
    pub(crate) token_id: String,
    #[command(flatten)]
    pub(crate) changes: Changes,
}

/// Changes to an order (a what-if's, a backtest variant's).
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct Changes {
    /// Seconds between slices.
    #[arg(long)]
    pub(crate) interval: Option<u64>,
    /// Number of slices (instead of --interval).
    #[arg(long, conflicts_with = "interval")]
    pub(crate) slices: Option<u64>,
    /// Total duration, seconds.
    #[arg(long)]
    pub(crate) duration: Option<u64>,
    /// Start of the window (RFC 3339; without an offset, UTC).
    #[arg(long)]
    pub(crate) start: Option<String>,
    /// End of the window (instead of --duration).
    #[arg(long, conflicts_with = "duration")]
    pub(crate) end: Option<String>,
    /// spread, next or none.
    #[arg(long)]
    pub(crate) catch_up: Option<String>,
    /// A new price cap.
    #[arg(long)]
    pub(crate) limit_price: Option<papertwap_client::Decimal>,
    /// Remove the price cap.
    #[arg(long, conflicts_with = "limit_price")]
    pub(crate) no_limit: bool,
    /// twap, vwap or pov.
    #[arg(long, value_parser = ["twap", "vwap", "pov"])]
    pub(crate) strategy: Option<String>,
    /// POV: share of the market's volume.
    #[arg(long)]
    pub(crate) participation: Option<papertwap_client::Decimal>,
    /// POV: most one slice may ask for.
    #[arg(long)]
    pub(crate) max_slice_qty: Option<papertwap_client::Decimal>,
    /// VWAP: days of klines the profile averages.
    #[arg(long)]
    pub(crate) profile_days: Option<u32>,
    /// Simulated latency, ms.
    #[arg(long)]
    pub(crate) latency_ms: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum BacktestAction {
    /// Run an order (its flags, with --start in the recorded past) and its variants.
    Run {
        #[command(flatten)]
        spec: Box<OrderSpec>,
        /// Start of the window (RFC 3339; without an offset, UTC).
        #[arg(long)]
        start: String,
        /// A variant: the changes as JSON, e.g. '{"interval_secs":5}' (repeatable).
        #[arg(long = "variant")]
        variants: Vec<String>,
    },
    /// Your backtests, newest first.
    Ls {
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One backtest, its runs side by side.
    Show {
        /// The backtest's id (`bt-…`).
        id: String,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum TapeAction {
    /// Every recorded book: its first and last hour, files and bytes.
    Ls {
        /// The tape folder.
        #[arg(long, default_value = "papertwap-tapes")]
        dir: std::path::PathBuf,
    },
    /// One book's tape with Tardis' columns (`incremental_book_L2` or `trades`), as CSV or
    /// Parquet.
    Export {
        /// The tape folder.
        #[arg(long, default_value = "papertwap-tapes")]
        dir: std::path::PathBuf,
        /// The venue (`sim`, `binance`, …).
        #[arg(long)]
        exchange: String,
        /// The canonical symbol (`BTC-USDT`).
        #[arg(long)]
        symbol: String,
        /// `book` (incremental_book_L2) or `trades`.
        #[arg(long, value_enum, default_value = "book")]
        kind: ExportKind,
        /// `csv` (Tardis' text) or `parquet` (typed: UTC timestamps, exact decimals; needs
        /// --out).
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// From this time (RFC 3339; without an offset, UTC). Book rows start with the book as
        /// it stood then.
        #[arg(long)]
        from: Option<String>,
        /// Up to this time.
        #[arg(long)]
        to: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

/// What `tape export` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportKind {
    /// Every level change (Tardis `incremental_book_L2`).
    Book,
    /// Public trades (Tardis `trades`).
    Trades,
}

/// How `tape export` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportFormat {
    /// Comma-separated text with a header.
    Csv,
    /// A Parquet file.
    Parquet,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TwapAction {
    /// Submit a TWAP order.
    Submit {
        /// Exchange id.
        #[arg(long, default_value = "sim")]
        exchange: String,
        /// Symbol.
        #[arg(long)]
        symbol: String,
        /// buy or sell.
        #[arg(long)]
        side: String,
        /// Base quantity.
        #[arg(long)]
        quantity: Decimal,
        /// Total duration, seconds.
        #[arg(long)]
        duration: u64,
        /// Seconds between slices.
        #[arg(long)]
        interval: u64,
        /// Price cap.
        #[arg(long)]
        limit_price: Option<Decimal>,
        /// spread, next or none.
        #[arg(long)]
        catch_up: Option<String>,
        /// Client order id (default: generated).
        #[arg(long)]
        token_id: Option<String>,
        /// Follow it live until it ends (Ctrl-C offers to cancel).
        #[arg(long)]
        watch: bool,
    },
}

#[derive(Subcommand, Debug)]
pub(crate) enum OrderAction {
    /// Submit an order: TWAP (optionally jittered), VWAP or POV.
    Submit {
        #[command(flatten)]
        spec: OrderSpec,
        /// Client order id (default: generated).
        #[arg(long)]
        token_id: Option<String>,
        /// Follow it live until it ends (Ctrl-C offers to cancel).
        #[arg(long)]
        watch: bool,
    },
}

/// An order of any strategy, as flags.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct OrderSpec {
    /// twap, vwap or pov.
    #[arg(long, default_value = "twap", value_parser = ["twap", "vwap", "pov"])]
    pub(crate) strategy: String,
    /// Exchange id.
    #[arg(long, default_value = "sim")]
    pub(crate) exchange: String,
    /// Symbol.
    #[arg(long)]
    pub(crate) symbol: String,
    /// buy or sell.
    #[arg(long)]
    pub(crate) side: String,
    /// Base quantity.
    #[arg(long)]
    pub(crate) quantity: Decimal,
    /// Total duration, seconds.
    #[arg(long)]
    pub(crate) duration: u64,
    /// Seconds between slices.
    #[arg(long)]
    pub(crate) interval: u64,
    /// Price cap.
    #[arg(long)]
    pub(crate) limit_price: Option<Decimal>,
    /// spread, next or none.
    #[arg(long)]
    pub(crate) catch_up: Option<String>,
    /// TWAP: seed of the jitter (turns jitter on).
    #[arg(long)]
    pub(crate) jitter_seed: Option<u64>,
    /// TWAP: how far slice times move, % of the interval (0–50).
    #[arg(long, default_value_t = 0, requires = "jitter_seed")]
    pub(crate) jitter_time_pct: u32,
    /// TWAP: how far slice sizes move, % (0–50).
    #[arg(long, default_value_t = 0, requires = "jitter_seed")]
    pub(crate) jitter_size_pct: u32,
    /// VWAP: days of klines the volume profile averages (default 7).
    #[arg(long)]
    pub(crate) profile_days: Option<u32>,
    /// POV: share of the market's volume, 0 < p ≤ 0.5.
    #[arg(long)]
    pub(crate) participation: Option<Decimal>,
    /// POV: most one slice may ask for.
    #[arg(long)]
    pub(crate) max_slice_qty: Option<Decimal>,
    /// Simulated latency, ms (each slice fills this long after it is decided).
    #[arg(long)]
    pub(crate) latency_ms: Option<u32>,
}
