//! The store as the API's users port, and the loop that keeps the API's token checks in step
//! with the users table (changed by `papertwap-server users …` from another process too).

use std::sync::Arc;
use std::time::Duration;

use api::accounts::{Account, AccountState, AccountStates, Accounts};
use engine::EngineHandle;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use store::Store;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// The store as the API's users port.
#[derive(Debug, Clone)]
pub struct StoreAccounts(pub Store);

impl Accounts for StoreAccounts {
    fn by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Account>, String>> {
        async move {
            let u = self
                .0
                .user_by_name(username)
                .await
                .map_err(|e| e.to_string())?;
            Ok(u.map(|u| Account {
                id: u.id,
                username: u.username,
                password_hash: u.password_hash,
                tier: u.tier,
                token_version: u.token_version,
            }))
        }
        .boxed()
    }

    fn states(&self) -> BoxFuture<'_, Result<Vec<AccountState>, String>> {
        async move {
            let users = self.0.users().await.map_err(|e| e.to_string())?;
            Ok(users
                .into_iter()
                .map(|u| AccountState {
                    id: u.id,
                    username: u.username,
                    token_version: u.token_version,
                })
                .collect())
        }
        .boxed()
    }

    fn ping(&self) -> BoxFuture<'_, bool> {
        async move { self.0.ping().await }.boxed()
    }
}

/// How often the users table is re-read: a removal or password change made while the
/// server runs takes effect within this long.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// Load the users' token states once (before serving), then re-read them every
/// [`REFRESH_EVERY`] until `shutdown`; a removed user's open orders leave the engine.
pub async fn keep_accounts_fresh(
    accounts: Arc<dyn Accounts>,
    states: AccountStates,
    engine: EngineHandle,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let first = accounts
        .states()
        .await
        .map_err(|e| anyhow::anyhow!("reading users: {e}"))?;
    states.replace(first);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(REFRESH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            match accounts.states().await {
                Ok(list) => {
                    for uid in states.replace(list) {
                        info!(
                            user = uid,
                            "user removed; their tokens and open orders are gone"
                        );
                        let _ = engine.forget_user(uid).await;
                    }
                }
                Err(e) => warn!(error = %e, "could not re-read users; keeping the last list"),
            }
        }
    });
    Ok(())
}
