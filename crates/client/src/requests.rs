//! Builders of the order bodies with their common fields; set the rest on the result.

use crate::Error;

fn quantity(text: &str) -> Result<rust_decimal::Decimal, Error> {
    text.parse()
        .map_err(|_| Error::Invalid(format!("quantity `{text}` is not a decimal number")))
}

/// A TWAP request with the common fields (`duration_secs` + `interval_secs`);
/// [`Error::Invalid`] when `quantity` is not a decimal number.
pub fn twap(
    token_id: &str,
    exchange: &str,
    symbol: &str,
    side: &str,
    quantity: &str,
    duration_secs: u64,
    interval_secs: u64,
) -> Result<wire::TwapRequest, Error> {
    let quantity = self::quantity(quantity)?;
    Ok(wire::TwapRequest {
        token_id: token_id.to_owned(),
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        side: Some(side.to_owned()),
        quantity,
        limit_price: None,
        duration_secs: Some(duration_secs),
        interval_secs: Some(interval_secs),
        slices: None,
        start_time: None,
        end_time: None,
        catch_up: None,
    })
}

/// A `POST /orders` request of `strategy` with the common fields (`duration_secs` +
/// `interval_secs`); set the strategy's own fields on the result (`participation` is
/// required for POV). [`Error::Invalid`] when `quantity` is not a decimal number.
///
/// ```
/// let mut pov = papertwap_client::order(
///     papertwap_client::wire::Strategy::Pov, "pov-1", "sim", "BTC-USDT", "buy", "0.5", 600, 10,
/// )?;
/// pov.participation = Some("0.1".parse().unwrap());
/// # Ok::<(), papertwap_client::Error>(())
/// ```
#[allow(clippy::too_many_arguments)]
pub fn order(
    strategy: wire::Strategy,
    token_id: &str,
    exchange: &str,
    symbol: &str,
    side: &str,
    quantity: &str,
    duration_secs: u64,
    interval_secs: u64,
) -> Result<wire::OrderRequest, Error> {
    Ok(wire::OrderRequest {
        token_id: Some(token_id.to_owned()),
        strategy: Some(strategy),
        exchange: exchange.to_owned(),
        symbol: symbol.to_owned(),
        side: side.to_owned(),
        quantity: self::quantity(quantity)?,
        limit_price: None,
        duration_secs: Some(duration_secs),
        interval_secs: Some(interval_secs),
        slices: None,
        start_time: None,
        end_time: None,
        catch_up: None,
        jitter: None,
        profile_days: None,
        participation: None,
        max_slice_qty: None,
        latency_ms: None,
    })
}
