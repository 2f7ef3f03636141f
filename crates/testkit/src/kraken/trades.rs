//! The mock's `trade` channel: subscribe/unsubscribe per symbol (separately from `book`), a
//! snapshot of the last 50 trades on subscribe (as Kraken does by default), and updates
//! printed by [`MockKraken::trade`].

use std::collections::{HashMap, HashSet, VecDeque};

use tokio_tungstenite::tungstenite::Message;

use super::{MockKraken, TS, Venue};
use crate::wsserver::Client;

/// Trade subscribers and the recent tape of every symbol.
#[derive(Debug, Default)]
pub(super) struct TradeChannel {
    /// client id → subscribed symbols
    subs: HashMap<u64, HashSet<String>>,
    /// symbol → the last 50 trades (JSON objects as sent)
    recent: HashMap<String, VecDeque<serde_json::Value>>,
    next_id: u64,
}

impl TradeChannel {
    /// Answer a `trade` subscribe or unsubscribe.
    pub(super) fn request(
        venue: &mut Venue,
        client: &Client,
        method: &str,
        symbols: Vec<String>,
        snapshot: bool,
        req_id: &serde_json::Value,
    ) {
        let reply = |body: serde_json::Value| {
            let _ = client.tx.send(Message::text(body.to_string()));
        };
        for s in symbols {
            if !venue.books.contains_key(&s) {
                reply(
                    serde_json::json!({"error": format!("Currency pair not supported {s}"), "method": method, "success": false, "symbol": s, "time_in": TS, "time_out": TS, "req_id": req_id}),
                );
                continue;
            }
            let subs = venue.trades.subs.entry(client.id).or_default();
            if method == "subscribe" {
                if !subs.insert(s.clone()) {
                    reply(
                        serde_json::json!({"error": "Already subscribed", "method": method, "success": false, "symbol": s, "time_in": TS, "time_out": TS, "req_id": req_id}),
                    );
                    continue;
                }
                reply(
                    serde_json::json!({"method":"subscribe","result":{"channel":"trade","snapshot":snapshot,"symbol":s},"success":true,"time_in":TS,"time_out":TS,"req_id":req_id}),
                );
                if snapshot {
                    let data: Vec<serde_json::Value> = venue
                        .trades
                        .recent
                        .get(&s)
                        .map(|r| r.iter().cloned().collect())
                        .unwrap_or_default();
                    reply(serde_json::json!({"channel":"trade","type":"snapshot","data":data}));
                }
            } else {
                subs.remove(&s);
                reply(
                    serde_json::json!({"method":"unsubscribe","result":{"channel":"trade","symbol":s},"success":true,"time_in":TS,"time_out":TS,"req_id":req_id}),
                );
            }
        }
    }

    /// Forget a client.
    pub(super) fn disconnect(&mut self, client_id: u64) {
        self.subs.remove(&client_id);
    }
}

impl MockKraken {
    /// Print a trade on `symbol` (prices and quantities as JSON numbers, as Kraken sends
    /// them) to every client subscribed to its `trade` channel; returns the trade id.
    pub fn trade(&self, symbol: &str, side: &str, price: &str, qty: &str) -> u64 {
        let mut v = self.venue();
        v.trades.next_id += 1;
        let id = v.trades.next_id;
        let price: serde_json::Value = serde_json::from_str(price).unwrap_or_default();
        let qty: serde_json::Value = serde_json::from_str(qty).unwrap_or_default();
        let trade = serde_json::json!({"symbol": symbol, "side": side, "price": price, "qty": qty, "ord_type": "market", "trade_id": id, "timestamp": TS});
        let recent = v.trades.recent.entry(symbol.to_owned()).or_default();
        recent.push_back(trade.clone());
        if recent.len() > 50 {
            recent.pop_front();
        }
        let frame =
            serde_json::json!({"channel":"trade","type":"update","data":[trade]}).to_string();
        let subscribed: Vec<u64> = v
            .trades
            .subs
            .iter()
            .filter(|(_, s)| s.contains(symbol))
            .map(|(id, _)| *id)
            .collect();
        for id in subscribed {
            if let Some((c, _)) = v.clients.get(&id) {
                let _ = c.tx.send(Message::text(frame.clone()));
            }
        }
        id
    }

    /// Symbols each connected client follows on the `trade` channel.
    pub fn trade_subscriptions(&self) -> Vec<HashSet<String>> {
        self.venue().trades.subs.values().cloned().collect()
    }
}
