#!/usr/bin/env python3
"""Strategy figures (docs/PERFORMANCE.md, "Strategies"): how closely POV orders track their
participation, interval by interval, and how long a day-long VWAP preview takes.

    python3 -m venv /tmp/v && /tmp/v/bin/pip install ./python
    target/debug/papertwap-server &          # the embedded defaults: sim + SQLite
    /tmp/v/bin/python scripts/strategy-figures.py http://127.0.0.1:8000

Runs three 60 s POV orders (participation 0.05, 0.1, 0.2; one slice every 2 s) one after the
other on sim BTC-USDT (about 3 minutes) and prints, for each, how many intervals were within
±20 % of the target participation.
"""

from __future__ import annotations

import statistics
import sys
import time
from decimal import Decimal

from papertwap import Client, order


def main(url: str) -> None:
    c = Client(url)
    c.login("premium", "CryptoTWAPpremium")
    c.order_book("sim", "BTC-USDT", 1)
    t0 = time.monotonic()
    c.preview(order("vwap", None, "sim", "BTC-USDT", "buy", "2.4", duration_secs=86400, interval_secs=3600))
    print(f"preview of a 24-slice VWAP (7 days of candles read): {time.monotonic() - t0:.3f} s")
    for p in ("0.05", "0.1", "0.2"):
        tid = f"figures-pov-{p}-{int(time.time())}"
        c.submit_order(
            order("pov", tid, "sim", "BTC-USDT", "buy", "50", duration_secs=60, interval_secs=2, participation=p)
        )
        o = c.wait_for_final(tid, poll=1, timeout=120)
        assert o.slices is not None
        rates = [s.filled_quantity / s.market_volume for s in o.slices if s.market_volume and s.skipped is None]
        target = Decimal(p)
        within = sum(1 for r in rates if abs(r - target) <= target / 5)
        print(
            f"POV p={p}: {within}/{len(rates)} intervals with volume within ±20 % "
            f"(of {len(o.slices)}), median interval rate {statistics.median(rates):.4f}, "
            f"order participation {o.analytics.participation_rate}"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
