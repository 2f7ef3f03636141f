/* papertwap dashboard: the lab.
 *
 * The "what if" panel of a finished order's detail (the same order re-run on the market
 * recorded during its window, with changes, shown beside the original: figures, fills over
 * the mid, both shortfall waterfalls) and the backtests panel (an order and its variants on a
 * recorded past window, side by side; the user's stored backtests). Uses what app.js shares
 * on `window.PT`; numbers are formatted by `window.PTF` (fmt.js).
 */
(() => {
  "use strict";
  const { api, el, $, fmtTime, fmtDateTime, css, num, drawWaterfall, strategyText, S, FINAL, decimalRe } = window.PT;

  // ---------- shared: the figures a comparison shows ----------
  const bps = window.PTF.bps;
  const fm = (o) => window.PTF.for(o.exchange, o.symbol);
  const ROWS = [
    ["Strategy", (o) => strategyText(o)],
    ["Status", (o) => o.status],
    ["Slices", (o) => `${o.slices_done} done · ${o.slices_skipped} skipped`],
    ["Every", (o) => `${o.interval_ms / 1000} s · catch-up ${o.catch_up}`],
    ["Filled", (o) => fm(o).qty(o.filled_quantity)],
    ["Avg price", (o) => fm(o).avg(o.avg_price)],
    ["Limit", (o) => (o.limit_price ? fm(o).price(o.limit_price) : "none")],
    ["vs arrival", (o) => bps(o.analytics.slippage_vs_arrival_bps)],
    ["vs market VWAP", (o) => bps(o.analytics.slippage_vs_market_vwap_bps)],
    ["Shortfall", (o) => bps(o.analytics.implementation_shortfall_bps?.total)],
    ["Fees", (o) => fm(o).quote(o.fees)],
  ];
  /** A table with one column per run. */
  function compare(table, heads, orders) {
    table.replaceChildren(
      el("tr", {}, el("th", { text: "" }), ...heads.map((h) => el("th", { text: h }))),
      ...ROWS.map(([label, f]) => el("tr", {}, el("th", { text: label }),
        ...orders.map((o) => el("td", { text: f(o) })))));
  }
  function showErr(node, form, e) {
    for (const f of form.querySelectorAll(".field")) f.classList.remove("bad");
    const m = /^(?:variant #\d+: )?(\w+)/.exec(e.detail || "");
    const field = m && form.querySelector(`.field[data-field="${m[1]}"]`);
    if (field) field.classList.add("bad");
    node.textContent = `${e.detail || e} (${e.code || "error"})`;
  }

  // ---------- what if (order detail) ----------
  const wf = $("#whatif-form");
  let original = null;
  let chart = null;
  window.PT.onDetail = (o) => {
    const changed = !original || original.token_id !== o.token_id;
    original = o;
    $("#whatif").hidden = !FINAL.has(o.status);
    if (changed) { $("#whatif-result").hidden = true; $("#whatif-err").textContent = ""; }
  };
  /** The changes the form asks for (blank = as sent; "none" removes the limit). */
  function changes() {
    const out = {};
    for (const k of ["interval_secs", "slices", "duration_secs"]) {
      const v = wf[k].value.trim();
      if (v !== "") out[k] = /^\d+$/.test(v) ? Number(v) : v;
    }
    if (wf.catch_up.value) out.catch_up = wf.catch_up.value;
    const lim = wf.limit_price.value.trim();
    if (lim.toLowerCase() === "none") out.limit_price = null;
    else if (lim !== "") out.limit_price = lim;
    if (wf.strategy.value) out.strategy = wf.strategy.value;
    const p = wf.participation.value.trim();
    if (p !== "") out.participation = p;
    return out;
  }
  function fillsOf(o) {
    const m = new Map();
    for (const s of o.slices || []) m.set(Math.round(Date.parse(s.executed_at) / 100) / 10, s);
    return m;
  }
  function drawCompare(a, b) {
    const sa = fillsOf(a), sb = fillsOf(b);
    const xs = [...new Set([...sa.keys(), ...sb.keys()])].sort((x, y) => x - y);
    const pick = (m, x, f) => { const s = m.get(x); return s ? f(s) : null; };
    const fill = (s) => (Number(s.filled_quantity) > 0 ? num(s.avg_price) : null);
    const data = [xs,
      xs.map((x) => pick(sa, x, (s) => num(s.mid)) ?? pick(sb, x, (s) => num(s.mid))),
      xs.map((x) => pick(sa, x, fill)),
      xs.map((x) => pick(sb, x, fill))];
    if (!chart) {
      chart = window.PT.sized($("#whatif-chart"), {
        scales: { x: { time: true } },
        axes: [window.PT.axis(), { ...window.PT.axis(), size: 70 }],
        series: [{},
          { label: "Mid", stroke: css("--accent"), width: 2, spanGaps: true, points: { show: false } },
          { label: "Original fill", stroke: css("--warn"), paths: () => null, points: { show: true, size: 9, fill: css("--warn") } },
          { label: "What-if fill", stroke: css("--bid"), paths: () => null, points: { show: true, size: 7, fill: css("--bid") } }],
      }, data);
    } else chart.setData(data);
  }
  wf.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!original) return;
    const btn = $("#whatif-run");
    btn.disabled = true;
    $("#whatif-err").textContent = "";
    try {
      const { data: w } = await api("POST", `/orders/${encodeURIComponent(original.token_id)}/whatif`, { json: changes() });
      $("#whatif-result").hidden = false;
      const said = Object.keys(w.overrides).length ? JSON.stringify(w.overrides) : "no changes";
      $("#whatif-verdict").replaceChildren(`Re-run with ${said}: `, w.reproduces_original
        ? el("b", { class: "same", text: "reproduces the original fill for fill" })
        : el("b", { class: "diff", text: "a different execution on the same market" }));
      compare($("#whatif-compare"), ["Original", "What-if"], [original, w.order]);
      drawCompare(original, w.order);
      drawWaterfall($("#whatif-wf-orig"), original.analytics.implementation_shortfall_bps, original.analytics.implementation_shortfall);
      drawWaterfall($("#whatif-wf-sim"), w.order.analytics.implementation_shortfall_bps, w.order.analytics.implementation_shortfall);
    } catch (e) {
      showErr($("#whatif-err"), wf, e);
    } finally { btn.disabled = false; }
  });

  // ---------- backtests ----------
  const bf = $("#bt-form");
  function utcText(d) { return d.toISOString().slice(0, 19); }
  bf.start_time.value = utcText(new Date(Date.now() - 5 * 60_000));
  /** The pair a backtest runs on: the order's it was filled from, else the selected one. */
  function btPair() {
    return bf.dataset.symbol
      ? { exchange: bf.dataset.exchange, symbol: bf.dataset.symbol }
      : { exchange: S.exchange, symbol: S.pair ? S.pair.symbol : "" };
  }
  function showPair() { const p = btPair(); $("#bt-pair").textContent = p.symbol ? `${p.exchange} · ${p.symbol}` : ""; }
  $("#whatif-to-bt").addEventListener("click", () => {
    const o = original;
    if (!o) return;
    Object.assign(bf.dataset, { exchange: o.exchange, symbol: o.symbol });
    bf.side.value = o.side;
    bf.quantity.value = o.quantity;
    bf.start_time.value = o.start_time.slice(0, 19);
    bf.duration_secs.value = String(o.duration_secs);
    bf.interval_secs.value = String(o.interval_ms / 1000);
    bf.strategy.value = o.strategy;
    showPair();
    $("#detail").close();
    $("#backtests").scrollIntoView({ behavior: "smooth" });
    bf.quantity.focus();
  });
  $("#pair").addEventListener("change", () => { delete bf.dataset.exchange; delete bf.dataset.symbol; setTimeout(showPair, 0); });
  function backtestBody() {
    const body = {
      ...btPair(), side: bf.side.value,
      quantity: bf.quantity.value.trim(), strategy: bf.strategy.value,
      // The field is UTC: a time without an offset gets one.
      start_time: bf.start_time.value.trim().replace(/^(\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?)$/, "$1Z"),
    };
    for (const k of ["duration_secs", "interval_secs"]) {
      const v = bf[k].value.trim();
      body[k] = /^\d+$/.test(v) ? Number(v) : v;
    }
    if (body.strategy === "pov") body.participation = "0.1";
    if (!decimalRe.test(body.quantity)) throw { detail: "quantity: a positive decimal, e.g. 0.1", code: "invalid_quantity" };
    const lines = bf.variants.value.split("\n").map((l) => l.trim()).filter(Boolean);
    body.variants = lines.map((l, i) => {
      try { return JSON.parse(l); } catch { throw { detail: `variants: line ${i + 1} is not JSON: ${l}`, code: "invalid_body" }; }
    });
    return body;
  }
  function showBacktest(b) {
    $("#bt-result").hidden = false;
    $("#bt-title").textContent = `${b.id} · ${b.request.exchange} ${b.request.symbol} ${b.request.side} ${b.request.quantity} · ${fmtDateTime(b.window.start)} → ${fmtTime(b.window.end)}`;
    const heads = b.results.map((r, i) => (i === 0 ? "Base" : JSON.stringify(r.variant)));
    compare($("#bt-compare"), heads, b.results.map((r) => r.order));
  }
  async function loadBacktests() {
    let list;
    try { ({ data: list } = await api("GET", "/backtests?limit=20")); } catch { return; }
    const body = $("#bt-list tbody");
    if (!list.length) { body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "6", text: "none yet" }))); return; }
    body.replaceChildren(...list.map((b) => el("tr", { "data-id": b.id, onclick: () => showBacktest(b) },
      el("td", { text: b.id }), el("td", { text: fmtDateTime(b.created_at) }),
      el("td", { text: `${b.request.exchange} · ${b.request.symbol}` }), el("td", { class: b.request.side, text: b.request.side }),
      el("td", { text: `${fmtDateTime(b.window.start)} → ${fmtTime(b.window.end)}` }),
      el("td", { class: "num", text: String(b.results.length) }))));
  }
  bf.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = $("#bt-run");
    btn.disabled = true;
    $("#bt-err").textContent = "";
    try {
      const { data: b } = await api("POST", "/backtests", { json: backtestBody() });
      showBacktest(b);
      await loadBacktests();
    } catch (e) {
      showErr($("#bt-err"), bf, e);
    } finally { btn.disabled = false; }
  });
  window.PT.onSignedIn = () => { showPair(); return loadBacktests(); };
})();
