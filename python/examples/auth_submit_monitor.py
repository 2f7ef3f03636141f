"""Log in, submit a TWAP, and monitor it over REST polling and the WebSocket at once while
printing the top of the book; print the final analytics. (The Python twin of the Rust
example ``auth_submit_monitor``.)

    python examples/auth_submit_monitor.py [BASE_URL] [EXCHANGE] [SYMBOL]

Defaults: http://127.0.0.1:8000 sim BTC-USDT, the demo user premium / CryptoTWAPpremium (or
PAPERTWAP_USER / PAPERTWAP_PASSWORD).
"""

from __future__ import annotations

import asyncio
import os
import sys

from papertwap import AsyncClient, BookFrame, Order, OrderFrame


async def main(base: str, exchange: str, symbol: str) -> Order:
    user = os.environ.get("PAPERTWAP_USER", "premium")
    password = os.environ.get("PAPERTWAP_PASSWORD", "CryptoTWAPpremium")
    async with AsyncClient(base) as client:
        await client.login(user, password)
        print(f"logged in to {base} as {user}")
        async with client.stream() as stream:
            await stream.subscribe_orders()
            await stream.subscribe_book(exchange, symbol, depth=1, interval_ms=1000)

            token_id = f"example-py-{os.getpid()}"
            order = await client.submit_twap(
                token_id, exchange, symbol, "buy", "0.05", duration_secs=10, interval_secs=2
            )
            print(f"accepted {order.token_id} ({order.slices_total} slices, {order.status})")

            # REST polling in the background, the WebSocket in the foreground.
            poller = asyncio.create_task(client.wait_for_final(token_id, poll=0.5, timeout=60))
            async for msg in stream:
                if isinstance(msg, BookFrame):
                    bid, ask = msg.best_bid, msg.best_ask
                    print(
                        f"  book  {msg.exchange} {msg.symbol}  bid {bid and bid[0]}  "
                        f"ask {ask and ask[0]}  ({msg.health.state})"
                    )
                elif isinstance(msg, OrderFrame) and msg.order.token_id == token_id:
                    if msg.slice is not None:
                        s = msg.slice
                        print(
                            f"  slice {s.index} filled {s.filled_quantity} of "
                            f"{s.target_quantity} at {s.avg_price}"
                        )
                    o = msg.order
                    print(f"  order {o.status}: {o.filled_quantity}/{o.quantity} avg {o.avg_price}")
                    if o.status.is_final:
                        break
            done = await poller

    a = done.analytics
    print(f"final: {done.status}, filled {done.filled_quantity} at {done.avg_price}")
    print(f"  arrival mid {a.arrival_mid}, slippage vs arrival {a.slippage_vs_arrival_bps} bps")
    print(f"  market TWAP {a.market_twap}, slippage vs it {a.slippage_vs_market_twap_bps} bps")
    print(f"  spread cost {a.spread_cost}, fees {done.fees}")
    return done


if __name__ == "__main__":
    args = sys.argv[1:] + [None] * 3
    asyncio.run(main(args[0] or "http://127.0.0.1:8000", args[1] or "sim", args[2] or "BTC-USDT"))
