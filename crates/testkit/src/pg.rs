//! A throwaway PostgreSQL for the tests that run on it: a fresh database per test, on a
//! server named by `PAPERTWAP_TEST_PG_URL` (an admin URL), or else on a cluster this test
//! process creates itself from the machine's PostgreSQL binaries (Debian's
//! `/usr/lib/postgresql/<version>/bin`, or `initdb` on the `PATH`): in a temporary folder, on
//! a free loopback port, with `fsync` off, run as the `postgres` user when the tests run as
//! root (PostgreSQL refuses root). A watchdog stops the cluster and removes its folder once
//! the test process has exited.
//!
//! Without PostgreSQL on the machine the tests that need it are skipped with a message,
//! unless `PAPERTWAP_REQUIRE_PG=1` (set by CI), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A PostgreSQL server tests may create databases on.
#[derive(Debug)]
pub struct Postgres {
    /// `postgres://user@host:port`, without a database.
    base: String,
    /// Where `createdb`/`psql` are, for a cluster of our own.
    bin: Option<PathBuf>,
}

/// The server for this test process, started on first use; `None` (after saying why) when
/// the machine has no PostgreSQL and it is not required.
///
/// # Panics
/// When PostgreSQL is required (`PAPERTWAP_REQUIRE_PG=1`) but cannot be had, or a cluster
/// found on the machine fails to start.
pub fn server() -> Option<&'static Postgres> {
    static SERVER: OnceLock<Option<Postgres>> = OnceLock::new();
    SERVER.get_or_init(start).as_ref()
}

fn required() -> bool {
    std::env::var("PAPERTWAP_REQUIRE_PG").is_ok_and(|v| v == "1")
}

fn start() -> Option<Postgres> {
    if let Ok(url) = std::env::var("PAPERTWAP_TEST_PG_URL") {
        let base = match url.rfind('/') {
            Some(i) if i > url.find("://").map_or(0, |s| s + 2) => url[..i].to_owned(),
            _ => url,
        };
        return Some(Postgres { base, bin: None });
    }
    let Some(bin) = bin_dir() else {
        assert!(
            !required(),
            "PAPERTWAP_REQUIRE_PG=1 but no PostgreSQL (initdb) on this machine"
        );
        // A test tool telling the person running the tests why part of them did not run.
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "skipping the PostgreSQL half: no PostgreSQL on this machine (apt-get install postgresql)"
            );
        }
        return None;
    };
    match own_cluster(&bin) {
        Ok(base) => Some(Postgres {
            base,
            bin: Some(bin),
        }),
        Err(e) => panic!(
            "cannot start a throwaway PostgreSQL from {}: {e}",
            bin.display()
        ),
    }
}

/// The folder holding `initdb`, `pg_ctl` and `createdb`: `PAPERTWAP_PG_BIN`, the newest
/// Debian version, or the `PATH`'s.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(d) = std::env::var("PAPERTWAP_PG_BIN") {
        return Some(PathBuf::from(d));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
    })
}

/// Run `program` (from `bin`) as the cluster's owner: `postgres` when we are root.
fn as_owner(bin: &Path, program: &str, root: bool) -> Command {
    let path = bin.join(program);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Create, start and watch a cluster; its base URL.
fn own_cluster(bin: &Path) -> Result<String, String> {
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("papertwap-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    if root {
        run(
            {
                let mut c = Command::new("chown");
                c.args(["postgres:", &dir.display().to_string()]);
                c
            },
            "chown",
        )?;
    }
    let data = dir.join("data");
    let mut init = as_owner(bin, "initdb", root);
    init.arg("-D").arg(&data).args([
        "-A",
        "trust",
        "-U",
        "postgres",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    ]);
    run(init, "initdb")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
         -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let mut ctl = as_owner(bin, "pg_ctl", root);
    ctl.arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-o", &opts, "-w", "-t", "60", "start"]);
    run(ctl, "pg_ctl start")?;
    // Stopped (and its folder removed) once this process is gone.
    let stop = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {owner}{ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        owner = if root { "runuser -u postgres -- " } else { "" },
        ctl = bin.join("pg_ctl").display(),
        data = data.display(),
        dir = dir.display(),
    );
    Command::new("sh")
        .args(["-c", &stop])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("watchdog: {e}"))?;
    Ok(format!("postgres://postgres@127.0.0.1:{port}"))
}

impl Postgres {
    /// A new empty database on this server: its URL.
    ///
    /// # Panics
    /// When the server refuses to create it.
    pub fn fresh_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "pt_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let admin = format!("{}/postgres", self.base);
        let psql = self
            .bin
            .as_ref()
            .map_or_else(|| PathBuf::from("psql"), |b| b.join("psql"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut c = Command::new(&psql);
            c.args(["-q", "-v", "ON_ERROR_STOP=1", "-d", &admin, "-c"])
                .arg(format!("CREATE DATABASE {name}"));
            match run(c, "CREATE DATABASE") {
                Ok(()) => return format!("{}/{name}", self.base),
                // A server just started may still refuse connections for a moment.
                Err(e) if Instant::now() < deadline && e.contains("connect") => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    /// The server's base URL (`postgres://user@host:port`, no database).
    pub fn base_url(&self) -> &str {
        &self.base
    }
}
