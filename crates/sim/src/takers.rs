//! The simulated market's takers: aggressive orders that print trades at the touch and
//! consume the displayed size they take, with an intraday activity profile (more trading
//! around the US open, less in the late Asian morning) so that volume-driven strategies see
//! a realistic day.

use std::collections::BTreeMap;

use crate::rng::Rng;

/// Relative trading activity per UTC hour, in percent of the daily average.
const PROFILE: [u64; 24] = [
    110, 120, 100, 80, 60, 55, 60, 75, 95, 100, 95, 90, //
    100, 130, 170, 180, 160, 130, 110, 100, 95, 90, 90, 100,
];

/// Activity at `minute` since the epoch, in percent of the daily average (hour-interpolated
/// so that the profile has no steps at the hour).
pub(crate) fn activity(minute: i64) -> u64 {
    let m = minute.rem_euclid(1_440) as u64;
    let (h, into) = ((m / 60) as usize, m % 60);
    let (a, b) = (PROFILE[h], PROFILE[(h + 1) % 24]);
    (a * (60 - into) + b * into) / 60
}

/// One print: price and quantity in ticks and lots, and whether the taker bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Print {
    pub(crate) price: i64,
    pub(crate) lots: i64,
    pub(crate) buy: bool,
}

/// Maybe one taker this step: with a chance that follows the intraday profile, an order
/// buying (more likely after an up-move) or selling a small size — sometimes a sweep of the
/// first levels — walks the opposite side from the touch. Levels it empties are removed;
/// every level it touches is recorded in `changes` (side is `true` for bids) with its new
/// quantity. Returns the prints, best price first.
pub(crate) fn take(
    rng: &mut Rng,
    minute: i64,
    moved_up: Option<bool>,
    size_lots: i64,
    bids: &mut BTreeMap<i64, i64>,
    asks: &mut BTreeMap<i64, i64>,
    changes: &mut BTreeMap<(bool, i64), i64>,
) -> Vec<Print> {
    // 35 % of steps at an average hour: about 7 takers a second at 50 ms steps.
    if !rng.chance((35 * activity(minute) / 100).min(95)) {
        return Vec::new();
    }
    let buy_pct = match moved_up {
        Some(true) => 65,
        Some(false) => 35,
        None => 50,
    };
    let buy = rng.chance(buy_pct);
    let side = if buy { asks } else { bids };
    let mut want = if rng.chance(4) {
        // A sweep: through the first 1-3 levels.
        let levels = rng.range(1, 3) as usize;
        let walk: Box<dyn Iterator<Item = (&i64, &i64)>> = if buy {
            Box::new(side.iter())
        } else {
            Box::new(side.iter().rev())
        };
        walk.take(levels).map(|(_, q)| *q).sum::<i64>()
    } else {
        // Mostly small: 1-30 % of a typical level, a long tail of tiny prints.
        (size_lots * rng.range(1, 30) / 100 / rng.range(1, 4)).max(1)
    };
    let mut prints = Vec::new();
    while want > 0 {
        let best = if buy {
            side.first_key_value()
        } else {
            side.last_key_value()
        };
        let Some((&price, &avail)) = best else { break };
        let lots = want.min(avail);
        want -= lots;
        let left = avail - lots;
        if left == 0 {
            side.remove(&price);
        } else {
            side.insert(price, left);
        }
        changes.insert((!buy, price), left);
        prints.push(Print { price, lots, buy });
    }
    prints
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_is_a_day_averaging_one() {
        let day: u64 = (0..1_440).map(activity).sum();
        let avg = day / 1_440;
        assert!((95..=110).contains(&avg), "average activity {avg} %");
        assert!(activity(15 * 60) > 2 * activity(5 * 60));
        assert_eq!(activity(0), activity(1_440));
    }

    #[test]
    fn takers_consume_what_they_print() {
        let mut rng = Rng::new(7);
        let mut bids: BTreeMap<i64, i64> = (90..100).map(|p| (p, 1_000)).collect();
        let mut asks: BTreeMap<i64, i64> = (101..111).map(|p| (p, 1_000)).collect();
        let total = |m: &BTreeMap<i64, i64>| m.values().sum::<i64>();
        let (b0, a0) = (total(&bids), total(&asks));
        let mut printed = (0, 0);
        for step in 0..2_000 {
            let mut changes = BTreeMap::new();
            for p in take(
                &mut rng,
                step,
                None,
                5_000,
                &mut bids,
                &mut asks,
                &mut changes,
            ) {
                // A buy prints at the best ask (the lowest), a sell at the best bid.
                if p.buy {
                    assert!(asks.first_key_value().is_none_or(|(a, _)| *a >= p.price));
                    printed.0 += p.lots;
                } else {
                    assert!(bids.last_key_value().is_none_or(|(b, _)| *b <= p.price));
                    printed.1 += p.lots;
                }
                assert_eq!(changes.get(&(!p.buy, p.price)).copied().unwrap_or(-1), {
                    let side = if p.buy { &asks } else { &bids };
                    side.get(&p.price).copied().unwrap_or(0)
                });
            }
        }
        assert!(printed.0 > 0 && printed.1 > 0);
        assert_eq!(a0 - total(&asks), printed.0);
        assert_eq!(b0 - total(&bids), printed.1);
    }
}
