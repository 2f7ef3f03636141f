//! Who may hold a token: the users port ([`Accounts`], implemented by the composition root
//! over the store) and [`AccountStates`], the in-memory list every token is checked
//! against, so that a removed user's token, or one issued before a password change, is
//! refused without a store read per request.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use futures_util::future::BoxFuture;

/// A user, as login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// User id.
    pub id: i64,
    /// Unique name.
    pub username: String,
    /// bcrypt hash.
    pub password_hash: String,
    /// `basic` or `premium`.
    pub tier: String,
    /// The current token version (moved on by every password change).
    pub token_version: i64,
}

/// What a token is checked against: the user's name and current token version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountState {
    /// User id.
    pub id: i64,
    /// Unique name.
    pub username: String,
    /// The current token version.
    pub token_version: i64,
}

/// The users port.
pub trait Accounts: Send + Sync + 'static {
    /// A user by name.
    fn by_name<'a>(&'a self, username: &'a str) -> BoxFuture<'a, Result<Option<Account>, String>>;
    /// Every user's token state.
    fn states(&self) -> BoxFuture<'_, Result<Vec<AccountState>, String>>;
    /// True while the store answers.
    fn ping(&self) -> BoxFuture<'_, bool>;
}

/// Why a well-signed token is no longer good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Revoked {
    /// The user was removed (or renamed away).
    #[error("the token's user no longer exists")]
    UnknownUser,
    /// Issued before the user's last password change.
    #[error("the token was revoked by a password change")]
    PasswordChanged,
}

#[derive(Debug, Default)]
struct States {
    /// False until the first list arrives: until then nothing can be checked, and tokens
    /// are taken on their signature alone (only tests that build no server see this).
    loaded: bool,
    by_id: HashMap<i64, (Arc<str>, i64)>,
}

/// The users' token states, refreshed by the server every few seconds; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct AccountStates(Arc<RwLock<States>>);

impl AccountStates {
    /// Replace the list; returns the ids that were present and are gone.
    pub fn replace(&self, list: Vec<AccountState>) -> Vec<i64> {
        let by_id: HashMap<i64, (Arc<str>, i64)> = list
            .into_iter()
            .map(|a| (a.id, (Arc::from(a.username), a.token_version)))
            .collect();
        let mut g = self.0.write().unwrap_or_else(PoisonError::into_inner);
        let gone = g
            .by_id
            .keys()
            .filter(|id| !by_id.contains_key(id))
            .copied()
            .collect();
        g.by_id = by_id;
        g.loaded = true;
        gone
    }

    /// Record one user's current state (a login just read it from the store, so a user
    /// added since the last refresh is known at once).
    pub fn upsert(&self, id: i64, username: &str, token_version: i64) {
        let mut g = self.0.write().unwrap_or_else(PoisonError::into_inner);
        if g.loaded {
            g.by_id.insert(id, (Arc::from(username), token_version));
        }
    }

    /// Check a token's user id, name and version against the list.
    pub fn check(&self, uid: i64, username: &str, version: i64) -> Result<(), Revoked> {
        let g = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if !g.loaded {
            return Ok(());
        }
        match g.by_id.get(&uid) {
            Some((name, v)) if &**name == username => {
                if version < *v {
                    Err(Revoked::PasswordChanged)
                } else {
                    Ok(())
                }
            }
            _ => Err(Revoked::UnknownUser),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(id: i64, name: &str, v: i64) -> AccountState {
        AccountState {
            id,
            username: name.to_owned(),
            token_version: v,
        }
    }

    #[test]
    fn removed_users_and_old_versions_are_refused_once_loaded() {
        let s = AccountStates::default();
        assert_eq!(
            s.check(1, "alice", 0),
            Ok(()),
            "nothing to check against yet"
        );
        assert!(
            s.replace(vec![state(1, "alice", 0), state(2, "bob", 3)])
                .is_empty()
        );
        assert_eq!(s.check(1, "alice", 0), Ok(()));
        assert_eq!(s.check(2, "bob", 2), Err(Revoked::PasswordChanged));
        assert_eq!(s.check(2, "bob", 3), Ok(()));
        assert_eq!(
            s.check(1, "bob", 3),
            Err(Revoked::UnknownUser),
            "name must match the id"
        );
        assert_eq!(s.replace(vec![state(2, "bob", 3)]), vec![1]);
        assert_eq!(s.check(1, "alice", 0), Err(Revoked::UnknownUser));
    }
}
