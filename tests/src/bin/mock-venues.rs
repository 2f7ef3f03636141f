//! The six live venues' mock servers on loopback (`testkit`: each speaks its venue's real
//! protocol), their books moving and trades printing, for the browser test and for trying the
//! dashboard offline with every venue live.
//!
//! `mock-venues ENV_FILE [SECONDS=600]`: starts the mocks, writes the server's
//! `PAPERTWAP_EXCHANGES__…` settings pointing at them to ENV_FILE (`KEY=VALUE` lines; the file
//! appears whole, once the mocks listen), then moves the books five times a second and prints a
//! trade on each venue every second until SECONDS have passed: it always stops by itself.
#![allow(clippy::print_stderr)]

use std::time::Duration;

use testkit::binance::MockBinance;
use testkit::bitstamp::MockBitstamp;
use testkit::bybit::MockBybit;
use testkit::coinbase::MockCoinbase;
use testkit::kraken::MockKraken;
use testkit::okx::MockOkx;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(env_file), seconds) = (args.next(), args.next()) else {
        anyhow::bail!("usage: mock-venues ENV_FILE [SECONDS=600]");
    };
    let seconds: u64 = seconds.as_deref().unwrap_or("600").parse()?;
    let binance = MockBinance::start(&["BTCUSDT"]).await?;
    let kraken = MockKraken::start(&["BTC/USD"]).await?;
    let okx = MockOkx::start(&["BTC-USDT"]).await?;
    let bybit = MockBybit::start(&["BTCUSDT"]).await?;
    let coinbase = MockCoinbase::start(&["BTC-USD"]).await?;
    let bitstamp = MockBitstamp::start(&["btcusd"]).await?;
    let venues = [
        ("BINANCE", &binance.ws_url, &binance.rest_url, "BTC-USDT"),
        ("KRAKEN", &kraken.ws_url, &kraken.rest_url, "BTC-USD"),
        ("OKX", &okx.ws_url, &okx.rest_url, "BTC-USDT"),
        ("BYBIT", &bybit.ws_url, &bybit.rest_url, "BTC-USDT"),
        ("COINBASE", &coinbase.ws_url, &coinbase.rest_url, "BTC-USD"),
        ("BITSTAMP", &bitstamp.ws_url, &bitstamp.rest_url, "BTC-USD"),
    ];
    let mut env = String::new();
    for (v, ws, rest, symbol) in venues {
        env.push_str(&format!(
            "PAPERTWAP_EXCHANGES__{v}__ENABLED=true\nPAPERTWAP_EXCHANGES__{v}__WS_URL={ws}\n\
             PAPERTWAP_EXCHANGES__{v}__REST_URL={rest}\nPAPERTWAP_EXCHANGES__{v}__SYMBOLS={symbol}\n"
        ));
    }
    // Written aside and renamed: a reader never sees half a file.
    let tmp = format!("{env_file}.tmp");
    std::fs::write(&tmp, env)?;
    std::fs::rename(&tmp, &env_file)?;
    eprintln!("mock-venues: six venues listening; settings in {env_file}; stopping in {seconds} s");
    let end = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    while tokio::time::Instant::now() < end {
        binance.random_update("BTCUSDT");
        kraken.random_update("BTC/USD");
        okx.random_update("BTC-USDT");
        bybit.random_update("BTCUSDT");
        coinbase.random_update("BTC-USD");
        bitstamp.random_update("btcusd");
        if n.is_multiple_of(5) {
            let buy = (n / 5).is_multiple_of(2);
            let side = if buy { "buy" } else { "sell" };
            binance.trade("BTCUSDT", "67000.01", "0.01000", !buy);
            kraken.trade("BTC/USD", side, "67000.1", "0.01000000");
            okx.trade("BTC-USDT", side, "67000.1", "0.01");
            bybit.trade(
                "BTCUSDT",
                if buy { "Buy" } else { "Sell" },
                "67000.01",
                "0.01",
            );
            // Coinbase reports the maker's side; Bitstamp's `type` is the taker's (0 buy).
            coinbase.trade(
                "BTC-USD",
                if buy { "SELL" } else { "BUY" },
                "67000.01",
                "0.01",
            );
            bitstamp.trade("btcusd", u8::from(!buy), "67000.01", "0.01000000");
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
