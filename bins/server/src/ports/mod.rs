//! The engine's and the API's ports, implemented on the concrete parts (hub, store) here in
//! the composition root, so neither the engine nor the HTTP layer knows the store.

mod accounts;
mod books;
mod lab;
mod rows;
mod rows_json;

pub use accounts::{REFRESH_EVERY, StoreAccounts, keep_accounts_fresh};
pub use books::HubBooks;
pub use lab::TapeLab;
pub use rows::StoreOrders;
pub(crate) use rows::{fail, record_items, stored};
