"""Notebook-style: run the same order as two TWAPs with different intervals side by side,
load their slices and fills with pandas, compare them, and save a plot of the fills over
the market mid.

    pip install './python[plot]'
    python examples/two_twaps.py [BASE_URL] [--duration SECS] [--out FILE.png]

Defaults: http://127.0.0.1:8000, 60 s, twap_comparison.png. Later: the same comparison as a
what-if on the recorded market.
"""

from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import pandas as pd

from papertwap import Client, Order, to_frame, twap

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("base", nargs="?", default="http://127.0.0.1:8000")
parser.add_argument("--exchange", default="sim")
parser.add_argument("--symbol", default="BTC-USDT")
parser.add_argument("--quantity", default="2")
parser.add_argument("--duration", type=int, default=60)
parser.add_argument("--out", default="twap_comparison.png")
args = parser.parse_args()

# %% Two TWAPs of the same size over the same window: few large slices vs many small ones.
client = Client(args.base)
client.login(
    os.environ.get("PAPERTWAP_USER", "premium"),
    os.environ.get("PAPERTWAP_PASSWORD", "CryptoTWAPpremium"),
)
run = os.getpid()
variants = {"coarse": max(1, args.duration // 4), "fine": max(1, args.duration // 20)}
orders = client.submit_batch(
    [
        twap(f"{name}-{run}", args.exchange, args.symbol, "buy", args.quantity,
             duration_secs=args.duration, interval_secs=interval)
        for name, interval in variants.items()
    ]
)  # fmt: skip
print(f"running {len(orders)} TWAPs of {args.quantity} {args.symbol} over {args.duration} s:")
for o in orders:
    print(f"  {o.token_id}: {o.slices_total} slices every {o.interval_secs} s")

# %% Wait for both, then load them with pandas.
done: dict[str, Order] = {
    name: client.wait_for_final(o.token_id, poll=1, timeout=args.duration + 60)
    for name, o in zip(variants, orders, strict=True)
}
summary = to_frame(list(done.values()))
summary.index = pd.Index(list(done), name="variant")
print(
    summary[["status", "filled_quantity", "avg_price", "slices_total", "slippage_vs_arrival_bps",
             "slippage_vs_market_twap_bps", "fees"]].to_string()
)  # fmt: skip

# %% Fills over the mid, one panel per variant.
fig, axes = plt.subplots(len(done), 1, sharex=True, figsize=(10, 3.2 * len(done)))
for ax, (name, order) in zip(axes, done.items(), strict=True):
    slices = to_frame(order)
    fills = to_frame(order, "fills")
    ax.plot(slices["executed_at"], slices["mid"], color="gray", lw=1, label="mid at slice")
    ax.step(
        slices["executed_at"],
        slices["best_ask"],
        color="tab:red",
        lw=0.8,
        where="post",
        label="best ask",
    )
    size = 10 + 200 * fills["quantity"] / max(fills["quantity"].max(), 1e-12)
    ax.scatter(
        fills["executed_at"], fills["price"], s=size, color="tab:blue", alpha=0.7,
        label="fills (size ∝ qty)",
    )  # fmt: skip
    if order.avg_price is not None:
        ax.axhline(
            float(order.avg_price),
            color="tab:blue",
            ls="--",
            lw=0.8,
            label=f"VWAP {order.avg_price}",
        )
    ax.set_title(f"{name}: every {order.interval_secs} s, {order.slices_total} slices")
    ax.set_ylabel(args.symbol)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.legend(loc="upper left", fontsize=7)
fig.tight_layout()
fig.savefig(args.out, dpi=110)
print(f"saved {args.out}")
client.close()
