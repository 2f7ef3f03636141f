//! The store's own tests run on every backend: an in-memory SQLite and a fresh database on a
//! throwaway PostgreSQL (`testkit::pg`; skipped with a message on a machine without it,
//! unless CI requires it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::Store;

/// A fresh store on each backend this machine has.
pub(crate) async fn stores() -> Vec<Store> {
    let mut v = vec![Store::connect("sqlite::memory:").await.unwrap()];
    if let Some(pg) = testkit::pg::server() {
        v.push(Store::connect(&pg.fresh_database()).await.unwrap());
    }
    v
}
