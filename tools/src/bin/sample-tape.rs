//! Write the replay venue's sample tape (`crates/replay/sample/`) from the captured
//! fixtures: `cargo run -p papertwap-tools --bin sample-tape [-- OUT_DIR]`.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let root = papertwap_tools::sample_tape::workspace_root();
    let out = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("crates/replay/sample"));
    if !tape::dir::list(&out)?.is_empty() {
        // Tapes are appended to: start from an empty folder so the bytes are reproducible.
        std::fs::remove_dir_all(&out)?;
    }
    papertwap_tools::sample_tape::write(&root, &out)?;
    for f in tape::dir::list(&out)? {
        println!(
            "{} {} {} bytes: {}",
            f.exchange,
            f.symbol,
            f.bytes,
            f.path.display()
        );
    }
    Ok(())
}
