//! User management: the demo user at first start and the `users` subcommands.

use std::io::Write;

use anyhow::{Context, bail};
use api::auth::Passwords;
use store::Store;
use tracing::warn;

/// The demo user of DESIGN §5.
pub const DEMO_USER: &str = "premium";
const DEMO_PASSWORD: &str = "CryptoTWAPpremium";
const DEMO_SEEDED: &str = "demo_user_seeded";

/// Create the demo user at the first start (unless disabled), and warn while it exists.
pub async fn seed_demo_user(
    store: &Store,
    passwords: &Passwords,
    enabled: bool,
) -> anyhow::Result<()> {
    if enabled && store.setting(DEMO_SEEDED).await?.is_none() {
        let hash = passwords.hash(DEMO_PASSWORD).await?;
        store.add_user(DEMO_USER, &hash, "premium").await?;
        store.set_setting(DEMO_SEEDED, "1").await?;
    }
    if let Some(u) = store.user_by_name(DEMO_USER).await?
        && passwords
            .verify(DEMO_PASSWORD, Some(&u.password_hash))
            .await
    {
        warn!(
            user = DEMO_USER,
            "the demo user exists with its published password; remove it (`papertwap-server users remove premium`) or change its password before exposing this server"
        );
    }
    Ok(())
}

fn valid_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
    {
        bail!("user names are 1–64 characters of letters, digits, '.', '_', '-' or '@'");
    }
    Ok(())
}

/// `users add NAME`.
pub async fn add(store: &Store, name: &str, password: &str, tier: &str) -> anyhow::Result<()> {
    create(store, name, password, tier).await?;
    say(&format!("added user {name} ({tier})"))
}

/// Create a user (no output).
pub async fn create(store: &Store, name: &str, password: &str, tier: &str) -> anyhow::Result<()> {
    valid_name(name)?;
    if !matches!(tier, "basic" | "premium") {
        bail!("tier must be basic or premium");
    }
    let p = Passwords::new(api::auth::BCRYPT_COST)?;
    let hash = p.hash(password).await?;
    match store.add_user(name, &hash, tier).await? {
        Some(_) => Ok(()),
        None => bail!("user {name} already exists"),
    }
}

/// `users remove NAME`.
pub async fn remove(store: &Store, name: &str) -> anyhow::Result<()> {
    if store.remove_user(name).await? {
        say(&format!("removed user {name} and their orders"))
    } else {
        bail!("no user {name}")
    }
}

/// `users list`.
pub async fn list(store: &Store) -> anyhow::Result<()> {
    let users = store.users().await?;
    let mut out = String::from("USERNAME\tTIER\tCREATED\n");
    for u in users {
        out.push_str(&format!("{}\t{}\t{}\n", u.username, u.tier, u.created_at));
    }
    say(out.trim_end())
}

/// `users passwd NAME`.
pub async fn passwd(store: &Store, name: &str, password: &str) -> anyhow::Result<()> {
    let p = Passwords::new(api::auth::BCRYPT_COST)?;
    let hash = p.hash(password).await?;
    if store.set_password(name, &hash).await? {
        say(&format!("password changed for {name}"))
    } else {
        bail!("no user {name}")
    }
}

/// Read a password from standard input (one line, newline stripped).
pub fn password_from_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn say(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}
