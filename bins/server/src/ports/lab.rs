//! The lab port on the recorder's tapes: what-ifs re-run on the books recorded under
//! `store.tape_dir`, each book rebuilt as its venue's feed builds it.

use std::path::PathBuf;

use api::lab::{Lab, LabFailure, LabRun};
use futures_util::future::BoxFuture;
use market::Hub;
use model::{ExchangeId, Symbol};
use replay::LabError;

use crate::recorder::Flusher;

/// What-ifs on the tapes under `root`.
#[derive(Debug, Clone)]
pub struct TapeLab {
    root: PathBuf,
    hub: Hub,
    flusher: Flusher,
}

impl TapeLab {
    /// The lab reading `root`, written by the recorder `flusher` reaches.
    pub fn new(root: PathBuf, hub: Hub, flusher: Flusher) -> Self {
        TapeLab { root, hub, flusher }
    }
}

impl Lab for TapeLab {
    fn whatif(
        &self,
        original: engine::StoredOrder,
        sim: engine::Order,
    ) -> BoxFuture<'static, Result<LabRun, LabFailure>> {
        let lab = self.clone();
        Box::pin(async move {
            // The last events of the window may still be in the recorder's buffers.
            lab.flusher.flush().await;
            let TapeLab { root, hub, .. } = lab;
            let run = tokio::task::spawn_blocking(move || {
                let new_book = |e: ExchangeId, s: &Symbol| {
                    hub.resolve(e, s.as_str())
                        .ok()
                        .and_then(|p| hub.new_book(&p).ok())
                        .unwrap_or_default()
                };
                replay::whatif(&root, &original.order, &original.slices, sim, &new_book)
            })
            .await
            .map_err(|e| LabFailure::Unavailable(format!("the re-run failed: {e}")))?;
            match run {
                Ok(w) => Ok(LabRun {
                    run: w.run,
                    reproduces_original: w.reproduces_original,
                }),
                Err(LabError::NotRecorded(d)) => Err(LabFailure::NotRecorded(d)),
                Err(LabError::Tape(e)) => Err(LabFailure::Unavailable(e.to_string())),
            }
        })
    }
}
