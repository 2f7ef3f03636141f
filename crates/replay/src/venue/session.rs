//! The replay venue's side of the shared session loop: an in-process "connection" that
//! always opens; each followed book a [`Playback`], whose due events are the venue's events.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use market::{FeedCommand, FeedEvent, FeedSender, MarketError, VenueSession};
use model::Symbol;
use tokio::time::Instant;
use tracing::debug;

use super::ReplayExchange;
use super::play::{Clock, Playback, trades_of};

/// The replay feed.
pub(crate) struct ReplaySession {
    ex: Arc<ReplayExchange>,
    events: FeedSender,
    playing: HashMap<Symbol, Playback>,
    clock: Clock,
    open: bool,
}

impl ReplaySession {
    pub(crate) fn new(ex: Arc<ReplayExchange>, events: FeedSender) -> Self {
        ReplaySession {
            ex,
            events,
            playing: HashMap::new(),
            clock: Clock::start(),
            open: false,
        }
    }

    async fn send_all(&self, out: Vec<FeedEvent>) {
        if !out.is_empty() {
            self.events.alive();
        }
        for ev in out {
            if self.events.send(ev).await.is_err() {
                return;
            }
        }
    }

    fn start(&mut self, symbol: &Symbol) {
        if self.playing.contains_key(symbol) {
            return;
        }
        let Some(track) = self.ex.track(symbol) else {
            return;
        };
        let book = market::Exchange::new_book(&*self.ex, &track.pair);
        let c = &self.ex.config;
        self.playing.insert(
            symbol.clone(),
            Playback::new(track.clone(), self.clock, book, c.speed, c.looped),
        );
    }
}

impl VenueSession for ReplaySession {
    type Event = Symbol;

    fn name(&self) -> &'static str {
        "replay"
    }

    fn tick_every(&self) -> Duration {
        Duration::from_secs(1)
    }

    async fn open(&mut self) -> Result<(), MarketError> {
        self.open = true;
        Ok(())
    }

    async fn resume(&mut self) {}

    async fn next_event(&mut self) -> Symbol {
        let next = self
            .playing
            .iter_mut()
            .filter_map(|(s, p)| p.next_due().map(|due| (due, s)))
            .min_by_key(|(due, _)| *due)
            .map(|(due, s)| (due, s.clone()));
        match next {
            Some((due, symbol)) => {
                tokio::time::sleep_until(due).await;
                symbol
            }
            None => std::future::pending().await,
        }
    }

    async fn on_event(&mut self, symbol: Symbol) -> Option<String> {
        let out = match self.playing.get_mut(&symbol) {
            Some(p) => p.take_due(Instant::now()),
            None => return None,
        };
        self.ex.candles.record(&symbol, trades_of(&out));
        self.send_all(out).await;
        None
    }

    async fn on_command(&mut self, cmd: FeedCommand) {
        match cmd {
            FeedCommand::Subscribe(pairs) => {
                for p in pairs {
                    self.start(&p.symbol);
                }
            }
            FeedCommand::Unsubscribe(pairs) => {
                for p in pairs {
                    self.playing.remove(&p.symbol);
                }
            }
            FeedCommand::Resync(p) => {
                debug!(symbol = %p.symbol, "replay: resync requested");
                let snapshot = self.playing.get(&p.symbol).and_then(Playback::resync);
                self.send_all(snapshot.into_iter().collect()).await;
            }
        }
    }

    async fn on_tick(&mut self) {
        // In process, the "connection" is alive while a book still plays; once every tape
        // has ended (a replay that does not loop) it goes quiet and the hub marks the books
        // stale, as for a venue that stopped sending.
        if self.playing.values_mut().any(Playback::is_playing) {
            self.events.alive();
        }
    }

    fn is_connected(&self) -> bool {
        self.open
    }

    fn close(&mut self) {
        self.open = false;
    }
}
