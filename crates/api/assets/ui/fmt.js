/* papertwap dashboard: numbers for people.
 *
 * Prices at the pair's tick, average prices (VWAPs, mids) two places finer, quantities at the
 * pair's lot, quote amounts (fees, costs) to the tick and at least the cent, basis points to
 * 2 decimals. Rounding is done on the server's decimal strings, digit by digit (half away from
 * zero), never through floating point. A pair's places come from its venue's pair list, asked
 * once per venue; until it arrives, numbers show as sent and `onLoaded` is called when it does.
 */
(() => {
  "use strict";
  /** `s` (a decimal string) rounded half away from zero to `dp` places, exactly. */
  function round(s, dp) {
    if (s === null || s === undefined || s === "") return "—";
    let t = String(s).trim();
    if (!/^-?\d+(\.\d+)?$/.test(t)) return t;
    const neg = t.startsWith("-");
    if (neg) t = t.slice(1);
    let [int, frac = ""] = t.split(".");
    if (frac.length <= dp) {
      frac = frac.padEnd(dp, "0");
    } else {
      const up = frac.charCodeAt(dp) - 48 >= 5;
      const digits = (int + frac.slice(0, dp)).split("").map(Number);
      if (up) {
        let k = digits.length - 1;
        for (; k >= 0 && digits[k] === 9; k--) digits[k] = 0;
        if (k < 0) digits.unshift(1); else digits[k] += 1;
      }
      const all = digits.join("");
      int = all.slice(0, all.length - dp);
      frac = all.slice(all.length - dp);
    }
    int = int.replace(/^0+(?=\d)/, "") || "0";
    const out = dp > 0 ? `${int}.${frac}` : int;
    return (neg && /[1-9]/.test(out) ? "-" : "") + out;
  }
  /** Decimal places of a step such as "0.00100" (3). */
  const places = (step) => {
    const f = String(step).split(".")[1] || "";
    return f.replace(/0+$/, "").length;
  };

  const venues = new Map(); // exchange → Map(symbol → {p, q}) once loaded
  const asked = new Set();
  const F = { onLoaded: null, round };
  function load(exchange) {
    if (!exchange || asked.has(exchange)) return;
    asked.add(exchange);
    fetch(`/exchanges/${encodeURIComponent(exchange)}/pairs`)
      .then((r) => (r.ok ? r.json() : []))
      .then((list) => {
        venues.set(exchange, new Map(list.map((p) => [p.symbol, { p: places(p.price_tick), q: places(p.qty_step) }])));
        F.onLoaded?.();
      })
      .catch(() => {});
  }
  /** The pair's places, or null (and asked for) when not known yet; a routed order's
   * (`best`) have no one venue's: shown as sent. */
  function of(exchange, symbol) {
    if (exchange === "best") return null;
    const m = venues.get(exchange);
    if (!m) { load(exchange); return null; }
    return m.get(symbol) || null;
  }
  const as = (v, dp) => (v === null || v === undefined ? "—" : dp === null ? String(v) : round(v, dp));
  /** Formatters for one order's (or pair's) numbers. */
  F.for = (exchange, symbol) => {
    const pl = of(exchange, symbol);
    return {
      price: (v) => as(v, pl ? pl.p : null),
      avg: (v) => as(v, pl ? pl.p + 2 : null),
      qty: (v) => as(v, pl ? pl.q : null),
      quote: (v) => as(v, pl ? Math.max(2, pl.p) : null),
    };
  };
  /** Basis points, 2 decimals, with the unit. */
  F.bps = (v) => (v === null || v === undefined ? "—" : `${round(v, 2)} bps`);
  /** A ratio as a percentage with `dp` decimals. */
  F.pct = (v, dp = 2) => (v === null || v === undefined ? "—" : `${(Number(v) * 100).toFixed(dp)}%`);
  window.PTF = F;
})();
