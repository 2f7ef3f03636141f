//! A tiny WebSocket server on 127.0.0.1:0 shared by the mocks: accepts clients, pumps each
//! client's outgoing queue, hands incoming text to the mock, records everything.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// One connected client as the mock sees it.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) id: u64,
    pub(crate) tx: mpsc::UnboundedSender<Message>,
}

/// What a mock does with a client's text and connection events.
pub(crate) trait Handler: Send + Sync + 'static {
    fn on_connect(&self, client: &Client);
    fn on_text(&self, client: &Client, text: &str);
    fn on_disconnect(&self, client_id: u64);
    /// Frames to send every `ping_every` while not silent (pings, heartbeats).
    fn periodic(&self, client: &Client);
    fn silent(&self) -> bool;
    fn refuse_with(&self) -> Option<u16>;
}

/// Everything a client sent, with when.
#[derive(Debug, Default)]
pub(crate) struct Record {
    pub(crate) sent: Vec<(u64, Instant, String)>,
    pub(crate) connections: u64,
    pub(crate) refused: u64,
}

pub(crate) async fn serve(
    handler: Arc<dyn Handler>,
    record: Arc<Mutex<Record>>,
    ping_every: Duration,
) -> std::io::Result<(String, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let mut next_id = 0u64;
        while let Ok((tcp, _)) = listener.accept().await {
            if let Some(status) = handler.refuse_with() {
                if let Ok(mut r) = record.lock() {
                    r.refused += 1;
                }
                // Answer the upgrade with an HTTP error, as a geo-blocking edge does.
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut tcp = tcp;
                    let mut buf = [0u8; 2048];
                    let _ = tcp.read(&mut buf).await;
                    let body = format!(
                        "HTTP/1.1 {status} Refused\r\ncontent-length: 0\r\nretry-after: 1\r\n\r\n"
                    );
                    let _ = tcp.write_all(body.as_bytes()).await;
                });
                continue;
            }
            next_id += 1;
            let id = next_id;
            let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                continue;
            };
            if let Ok(mut r) = record.lock() {
                r.connections += 1;
            }
            let (mut sink, mut stream) = ws.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
            let client = Client { id, tx };
            handler.on_connect(&client);
            let h = handler.clone();
            let c = client.clone();
            let pinger = tokio::spawn(async move {
                let mut t = tokio::time::interval(ping_every);
                t.tick().await;
                loop {
                    t.tick().await;
                    if !h.silent() {
                        h.periodic(&c);
                    }
                }
            });
            tokio::spawn(async move {
                while let Some(m) = rx.recv().await {
                    let close = matches!(m, Message::Close(_));
                    if sink.send(m).await.is_err() || close {
                        break;
                    }
                }
                let _ = sink.close().await;
            });
            let h = handler.clone();
            let rec = record.clone();
            tokio::spawn(async move {
                loop {
                    // A silent venue reads nothing, so a client's pings go unanswered (no
                    // pong), as with a socket that died without a FIN.
                    if h.silent() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    let m = match tokio::time::timeout(Duration::from_millis(50), stream.next())
                        .await
                    {
                        Err(_) => continue,
                        Ok(Some(Ok(m))) => m,
                        Ok(_) => break,
                    };
                    match m {
                        Message::Text(t) => {
                            if let Ok(mut r) = rec.lock() {
                                r.sent.push((id, Instant::now(), t.to_string()));
                            }
                            h.on_text(&client, &t);
                        }
                        Message::Close(_) => break,
                        _ => {}
                    }
                }
                pinger.abort();
                h.on_disconnect(id);
            });
        }
    });
    Ok((format!("ws://{addr}"), task))
}
