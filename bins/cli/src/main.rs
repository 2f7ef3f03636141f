//! `papertwap`: the command-line client for a papertwap server.
//!
//! # Invariant
//! Talks to the server only through `papertwap-client`, so everything it does is something
//! any SDK user can do. Its commands arrive with issue 6/8.

use clap::Parser;

/// papertwap command-line client (commands arrive in a later release; see the README).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Server base URL.
    #[arg(long, env = "PAPERTWAP_URL", default_value = "http://127.0.0.1:8000")]
    server: String,
}

fn main() {
    let _cli = Cli::parse();
}
