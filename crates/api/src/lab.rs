//! The lab port (DESIGN §17): re-running an order on the market recorded during its window.
//! Implemented by the composition root, which owns the tapes.

use futures_util::future::BoxFuture;

/// Why a re-run could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabFailure {
    /// The window is not on tape (or recording is off): 409 `not_recorded`.
    #[error("{0}")]
    NotRecorded(String),
    /// The tapes could not be read: 503.
    #[error("{0}")]
    Unavailable(String),
}

/// A re-run's result.
#[derive(Debug, Clone, PartialEq)]
pub struct LabRun {
    /// The simulated order and its slices.
    pub run: engine::lab::Rerun,
    /// It equals the original, fill for fill.
    pub reproduces_original: bool,
}

/// Re-runs orders on recorded markets.
pub trait Lab: Send + Sync + 'static {
    /// Run `sim` (a what-if draft of `original`) alone on the market recorded during its
    /// window, with other orders' recorded consumption.
    fn whatif(
        &self,
        original: engine::StoredOrder,
        sim: engine::Order,
    ) -> BoxFuture<'static, Result<LabRun, LabFailure>>;

    /// Run `order` (a backtest's draft) alone on the market recorded during its window,
    /// with the paper orders' recorded consumption.
    fn backtest(
        &self,
        order: engine::Order,
    ) -> BoxFuture<'static, Result<engine::lab::Rerun, LabFailure>>;

    /// Keep a backtest's answer (`body`, JSON) as `id` for `user_id`.
    fn save_backtest(
        &self,
        user_id: i64,
        id: String,
        created_ns: i64,
        body: String,
    ) -> BoxFuture<'static, Result<(), LabFailure>>;

    /// A user's stored backtests (JSON), newest first.
    fn backtests(
        &self,
        user_id: i64,
        limit: u32,
        offset: u32,
    ) -> BoxFuture<'static, Result<Vec<String>, LabFailure>>;

    /// One of a user's stored backtests (JSON).
    fn find_backtest(
        &self,
        user_id: i64,
        id: String,
    ) -> BoxFuture<'static, Result<Option<String>, LabFailure>>;
}
