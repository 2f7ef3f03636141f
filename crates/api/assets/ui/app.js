/* papertwap dashboard.
 *
 * One page, no framework, no build step: REST for market data and orders, one `/ws` socket
 * (authenticated by its first message) for the live book and the user's order updates.
 * Every price and quantity shown is the server's decimal string; sums and spreads are
 * computed exactly with BigInt decimals (`Dec`), never with floats. Floats are only used to
 * place things on a chart.
 */
(() => {
  "use strict";

  // ---------- exact decimals (display maths only; the server is authoritative) ----------
  const Dec = {
    parse(s) {
      const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(String(s).trim());
      if (!m) return null;
      const frac = m[3] || "";
      const int = BigInt((m[2] || "0") + frac) * (m[1] ? -1n : 1n);
      return { v: int, s: frac.length };
    },
    align(a, b) {
      const s = Math.max(a.s, b.s);
      return [a.v * 10n ** BigInt(s - a.s), b.v * 10n ** BigInt(s - b.s), s];
    },
    add(a, b) { const [x, y, s] = Dec.align(a, b); return { v: x + y, s }; },
    sub(a, b) { const [x, y, s] = Dec.align(a, b); return { v: x - y, s }; },
    half(a) { return { v: a.v * 5n, s: a.s + 1 }; },
    zero: { v: 0n, s: 0 },
    str(a, minScale = 0) {
      let v = a.v, s = a.s;
      while (s > minScale && v % 10n === 0n) { v /= 10n; s -= 1; }
      const neg = v < 0n;
      let d = (neg ? -v : v).toString().padStart(s + 1, "0");
      if (s > 0) d = d.slice(0, d.length - s) + "." + d.slice(d.length - s);
      return (neg ? "-" : "") + d;
    },
  };
  const num = (s) => (s === null || s === undefined ? null : Number(s));
  const decimalRe = /^\d{1,15}(\.\d{1,18})?$/;
  const $ = (sel, root = document) => root.querySelector(sel);
  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) if (k !== null && k !== undefined) e.append(k);
    return e;
  };
  const fmtTime = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "—");
  const fmtDateTime = (iso) => (iso ? new Date(iso).toLocaleString([], { hour12: false }) : "—");
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const FINAL = new Set(["filled", "expired", "cancelled"]);

  // ---------- state ----------
  const S = {
    token: null, exp: 0, user: null, password: null, refreshTimer: null,
    exchanges: [], exchange: null, pairs: [], pair: null,
    interval: "1m", klineTimer: null,
    ws: null, wsBackoff: 500, wsTimer: null, authed: false, bookSub: null,
    lastBook: null, lastFrameAt: 0,
    orders: new Map(), detailId: null, detailTimer: null,
  };

  // ---------- toasts ----------
  function toast(text, kind = "") {
    const t = el("div", { class: "toast " + kind, role: "status", text });
    $("#toasts").append(t);
    setTimeout(() => t.remove(), kind === "bad" ? 7000 : 4000);
  }

  // ---------- REST ----------
  class ApiError extends Error {
    constructor(status, code, detail) { super(detail); this.status = status; this.code = code; this.detail = detail; }
  }
  async function api(method, path, { json, form, auth = true, retried = false } = {}) {
    const headers = { Accept: "application/json" };
    let body;
    if (json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(json); }
    if (form) { body = new URLSearchParams(form); }
    if (auth && S.token) headers.Authorization = "Bearer " + S.token;
    let res;
    try {
      res = await fetch(path, { method, headers, body });
    } catch (e) {
      throw new ApiError(0, "unreachable", "the server cannot be reached");
    }
    const text = await res.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch { data = null; } }
    if (res.status === 401 && auth && S.token && !retried) {
      if (await refreshSession()) return api(method, path, { json, form, auth, retried: true });
      signedOut("Your session expired; sign in again.");
    }
    if (!res.ok) {
      const code = (data && data.code) || "http_" + res.status;
      const detail = (data && data.detail) || res.statusText || "request failed";
      throw new ApiError(res.status, code, detail);
    }
    return { status: res.status, data, headers: res.headers };
  }

  // ---------- session ----------
  function saveSession() {
    sessionStorage.setItem("papertwap.session", JSON.stringify({ token: S.token, exp: S.exp, user: S.user }));
  }
  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem("papertwap.session") || "null");
      if (s && s.token && s.exp > Date.now() + 5000) { S.token = s.token; S.exp = s.exp; S.user = s.user; return true; }
    } catch { /* ignore a corrupt entry */ }
    return false;
  }
  async function login(username, password) {
    const { data } = await api("POST", "/token", { form: { username, password }, auth: false });
    S.token = data.access_token;
    S.exp = Date.now() + data.expires_in * 1000;
    S.user = username;
    S.password = password; // memory only: lets the page renew the token before it expires
    saveSession();
    scheduleRefresh();
  }
  async function refreshSession() {
    if (!S.user || !S.password) return false;
    try {
      await login(S.user, S.password);
      if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify({ op: "auth", token: S.token }));
      return true;
    } catch { return false; }
  }
  function scheduleRefresh() {
    clearTimeout(S.refreshTimer);
    // With the password in memory, renew a minute early; after a reload, only at expiry.
    const wait = Math.max(5000, S.exp - Date.now() - (S.password ? 60000 : 1000));
    S.refreshTimer = setTimeout(async () => {
      if (!(await refreshSession())) signedOut("Your session expired; sign in again.");
    }, wait);
  }
  function signedOut(message) {
    S.token = null; S.exp = 0; S.password = null; S.authed = false;
    sessionStorage.removeItem("papertwap.session");
    clearTimeout(S.refreshTimer);
    if (S.ws) { const ws = S.ws; S.ws = null; ws.close(1000); }
    clearTimeout(S.wsTimer);
    $("#who").textContent = "";
    $("#logout").hidden = true;
    $("#login-hint").textContent = message || $("#login-hint").textContent;
    if (!$("#login").open) $("#login").showModal();
  }
  async function signedIn() {
    $("#who").textContent = S.user;
    $("#logout").hidden = false;
    if ($("#login").open) $("#login").close();
    connectWs();
    await loadOrders();
    window.PT.onSignedIn?.();
  }
  $("#login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    $("#login-err").textContent = "";
    const btn = $("button", f);
    btn.disabled = true;
    try {
      await login(f.username.value.trim(), f.password.value);
      f.password.value = "";
      await signedIn();
    } catch (e) {
      $("#login-err").textContent = e.status === 401 ? "Wrong username or password." : e.detail;
    } finally { btn.disabled = false; }
  });
  $("#login").addEventListener("cancel", (ev) => ev.preventDefault()); // Esc cannot skip sign-in
  $("#logout").addEventListener("click", () => signedOut("Signed out."));

  // ---------- charts ----------
  const axis = () => ({
    stroke: css("--dim"), grid: { stroke: css("--line"), width: 1 }, ticks: { stroke: css("--line"), width: 1 },
    font: "11px system-ui, sans-serif",
  });
  /** A chart filling `node`; its legend (when shown) fits inside the node's height too. */
  function sized(node, opts, data) {
    const legend = !(opts.legend && opts.legend.show === false) ? 40 : 0;
    const size = () => ({ width: Math.max(200, node.clientWidth), height: Math.max(120, (node.clientHeight || 200) - legend) });
    const u = new uPlot({ ...opts, ...size() }, data, node);
    new ResizeObserver(() => u.setSize(size())).observe(node);
    return u;
  }

  /** Draws OHLC candles from series 1–4 of a uPlot chart. */
  function candlePlugin() {
    return {
      hooks: {
        draw: (u) => {
          const [xs, o, h, l, c] = u.data;
          if (!xs || xs.length === 0) return;
          const ctx = u.ctx;
          const step = xs.length > 1 ? u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true) : 12;
          const w = Math.max(1, Math.min(18, Math.abs(step) * 0.7));
          ctx.save();
          ctx.beginPath();
          ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
          ctx.clip();
          for (let i = 0; i < xs.length; i++) {
            if (o[i] === null) continue;
            const x = u.valToPos(xs[i], "x", true);
            const up = c[i] >= o[i];
            ctx.strokeStyle = ctx.fillStyle = up ? css("--bid") : css("--ask");
            ctx.lineWidth = Math.max(1, devicePixelRatio);
            ctx.beginPath();
            ctx.moveTo(Math.round(x), u.valToPos(h[i], "y", true));
            ctx.lineTo(Math.round(x), u.valToPos(l[i], "y", true));
            ctx.stroke();
            const yo = u.valToPos(o[i], "y", true), yc = u.valToPos(c[i], "y", true);
            ctx.fillRect(Math.round(x - w / 2), Math.min(yo, yc), Math.round(w), Math.max(1, Math.abs(yc - yo)));
          }
          ctx.restore();
        },
      },
    };
  }
  let candles = null;
  function candleChart() {
    const hidden = { paths: () => null, points: { show: false } };
    return sized($("#candles"), {
      plugins: [candlePlugin()],
      scales: { x: { time: true }, vol: { range: (u, min, max) => [0, Math.max(1, max) * 4] } },
      axes: [axis(), { ...axis(), size: 70 }, { show: false, scale: "vol" }],
      series: [
        {},
        { label: "Open", ...hidden }, { label: "High", ...hidden },
        { label: "Low", ...hidden }, { label: "Close", ...hidden },
        { label: "Volume", scale: "vol", stroke: "rgba(138,148,166,.5)", fill: "rgba(138,148,166,.18)",
          paths: uPlot.paths.bars({ size: [0.7, 18] }), points: { show: false } },
      ],
      legend: { live: true },
      cursor: { points: { show: false } },
    }, [[], [], [], [], [], []]);
  }
  async function loadKlines() {
    const pair = S.pair, ex = S.exchange;
    if (!pair) return;
    const path = `/klines/${encodeURIComponent(ex)}/${encodeURIComponent(pair.symbol)}?interval=${S.interval}&limit=120`;
    try {
      const { data } = await api("GET", path);
      if (S.pair !== pair || S.exchange !== ex) return;
      const cols = [[], [], [], [], [], []];
      for (const k of data) {
        cols[0].push(Date.parse(k.open_time) / 1000);
        cols[1].push(num(k.open)); cols[2].push(num(k.high)); cols[3].push(num(k.low));
        cols[4].push(num(k.close)); cols[5].push(num(k.volume));
      }
      candles = candles || candleChart();
      candles.setData(cols);
      const last = data[data.length - 1];
      $("#candles-meta").textContent = last
        ? `${ex} · ${pair.symbol} · ${S.interval} · last ${last.close}${last.closed ? "" : " (open candle)"}`
        : `${ex} · ${pair.symbol} · no candles yet`;
    } catch (e) {
      $("#candles-meta").textContent = `klines unavailable: ${e.detail}`;
    }
  }
  const INTERVALS = ["1m", "5m", "15m", "1h", "4h", "1d"];
  for (const iv of INTERVALS) {
    $("#intervals").append(el("button", {
      type: "button", class: iv === S.interval ? "on" : "", "data-interval": iv, text: iv,
      onclick: (ev) => {
        S.interval = iv;
        for (const b of $("#intervals").children) b.classList.toggle("on", b === ev.target);
        loadKlines();
      },
    }));
  }

  let depth = null;
  function depthChart() {
    return sized($("#depth"), {
      scales: { x: { time: false } },
      axes: [{ ...axis(), values: (u, vals) => vals.map((v) => v.toLocaleString()) }, { ...axis(), size: 50 }],
      series: [
        { label: "Price" },
        { label: "Bids", stroke: css("--bid"), fill: "rgba(46,189,133,.18)", paths: uPlot.paths.stepped({ align: -1 }), points: { show: false } },
        { label: "Asks", stroke: css("--ask"), fill: "rgba(240,82,106,.18)", paths: uPlot.paths.stepped({ align: 1 }), points: { show: false } },
      ],
      legend: { show: false },
      cursor: { points: { show: false } },
    }, [[], [], []]);
  }
  function drawDepth(book) {
    const xs = [], b = [], a = [];
    let cum = 0;
    const bidCum = book.bids.map(([p, q]) => { cum += Number(q); return [Number(p), cum]; }).reverse();
    for (const [p, v] of bidCum) { xs.push(p); b.push(v); a.push(null); }
    cum = 0;
    for (const [p, q] of book.asks) { cum += Number(q); xs.push(Number(p)); b.push(null); a.push(cum); }
    depth = depth || depthChart();
    depth.setData([xs, b, a]);
  }

  // ---------- ladder ----------
  const LADDER_ROWS = 10;
  function renderLadder(book) {
    const prev = S.lastBook && S.lastBook.symbol === book.symbol && S.lastBook.exchange === book.exchange ? S.lastBook : null;
    const prevQty = new Map();
    if (prev) for (const [p, q] of [...prev.bids, ...prev.asks]) prevQty.set(p, q);
    const asks = book.asks.slice(0, LADDER_ROWS), bids = book.bids.slice(0, LADDER_ROWS);
    const maxQ = Math.max(1e-18, ...asks.map((l) => Number(l[1])), ...bids.map((l) => Number(l[1])));
    const rows = (levels, color) => {
      let cum = Dec.zero;
      return levels.map(([p, q]) => {
        const dq = Dec.parse(q);
        cum = dq ? Dec.add(cum, dq) : cum;
        const pct = Math.min(100, (Number(q) / maxQ) * 100).toFixed(1);
        const tr = el("tr", { class: "lvl" + (prev && prevQty.get(p) !== q ? " flash" : "") },
          el("td", { text: p }), el("td", { text: q }), el("td", { text: Dec.str(cum, dq ? dq.s : 0) }));
        tr.style.backgroundImage = `linear-gradient(to left, ${color} ${pct}%, transparent ${pct}%)`;
        return tr;
      });
    };
    $("#asks").replaceChildren(...rows(asks, "rgba(240,82,106,.14)").reverse());
    $("#bids").replaceChildren(...rows(bids, "rgba(46,189,133,.14)"));
    const bb = bids[0] && Dec.parse(bids[0][0]), ba = asks[0] && Dec.parse(asks[0][0]);
    const sp = $("#spread");
    if (bb && ba) {
      const spread = Dec.sub(ba, bb), mid = Dec.half(Dec.add(ba, bb));
      const bps = (Number(Dec.str(spread)) / Number(Dec.str(mid))) * 1e4;
      const shown = bps >= 1 ? bps.toFixed(2) : bps.toPrecision(2);
      sp.replaceChildren("mid ", el("b", { text: Dec.str(mid) }), ` · spread ${Dec.str(spread)} (${shown} bps)`);
    } else {
      sp.textContent = book.health.state === "live" ? "one side of the book is empty" : `book ${book.health.state}`;
    }
    $("#book-meta").textContent = `${book.exchange} · ${book.symbol}${book.seq !== null && book.seq !== undefined ? " · seq " + book.seq : ""}`;
  }
  function renderHealth(h) {
    const b = $("#health");
    if (!h) { b.className = "badge"; b.textContent = "no data"; b.title = "no book frame received"; return; }
    const state = h.crossed ? "crossed" : h.state;
    b.className = "badge " + state;
    b.textContent = state + (h.age_ms !== null && h.age_ms !== undefined ? ` · ${h.age_ms} ms` : "");
    b.title = `resyncs ${h.resyncs} · checksum failures ${h.checksum_failures} · orphan deletes ${h.orphan_deletes}`
      + (h.checksum_unreliable ? " · checksum unreliable" : "") + (h.last_error ? ` · last error: ${h.last_error}` : "");
  }
  setInterval(() => {
    if (S.authed && S.bookSub && Date.now() - S.lastFrameAt > 5000) renderHealth(null);
  }, 1000);

  // ---------- time and sales ----------
  const TAPE_ROWS = 50;
  function tapeTime(iso) {
    const d = new Date(iso);
    const p2 = (n) => String(n).padStart(2, "0");
    return `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, "0")}`;
  }
  function addTrades(trades, fresh) {
    const body = $("#trades");
    if (!S.tapeIds) S.tapeIds = new Set();
    const rows = [];
    for (const t of trades) {
      if (S.tapeIds.has(t.trade_id)) continue; // the history and the stream overlap
      S.tapeIds.add(t.trade_id);
      rows.push(el("tr", { class: t.taker_side + (fresh ? " fresh" : ""), "data-id": t.trade_id, title: `${t.taker_side} · id ${t.trade_id} · venue ${t.exchange_ts}` },
        el("td", { text: tapeTime(t.exchange_ts) }), el("td", { text: t.price }), el("td", { text: t.qty })));
    }
    if (!rows.length) return;
    const empty = body.querySelector(".empty");
    if (empty) empty.remove();
    body.prepend(...rows.reverse()); // newest on top
    while (body.children.length > TAPE_ROWS) body.lastElementChild.remove();
    if (S.tapeIds.size > 5000) S.tapeIds = new Set([...body.children].map((r) => r.dataset.id));
    $("#tape-meta").textContent = `${body.children.length} latest`;
  }
  async function loadTrades() {
    $("#trades").replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "3", text: "no trades yet" })));
    S.tapeIds = new Set();
    if (!S.pair) return;
    const want = `${S.exchange}/${S.pair.symbol}`;
    try {
      const { data } = await api("GET", `/trades/${encodeURIComponent(S.exchange)}/${encodeURIComponent(S.pair.symbol)}?limit=${TAPE_ROWS}`, { auth: false });
      if (want === `${S.exchange}/${S.pair && S.pair.symbol}`) addTrades(data, false);
    } catch (e) {
      $("#tape-meta").textContent = e.detail || "unavailable";
    }
  }

  // ---------- WebSocket ----------
  function wsSend(msg) { if (S.ws && S.ws.readyState === WebSocket.OPEN) S.ws.send(JSON.stringify(msg)); }
  function connectWs() {
    if (!S.token || S.ws) return;
    const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
    S.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ op: "auth", token: S.token }));
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      switch (m.type) {
        case "authenticated":
          S.wsBackoff = 500;
          if (!S.authed) {
            S.authed = true;
            wsSend({ op: "subscribe", channel: "orders" });
            subscribeBook();
            loadOrders(); // catch up with anything missed while disconnected
          }
          break;
        case "book":
          if (S.bookSub && m.exchange === S.bookSub.exchange && m.symbol === S.bookSub.symbol) {
            S.lastFrameAt = Date.now();
            renderHealth(m.health);
            renderLadder(m);
            drawDepth(m);
            S.lastBook = m;
            updatePreview();
          }
          break;
        case "trades":
          if (S.bookSub && m.exchange === S.bookSub.exchange && m.symbol === S.bookSub.symbol) addTrades(m.trades, true);
          break;
        case "order":
          upsertOrder(m.order);
          if (S.detailId === m.order.token_id) refreshDetailSoon();
          break;
        case "error":
          if (["token_expired", "invalid_token", "unauthenticated", "user_mismatch"].includes(m.code)) {
            refreshSession().then((ok) => { if (!ok) signedOut("Your session expired; sign in again."); });
          } else if (m.code === "orders_lagged") {
            loadOrders();
          } else if (m.code !== "not_subscribed") {
            toast(`Live feed: ${m.detail}`, "bad");
          }
          break;
        default: break; // subscribed, unsubscribed, pong
      }
    };
    ws.onclose = () => {
      if (S.ws !== ws) return; // replaced or signed out
      S.ws = null; S.authed = false;
      if (!S.token) return;
      S.wsTimer = setTimeout(connectWs, S.wsBackoff);
      S.wsBackoff = Math.min(10000, S.wsBackoff * 2);
    };
  }
  function subscribeBook() {
    if (!S.pair) return;
    const want = { exchange: S.exchange, symbol: S.pair.symbol };
    if (S.bookSub && S.authed) {
      wsSend({ op: "unsubscribe", channel: "book", ...S.bookSub });
      wsSend({ op: "unsubscribe", channel: "trades", ...S.bookSub });
    }
    S.bookSub = want;
    S.lastBook = null;
    if (S.authed) {
      wsSend({ op: "subscribe", channel: "book", ...want, depth: 20, interval_ms: 1000 });
      wsSend({ op: "subscribe", channel: "trades", ...want, interval_ms: 250 });
    }
  }
  setInterval(() => wsSend({ op: "ping" }), 25000);

  // ---------- pickers ----------
  async function loadExchanges() {
    const { data } = await api("GET", "/exchanges", { auth: false });
    S.exchanges = data;
    const sel = $("#exchange");
    sel.replaceChildren(...data.map((x) => {
      const o = el("option", { value: x.id, text: x.status === "connected" ? x.name : `${x.name} (${x.status})` });
      if (x.status !== "connected") o.disabled = true;
      if (x.last_error) o.title = x.last_error;
      return o;
    }));
  }
  async function selectExchange(id, symbol) {
    S.exchange = id;
    $("#exchange").value = id;
    try {
      const { data } = await api("GET", `/exchanges/${encodeURIComponent(id)}/pairs`);
      S.pairs = data.filter((p) => p.status === "trading");
    } catch (e) {
      S.pairs = [];
      toast(`Pairs of ${id}: ${e.detail}`, "bad");
    }
    $("#pairs").replaceChildren(...S.pairs.map((p) => el("option", { value: p.symbol, text: `${p.base}/${p.quote}` })));
    const pick = findPair(symbol) || findPair("BTC-USDT") || findPair("BTC-USD") || S.pairs[0] || null;
    selectPair(pick);
  }
  function findPair(text) {
    if (!text) return null;
    const t = text.trim().toUpperCase().replace(/[/_ ]/g, "-");
    const flat = t.replace(/-/g, "");
    return S.pairs.find((p) => p.symbol === t) || S.pairs.find((p) => p.exchange_symbol.toUpperCase() === flat
      || p.symbol.replace("-", "") === flat) || null;
  }
  function selectPair(pair) {
    S.pair = pair;
    $("#pair").value = pair ? pair.symbol : "";
    $("#pair").classList.remove("bad");
    $("#qty-unit").textContent = pair ? `${pair.base} · step ${pair.qty_step} · min ${pair.min_qty}` : "";
    $("#px-unit").textContent = pair ? `${pair.quote} · optional` : "optional";
    $("#asks").replaceChildren(); $("#bids").replaceChildren();
    $("#spread").textContent = pair ? "waiting for the book…" : "no pair";
    renderHealth(null);
    if (pair) history.replaceState(null, "", `#${S.exchange}/${pair.symbol}`);
    subscribeBook();
    loadKlines();
    loadTrades();
    updatePreview();
  }
  $("#exchange").addEventListener("change", (ev) => selectExchange(ev.target.value, S.pair && S.pair.symbol));
  $("#pair").addEventListener("change", (ev) => {
    const p = findPair(ev.target.value);
    if (p) selectPair(p);
    else { ev.target.classList.add("bad"); toast(`No trading pair "${ev.target.value}" on ${S.exchange}`, "bad"); }
  });
  $("#pair").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); ev.target.dispatchEvent(new Event("change")); }
  });

  // ---------- order ticket (TWAP, VWAP, POV) ----------
  const form = $("#twap");
  const FIELD_OF = {
    invalid_token_id: "token_id", token_id_conflict: "token_id",
    invalid_quantity: "quantity", slice_too_small: "quantity",
    invalid_limit_price: "limit_price", invalid_side: "side", invalid_catch_up: "catch_up",
    invalid_start_time: "duration_secs", invalid_jitter: "jitter_time_pct",
    invalid_profile_days: "profile_days", invalid_participation: "participation",
    invalid_max_slice_qty: "max_slice_qty", invalid_latency: "latency_ms",
  };
  const STRATEGY_NAME = { twap: "TWAP", vwap: "VWAP", pov: "POV" };
  function strategy() { return form.strategy.value; }
  function showStrategy() {
    for (const p of form.querySelectorAll(".params")) p.hidden = p.dataset.for !== strategy();
    $("#submit").textContent = `Submit ${STRATEGY_NAME[strategy()]}`;
    $("#preview-box").hidden = true;
  }
  function newTokenId() {
    const d = new Date();
    const p = (n, w = 2) => String(n).padStart(w, "0");
    const rnd = Array.from(crypto.getRandomValues(new Uint8Array(3)), (b) => b.toString(16).padStart(2, "0")).join("");
    return `ui-${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}-${rnd}`;
  }
  form.token_id.value = newTokenId();
  showStrategy();
  function mode() { return form.mode.value; }
  form.addEventListener("change", (ev) => {
    if (ev.target.name === "mode") {
      $("#f-interval").hidden = mode() !== "interval";
      $("#f-slices").hidden = mode() !== "slices";
    }
    if (ev.target.name === "strategy") showStrategy();
    updatePreview();
  });
  form.addEventListener("input", (ev) => {
    const f = ev.target.closest(".field");
    if (f) { f.classList.remove("bad"); $(".err", f).textContent = ""; }
    updatePreview();
  });
  function clearErrors() {
    for (const f of form.querySelectorAll(".field")) { f.classList.remove("bad"); const e = $(".err", f); if (e) e.textContent = ""; }
    $("#form-err").textContent = "";
  }
  function fieldError(name, text) {
    const f = form.querySelector(`.field[data-field="${name}"]`);
    if (!f || f.hidden) { $("#form-err").textContent = text; return; }
    f.classList.add("bad");
    $(".err", f).textContent = text;
  }
  function intField(name, min, max) {
    const v = form[name].value.trim();
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) return { err: `a whole number from ${min} to ${max}` };
    return { v: Number(v) };
  }
  /** The request body, or field errors found before asking the server. */
  function ticket() {
    const errs = [];
    const body = {
      token_id: form.token_id.value.trim(), exchange: form.best.checked ? "best" : S.exchange, symbol: S.pair ? S.pair.symbol : "",
      side: form.side.value, quantity: form.quantity.value.trim(), catch_up: form.catch_up.value,
    };
    if (!decimalRe.test(body.quantity)) errs.push(["quantity", "a decimal number such as 0.5"]);
    const lp = form.limit_price.value.trim();
    if (lp) { if (decimalRe.test(lp)) body.limit_price = lp; else errs.push(["limit_price", "a decimal price, or empty for none"]); }
    const dur = intField("duration_secs", 1, 604800);
    if (dur.err) errs.push(["duration_secs", dur.err]); else body.duration_secs = dur.v;
    if (mode() === "interval") {
      const iv = intField("interval_secs", 1, 604800);
      if (iv.err) errs.push(["interval_secs", iv.err]); else body.interval_secs = iv.v;
    } else {
      const n = intField("slices", 1, 10000);
      if (n.err) errs.push(["slices", n.err]); else body.slices = n.v;
    }
    if (!body.token_id) errs.push(["token_id", "give the order an id"]);
    body.strategy = strategy();
    if (body.strategy === "twap" && form.jitter_seed.value.trim()) {
      const seed = form.jitter_seed.value.trim();
      const t = intField("jitter_time_pct", 0, 50), z = intField("jitter_size_pct", 0, 50);
      if (!/^\d{1,15}$/.test(seed)) errs.push(["jitter_seed", "a whole number, or empty for no jitter"]);
      else if (t.err) errs.push(["jitter_time_pct", t.err]);
      else if (z.err) errs.push(["jitter_size_pct", z.err]);
      else body.jitter = { seed: Number(seed), time_pct: t.v, size_pct: z.v };
    }
    if (body.strategy === "vwap") {
      const pd = intField("profile_days", 1, 30);
      if (pd.err) errs.push(["profile_days", pd.err]); else body.profile_days = pd.v;
    }
    if (body.strategy === "pov") {
      const p = form.participation.value.trim();
      if (!decimalRe.test(p)) errs.push(["participation", "a share such as 0.1"]); else body.participation = p;
      const m = form.max_slice_qty.value.trim();
      if (m) { if (decimalRe.test(m)) body.max_slice_qty = m; else errs.push(["max_slice_qty", "a decimal quantity, or empty for no cap"]); }
    }
    const lat = intField("latency_ms", 0, 5000);
    if (lat.err) errs.push(["latency_ms", lat.err]); else if (lat.v) body.latency_ms = lat.v;
    return { body, errs };
  }
  /** A small SVG bar chart: one bar per value, `title`s for hovering. */
  function svgBars(values, titles, color) {
    const w = 300, h = 70, n = Math.max(1, values.length), max = Math.max(...values, 1e-18);
    const bw = w / n;
    const bars = values.map((v, i) => {
      const bh = Math.max(1, (v / max) * (h - 4));
      return `<rect x="${(i * bw + bw * 0.1).toFixed(2)}" y="${(h - bh).toFixed(2)}" width="${Math.max(0.5, bw * 0.8).toFixed(2)}" height="${bh.toFixed(2)}" fill="${color}"><title>${titles[i]}</title></rect>`;
    }).join("");
    return `<svg viewBox="0 0 ${w} ${h}" preserveAspectRatio="none" height="${h}" role="img">${bars}</svg>`;
  }
  function showPreview(p) {
    const t = p.totals;
    $("#preview-summary").textContent = `${p.schedule.length} slices · ${t.quantity} ${S.pair ? S.pair.base : ""} · exp. VWAP ${t.expected_vwap || "—"} · ${t.expected_cost_bps ?? "—"} bps vs mid · fees ${t.expected_fees} · fillable ${(Number(t.fillable_ratio) * 100).toFixed(1)}%`;
    const qs = p.schedule.map((s) => Number(s.target_quantity));
    const titles = p.schedule.map((s) => `#${s.index} ${fmtTime(s.scheduled_at)}: ${s.target_quantity}${p.volume_profile ? ` (share ${p.volume_profile[s.index]})` : ""}`);
    $("#schedule-chart").innerHTML = svgBars(qs, titles, css("--accent"));
    $("#preview-estimates").replaceChildren(...p.estimates.map((e) => el("li", { title: e.note },
      el("b", { text: e.method.replace(/_/g, " ") }), ` ${e.cost_bps ?? "—"} bps`, e.cost ? ` (${e.cost} ${S.pair ? S.pair.quote : ""})` : "",
      e.sigma_daily ? ` · σ ${e.sigma_daily} · daily volume ${e.daily_volume}` : "")));
    $("#preview-box").hidden = false;
  }
  function showTicketError(e) {
    if (e.code === "invalid_schedule") {
      fieldError(mode() === "interval" ? "interval_secs" : "slices", e.detail);
      $(`.field[data-field="duration_secs"]`, form).classList.add("bad");
    } else if (FIELD_OF[e.code]) {
      fieldError(FIELD_OF[e.code], e.detail);
    } else {
      $("#form-err").textContent = e.status === 429 ? `Too many requests: ${e.detail}` : e.detail;
    }
  }
  $("#preview-btn").addEventListener("click", async () => {
    clearErrors();
    if (!S.token) { signedOut("Sign in to preview orders."); return; }
    const { body, errs } = ticket();
    if (!S.pair) { $("#form-err").textContent = "Pick a trading pair first."; return; }
    if (errs.length) { for (const [f, t] of errs) fieldError(f, t); return; }
    const { token_id: _id, ...req } = body;
    const btn = $("#preview-btn");
    btn.disabled = true;
    try {
      const { data } = await api("POST", "/orders/preview", { json: req });
      showPreview(data);
    } catch (e) { showTicketError(e); } finally { btn.disabled = false; }
  });
  function updatePreview() {
    const { body, errs } = ticket();
    const p = $("#preview");
    if (errs.length || !S.pair) { p.textContent = ""; return; }
    const n = body.slices || Math.ceil(body.duration_secs / body.interval_secs);
    const every = body.interval_secs || Math.max(1, body.duration_secs / body.slices);
    const per = Number(body.quantity) / n;
    const step = Dec.parse(S.pair.qty_step);
    let text = body.strategy === "pov"
      ? `${n} slice${n === 1 ? "" : "s"}, each ${body.participation || "?"} of the volume printed in its ${+every.toFixed(3)} s`
      : `${n} slice${n === 1 ? "" : "s"} of ≈ ${per.toFixed(step ? step.s : 8)} ${S.pair.base}${body.strategy === "vwap" ? " on average (by the volume profile)" : ""} every ${+every.toFixed(3)} s`;
    const side = body.side === "buy" ? S.lastBook && S.lastBook.asks[0] : S.lastBook && S.lastBook.bids[0];
    if (side) text += ` · ≈ ${(Number(body.quantity) * Number(side[0])).toLocaleString(undefined, { maximumFractionDigits: 2 })} ${S.pair.quote} at the touch`;
    p.textContent = text;
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors();
    if (!S.token) { signedOut("Sign in to submit orders."); return; }
    const { body, errs } = ticket();
    if (!S.pair) { $("#form-err").textContent = "Pick a trading pair first."; return; }
    if (errs.length) { for (const [f, t] of errs) fieldError(f, t); return; }
    const btn = $("#submit");
    btn.disabled = true;
    try {
      const { status, data } = await api("POST", "/orders", { json: body });
      upsertOrder(data);
      toast(status === 201 ? `Order ${data.token_id} accepted` : `Order ${data.token_id} was already submitted`, "good");
      form.token_id.value = newTokenId();
    } catch (e) {
      showTicketError(e);
    } finally { btn.disabled = false; }
  });

  // ---------- orders ----------
  async function loadOrders() {
    if (!S.token) return;
    try {
      const { data, headers } = await api("GET", "/orders?limit=100");
      for (const o of data) S.orders.set(o.token_id, o);
      renderOrders(headers.get("x-total-count"));
    } catch (e) {
      if (e.status !== 401) toast(`Orders: ${e.detail}`, "bad");
    }
  }
  function upsertOrder(o) {
    const { slices: _drop, ...order } = o;
    const old = S.orders.get(order.token_id);
    if (old && old.slices_done + old.slices_skipped > order.slices_done + order.slices_skipped && !FINAL.has(order.status)) return;
    S.orders.set(order.token_id, order);
    renderOrders();
  }
  function progressCell(o) {
    const pct = Math.max(0, Math.min(100, Number(o.fill_ratio) * 100));
    return el("td", {},
      el("span", { class: "progress", role: "progressbar", "aria-valuenow": pct.toFixed(1), "aria-valuemin": "0", "aria-valuemax": "100" }, (() => {
        const i = el("i"); i.style.width = pct + "%"; return i;
      })()),
      el("span", { text: `${pct.toFixed(0)}% · ${o.slices_done}/${o.slices_total}`, title: `${o.filled_quantity} of ${o.quantity} filled` }));
  }
  function cancelButton(o) {
    if (FINAL.has(o.status)) return null;
    const b = el("button", { type: "button", class: "danger", text: "Cancel", "data-cancel": o.token_id });
    b.addEventListener("click", async (ev) => {
      ev.stopPropagation();
      if (!b.classList.contains("confirm")) {
        b.classList.add("confirm"); b.textContent = "Confirm";
        setTimeout(() => { b.classList.remove("confirm"); b.textContent = "Cancel"; }, 3000);
        return;
      }
      b.disabled = true;
      try {
        const { data } = await api("DELETE", `/orders/${encodeURIComponent(o.token_id)}`);
        upsertOrder(data);
        toast(`Order ${o.token_id} cancelled`);
        if (S.detailId === o.token_id) refreshDetailSoon();
      } catch (e) { toast(`Cancel ${o.token_id}: ${e.detail}`, "bad"); b.disabled = false; }
    });
    return b;
  }
  function renderOrders(total) {
    const list = [...S.orders.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
    const body = $("#orders tbody");
    if (list.length === 0) {
      body.replaceChildren(el("tr", { class: "empty" }, el("td", { colspan: "8", text: "No orders yet — submit one with the ticket." })));
    } else {
      body.replaceChildren(...list.map((o) => el("tr", { "data-token": o.token_id, "data-status": o.status, onclick: () => openDetail(o.token_id) },
        el("td", { class: "id", text: o.token_id, title: o.token_id }),
        el("td", { text: o.symbol, title: `${o.exchange} · ${o.symbol}` }, el("small", { class: "ex", text: " " + o.exchange })),
        el("td", { class: o.side, text: o.side }),
        el("td", { class: "num", text: PTF.for(o.exchange, o.symbol).qty(o.quantity) }),
        progressCell(o),
        el("td", { class: "num", text: PTF.for(o.exchange, o.symbol).avg(o.avg_price) }),
        el("td", {}, el("span", { class: "st " + o.status, text: o.status })),
        el("td", {}, cancelButton(o)))));
    }
    const open = list.filter((o) => !FINAL.has(o.status)).length;
    $("#orders-meta").textContent = `${open} open · ${total || list.length} total`;
  }

  // ---------- order detail ----------
  let fills = null;
  function refreshDetailSoon() {
    if (S.detailTimer) return;
    S.detailTimer = setTimeout(() => { S.detailTimer = null; if (S.detailId) renderDetail(S.detailId); }, 700);
  }
  async function openDetail(id) {
    // Another order's figures must not show while this one loads.
    if (S.detailId !== id) $("#detail-summary").textContent = "Loading…";
    S.detailId = id;
    $("#detail-title").textContent = id;
    if (!$("#detail").open) $("#detail").showModal();
    await renderDetail(id);
  }
  $("#detail").addEventListener("close", () => { S.detailId = null; });
  $("#detail-cancel").addEventListener("click", () => {
    const b = document.querySelector(`#orders tr[data-token="${CSS.escape(S.detailId || "")}"] button[data-cancel]`);
    const o = S.orders.get(S.detailId);
    if (!o) return;
    const btn = b || cancelButton(o);
    btn.click(); btn.click();
  });
  async function renderDetail(id) {
    let o;
    try { ({ data: o } = await api("GET", `/orders/${encodeURIComponent(id)}`)); } catch (e) {
      $("#detail-summary").textContent = `Cannot load the order: ${e.detail}`; return;
    }
    if (S.detailId !== id) return;
    upsertOrder(o);
    $("#detail-cancel").hidden = FINAL.has(o.status);
    const kv = (k, v) => el("div", {}, el("span", { text: k }), v);
    const f = PTF.for(o.exchange, o.symbol);
    $("#detail-summary").replaceChildren(
      kv("Status", el("span", { class: "st " + o.status, text: o.status })),
      kv("Pair", `${o.exchange} · ${o.symbol}`),
      kv("Side", el("b", { class: o.side, text: o.side })),
      kv("Quantity", f.qty(o.quantity)),
      kv("Filled", `${f.qty(o.filled_quantity)} (${(Number(o.fill_ratio) * 100).toFixed(2)}%)`),
      kv("Avg price", f.avg(o.avg_price)),
      kv("Limit", o.limit_price ? f.price(o.limit_price) : "none"),
      kv("Notional", f.quote(o.notional)),
      kv("Fees", f.quote(o.fees)),
      kv("Slices", `${o.slices_done} done · ${o.slices_skipped} skipped · ${o.slices_total} planned`),
      kv("Strategy", strategyText(o)),
      ...(o.venues ? [kv("Venues", o.venues.join(", ") + (o.analytics.by_venue ? " — " + Object.entries(o.analytics.by_venue).map(([v, f]) => `${v} ${f.filled_quantity}`).join(" · ") : ""))] : []),
      kv("Every", `${o.interval_ms / 1000} s over ${o.duration_secs} s · catch-up ${o.catch_up}`),
      kv("Window", `${fmtDateTime(o.start_time)} → ${fmtTime(o.end_time)}`),
      kv("Closed", o.closed_at ? fmtDateTime(o.closed_at) : "—"),
    );
    const a = o.analytics;
    const bps = PTF.bps;
    const skipped = Object.entries(a.skipped_by_reason || {}).map(([k, v]) => `${k}: ${v}`).join(", ") || "none";
    $("#analytics").replaceChildren(...[
      ["Average fill price", f.avg(o.avg_price)],
      ["Arrival mid", f.avg(a.arrival_mid)],
      ["Slippage vs arrival", bps(a.slippage_vs_arrival_bps)],
      ["Market TWAP (mid)", f.avg(a.market_twap)],
      ["Slippage vs market TWAP", bps(a.slippage_vs_market_twap_bps)],
      ["Market VWAP (trades)", f.avg(a.market_vwap)],
      ["Slippage vs market VWAP", bps(a.slippage_vs_market_vwap_bps)],
      ["Participation", a.participation_rate ? `${(Number(a.participation_rate) * 100).toFixed(2)}%` : "—"],
      ["Spread cost", f.quote(a.spread_cost)],
      ["Shortfall", a.implementation_shortfall ? `${f.quote(a.implementation_shortfall.total)} (${bps(a.implementation_shortfall_bps?.total)})` : "—"],
      ["Markouts 1s · 5s · 30s · 60s", ["1s", "5s", "30s", "60s"].map((h) => (a.markouts_bps?.[h] == null ? "—" : PTF.round(a.markouts_bps[h], 2))).join(" · ") + " bps"],
      ["Fees", f.quote(o.fees)],
      ["Fill ratio", `${(Number(o.fill_ratio) * 100).toFixed(2)}%`],
      ["Skipped slices", skipped],
    ].map(([k, v]) => el("tr", {}, el("th", { text: k }), el("td", { text: v }))));
    drawWaterfall($("#waterfall"), a.implementation_shortfall_bps, a.implementation_shortfall);
    const slices = o.slices || [];
    $("#slices tbody").replaceChildren(...slices.map((s) => el("tr", {},
      el("td", { text: String(s.index) }), el("td", { text: fmtTime(s.executed_at) }),
      el("td", { class: "num", text: f.qty(s.target_quantity) }), el("td", { class: "num", text: f.qty(s.filled_quantity) }),
      el("td", { class: "num", text: f.avg(s.avg_price) }), el("td", { class: "num", text: f.avg(s.mid) }),
      el("td", { text: s.skipped ? `skipped: ${s.skipped}` : s.short_reason || (s.fill_venues ? [...new Set(s.fill_venues)].join("+") : "") || (s.fills.length > 1 ? `${s.fills.length} levels` : "") }))));
    drawFills(o, slices);
    window.PT.onDetail?.(o);
  }
  function strategyText(o) {
    if (o.strategy === "vwap") return `VWAP · profile of ${o.profile_days} days`;
    if (o.strategy === "pov") return `POV · ${(Number(o.participation) * 100).toFixed(2)}% of volume${o.max_slice_qty ? ` · at most ${o.max_slice_qty} a slice` : ""}`;
    const j = o.jitter ? ` · jitter seed ${o.jitter.seed} (time ±${o.jitter.time_pct}%, size ±${o.jitter.size_pct}%)` : "";
    return `TWAP${j}${o.latency_ms ? ` · latency ${o.latency_ms} ms` : ""}`;
  }
  /** The shortfall's parts as a waterfall (bps) in `node`: each bar starts where the last ended. */
  function drawWaterfall(node, b, q) {
    if (!b) { node.replaceChildren(el("p", { class: "preview", text: "No decision price yet: the shortfall needs a live book at acceptance or a first slice." })); return; }
    const parts = [["delay", b.delay_cost, q.delay_cost], ["spread", b.spread_cost, q.spread_cost], ["impact", b.impact_cost, q.impact_cost],
      ["timing", b.timing_cost, q.timing_cost], ["opportunity", b.opportunity_cost, q.opportunity_cost], ["fees", b.fees, q.fees]];
    const steps = [];
    let run = 0;
    for (const [name, v, quote] of parts) { const x = Number(v); steps.push({ name, from: run, to: run + x, v, quote }); run += x; }
    steps.push({ name: "total", from: 0, to: Number(b.total), v: b.total, quote: q.total, total: true });
    const lo = Math.min(0, ...steps.map((s) => Math.min(s.from, s.to))), hi = Math.max(0, ...steps.map((s) => Math.max(s.from, s.to)));
    const w = 560, h = 170, top = 14, bottom = 30, span = hi - lo || 1;
    const y = (v) => top + (hi - v) / span * (h - top - bottom);
    const bw = w / steps.length;
    const bars = steps.map((s, i) => {
      const y0 = y(Math.max(s.from, s.to)), y1 = y(Math.min(s.from, s.to));
      const fill = s.total ? css("--accent") : (s.to >= s.from ? css("--ask") : css("--bid"));
      const x = i * bw + bw * 0.15;
      return `<g data-part="${s.name}"><rect x="${x.toFixed(1)}" y="${y0.toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${Math.max(1, y1 - y0).toFixed(1)}" fill="${fill}"><title>${s.name}: ${s.v} bps (${s.quote})</title></rect>` +
        `<text x="${(x + bw * 0.35).toFixed(1)}" y="${(y0 - 3).toFixed(1)}" text-anchor="middle">${s.v}</text>` +
        `<text x="${(x + bw * 0.35).toFixed(1)}" y="${h - 12}" text-anchor="middle">${s.name}</text></g>`;
    }).join("");
    const zero = `<line x1="0" x2="${w}" y1="${y(0).toFixed(1)}" y2="${y(0).toFixed(1)}" stroke="${css("--line")}" />`;
    node.innerHTML = `<svg viewBox="0 0 ${w} ${h}" height="${h}" role="img">${zero}${bars}</svg>`;
  }
  function drawFills(o, slices) {
    const xs = [], mid = [], bid = [], ask = [], fill = [], lim = [];
    for (const s of slices) {
      xs.push(Date.parse(s.executed_at) / 1000);
      mid.push(num(s.mid)); bid.push(num(s.best_bid)); ask.push(num(s.best_ask));
      fill.push(Number(s.filled_quantity) > 0 ? num(s.avg_price) : null);
      lim.push(num(o.limit_price));
    }
    const node = $("#fills-chart");
    if (!fills) {
      fills = sized(node, {
        scales: { x: { time: true } },
        axes: [axis(), { ...axis(), size: 70 }],
        series: [
          {},
          { label: "Mid", stroke: css("--accent"), width: 2, spanGaps: true, points: { show: false } },
          { label: "Best bid", stroke: "rgba(46,189,133,.6)", dash: [4, 4], spanGaps: true, points: { show: false } },
          { label: "Best ask", stroke: "rgba(240,82,106,.6)", dash: [4, 4], spanGaps: true, points: { show: false } },
          { label: "Fill (slice avg)", stroke: css("--warn"), paths: () => null, points: { show: true, size: 9, fill: css("--warn") } },
          { label: "Limit", stroke: css("--dim"), dash: [2, 6], points: { show: false } },
        ],
      }, [[], [], [], [], [], []]);
    }
    fills.setData([xs, mid, bid, ask, fill, lim]);
  }

  // ---------- start ----------
  async function start() {
    try {
      await loadExchanges();
    } catch (e) {
      toast(`Cannot reach the server: ${e.detail}`, "bad");
      return;
    }
    const [hx, hs] = decodeURIComponent(location.hash.slice(1)).split("/");
    const usable = S.exchanges.filter((x) => x.status === "connected");
    const ex = (usable.find((x) => x.id === hx) || usable.find((x) => x.id === "sim") || usable[0] || S.exchanges[0] || {}).id;
    if (ex) await selectExchange(ex, hs);
    setInterval(loadKlines, 5000);
    if (loadSession()) { scheduleRefresh(); await signedIn(); } else signedOut();
  }
  // What the lab's panels (lab.js) share with the page.
  // A venue's places arrived: show its numbers formatted.
  PTF.onLoaded = () => { renderOrders(); if (S.detailId) refreshDetailSoon(); };
  window.PT = { api, el, $, fmtTime, fmtDateTime, css, num, toast, sized, axis, drawWaterfall, strategyText, S, FINAL, decimalRe };
  renderOrders();
  start();
})();
