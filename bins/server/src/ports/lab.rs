//! The lab port on the recorder's tapes: what-ifs re-run on the books recorded under
//! `store.tape_dir`, each book rebuilt as its venue's feed builds it.

use std::path::PathBuf;

use api::lab::{Lab, LabFailure, LabRun};
use futures_util::future::BoxFuture;
use market::Hub;
use model::{ExchangeId, OrderBook, Symbol};
use replay::LabError;
use store::Store;

use crate::recorder::Flusher;

/// What-ifs and backtests on the tapes under `root`; backtests kept in the store.
#[derive(Debug, Clone)]
pub struct TapeLab {
    root: PathBuf,
    hub: Hub,
    flusher: Flusher,
    store: Store,
}

impl TapeLab {
    /// The lab reading `root`, written by the recorder `flusher` reaches.
    pub fn new(root: PathBuf, hub: Hub, flusher: Flusher, store: Store) -> Self {
        TapeLab {
            root,
            hub,
            flusher,
            store,
        }
    }

    /// Run `f` on the tapes (after the recorder wrote out what it holds), off the async
    /// workers, with the hub's book builder.
    async fn on_tapes<T: Send + 'static>(
        &self,
        f: impl FnOnce(
            &std::path::Path,
            &dyn Fn(ExchangeId, &Symbol) -> OrderBook,
        ) -> Result<T, LabError>
        + Send
        + 'static,
    ) -> Result<T, LabFailure> {
        // The last events of the window may still be in the recorder's buffers.
        self.flusher.flush().await;
        let (root, hub) = (self.root.clone(), self.hub.clone());
        let run = tokio::task::spawn_blocking(move || {
            let new_book = |e: ExchangeId, s: &Symbol| {
                hub.resolve(e, s.as_str())
                    .ok()
                    .and_then(|p| hub.new_book(&p).ok())
                    .unwrap_or_default()
            };
            f(&root, &new_book)
        })
        .await
        .map_err(|e| LabFailure::Unavailable(format!("the re-run failed: {e}")))?;
        run.map_err(|e| match e {
            LabError::NotRecorded(d) => LabFailure::NotRecorded(d),
            LabError::Tape(e) => LabFailure::Unavailable(e.to_string()),
        })
    }
}

fn store_failure(e: store::StoreError) -> LabFailure {
    LabFailure::Unavailable(format!("store: {e}"))
}

impl Lab for TapeLab {
    fn whatif(
        &self,
        original: engine::StoredOrder,
        sim: engine::Order,
    ) -> BoxFuture<'static, Result<LabRun, LabFailure>> {
        let lab = self.clone();
        Box::pin(async move {
            let w = lab
                .on_tapes(move |root, new_book| {
                    replay::whatif(root, &original.order, &original.slices, sim, new_book)
                })
                .await?;
            Ok(LabRun {
                run: w.run,
                reproduces_original: w.reproduces_original,
            })
        })
    }

    fn backtest(
        &self,
        order: engine::Order,
    ) -> BoxFuture<'static, Result<engine::lab::Rerun, LabFailure>> {
        let lab = self.clone();
        Box::pin(async move {
            lab.on_tapes(move |root, new_book| replay::backtest(root, order, new_book))
                .await
        })
    }

    fn save_backtest(
        &self,
        user_id: i64,
        id: String,
        created_ns: i64,
        body: String,
    ) -> BoxFuture<'static, Result<(), LabFailure>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .insert_backtest(&id, user_id, created_ns, &body)
                .await
                .map_err(store_failure)
        })
    }

    fn backtests(
        &self,
        user_id: i64,
        limit: u32,
        offset: u32,
    ) -> BoxFuture<'static, Result<Vec<String>, LabFailure>> {
        let store = self.store.clone();
        Box::pin(async move {
            store
                .backtests(user_id, limit, offset)
                .await
                .map_err(store_failure)
        })
    }

    fn find_backtest(
        &self,
        user_id: i64,
        id: String,
    ) -> BoxFuture<'static, Result<Option<String>, LabFailure>> {
        let store = self.store.clone();
        Box::pin(async move { store.backtest(user_id, &id).await.map_err(store_failure) })
    }
}
