//! `cluster.*`: several instances on one PostgreSQL (DESIGN §19). Ignored on SQLite, where
//! one instance executes every order.

use serde::{Deserialize, Serialize};

use super::{SettingsError, invalid};

/// `cluster.*`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// How long a symbol's lease lasts without renewal (renewed every third of it); an
    /// instance that stops renewing loses its orders to another within about twice this.
    pub lease_ttl_ms: u64,
    /// This instance's name in lease holders and logs (the host name when empty); a random
    /// tag and the process id are added, so a restart is never taken for its predecessor.
    pub instance: String,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            lease_ttl_ms: 5_000,
            instance: String::new(),
        }
    }
}

impl ClusterSettings {
    /// Check every value.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(300..=600_000).contains(&self.lease_ttl_ms) {
            return Err(invalid(
                "cluster.lease_ttl_ms",
                "must be between 300 and 600000",
            ));
        }
        if self.instance.len() > 64 || self.instance.contains(char::is_control) {
            return Err(invalid(
                "cluster.instance",
                "must be at most 64 printable characters",
            ));
        }
        Ok(())
    }

    /// The instance's name: `instance`, else the host name, else `papertwap`.
    pub fn name(&self) -> String {
        if !self.instance.is_empty() {
            return self.instance.clone();
        }
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "papertwap".to_owned())
    }
}
