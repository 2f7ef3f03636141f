// Browser test of the /ui dashboard (issue 7/8), run by `.ci/ui.sh`.
//
// Drives Debian's /usr/bin/chromium through playwright-core (no browser download) against a
// server on the simulated exchange and the six live venues' mocks (`mock-venues`, started by
// .ci/ui.sh): sign in, walk the venue picker through every venue's ladder and time and sales,
// pick BTC-USDT on sim, see the ladder update, the time
// and sales and the candles, get a server validation error in place, submit a TWAP and watch it reach a final
// state, open its detail (with the shortfall waterfall), preview a VWAP, run a POV, cancel another one,
// and check the narrow layout. Screenshots go to
// $ARTIFACTS (default ../ci-artifacts/ui). Any console error, page error, failed request,
// unexpected HTTP error or request to another origin fails the test.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const base = (process.env.PAPERTWAP_URL || "http://127.0.0.1:8000").replace(/\/$/, "");
const out = process.env.ARTIFACTS || new URL("../ci-artifacts/ui", import.meta.url).pathname;
const user = process.env.PAPERTWAP_USER || "premium";
const pass = process.env.PAPERTWAP_PASSWORD || "CryptoTWAPpremium";
mkdirSync(out, { recursive: true });

// The whole test stops by itself.
const deadline = setTimeout(() => { console.error("FAIL: the browser test took over 180 s"); process.exit(1); }, 180_000);

const problems = [];
// HTTP errors the test provokes on purpose ("POST /token" → count), and Chromium's console
// line for each ("Failed to load resource: … status of 4xx").
const allowed = new Map();
let allowedConsole = 0;
const expectHttpError = (key) => { allowed.set(key, (allowed.get(key) || 0) + 1); allowedConsole += 1; };
const step = (s) => console.log(`• ${s}`);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--disable-extensions"],
});
let failed = false;
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (allowedConsole > 0 && /status of 4\d\d/.test(m.text())) { allowedConsole -= 1; return; }
    problems.push(`console error: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`request failed: ${r.method()} ${r.url()} (${r.failure()?.errorText})`));
  page.on("response", (r) => {
    if (r.status() < 400) return;
    const key = `${r.request().method()} ${new URL(r.url()).pathname}`;
    if (r.status() < 500 && (allowed.get(key) || 0) > 0) { allowed.set(key, allowed.get(key) - 1); return; }
    problems.push(`HTTP ${r.status()} for ${r.request().method()} ${r.url()}`);
  });
  await page.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(base + "/")) return route.continue();
    problems.push(`request to another origin: ${url}`);
    return route.abort();
  });

  const live = ["binance", "kraken", "okx", "bybit", "coinbase", "bitstamp"];
  step("the six live venues (mocks on loopback) are connected before the page opens");
  for (let i = 0; ; i++) {
    const xs = await (await fetch(`${base}/exchanges`)).json();
    const down = live.filter((id) => xs.find((x) => x.id === id)?.status !== "connected");
    if (!down.length) break;
    if (i >= 150) throw new Error(`venues not connected after 30 s: ${down.join(", ")}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  step("open /ui: the sign-in dialog");
  await page.goto(`${base}/ui`);
  await page.locator("#login[open]").waitFor();
  await page.screenshot({ path: join(out, "01-login.png") });

  step("a wrong password is refused in place");
  expectHttpError("POST /token");
  const badLogin = page.waitForResponse((r) => r.url().endsWith("/token"));
  await page.fill("#login-form [name=username]", user);
  await page.fill("#login-form [name=password]", "not-the-password");
  await page.click("#login-form button[type=submit]");
  if ((await badLogin).status() !== 401) throw new Error("a wrong password was not answered 401");
  await expectText(page, "#login-err", /wrong username or password/i);

  step(`sign in as ${user}`);
  await page.fill("#login-form [name=password]", pass);
  await page.click("#login-form button[type=submit]");
  await expectText(page, "#who", new RegExp(`^${user}$`));
  await page.locator("#login").waitFor({ state: "hidden" });

  step("venue picker: the six venues and sim, each with its ladder, health and time and sales");
  const options = await page.$$eval("#exchange option", (os) => os.map((o) => ({ id: o.value, text: o.textContent, disabled: o.disabled })));
  for (const id of [...live, "sim"]) {
    const o = options.find((x) => x.id === id);
    if (!o || o.disabled) throw new Error(`venue ${id} missing or not selectable: ${JSON.stringify(options)}`);
  }
  for (const id of live) {
    await page.selectOption("#exchange", id);
    await page.waitForFunction((x) => location.hash.startsWith(`#${x}/BTC-`), id);
    await page.waitForFunction(() => document.querySelectorAll("#bids tr").length >= 5 && document.querySelectorAll("#asks tr").length >= 5);
    await expectText(page, "#health", /^live/);
    await page.waitForFunction(() => document.querySelectorAll("#trades tr.buy, #trades tr.sell").length >= 1, null, { timeout: 10_000 });
    const bid = Number(await page.textContent("#bids tr:first-child td:first-child"));
    const ask = Number(await page.textContent("#asks tr:last-child td:first-child"));
    if (!(ask > bid)) throw new Error(`${id}: ladder crossed or unordered: bid ${bid} ask ${ask}`);
    if (id === "kraken") await page.screenshot({ path: join(out, "02a-venue-kraken.png") });
  }

  step("pick sim and BTC-USDT (typed as btcusdt)");
  await page.selectOption("#exchange", "sim");
  await page.waitForFunction(() => location.hash.startsWith("#sim/"));
  await page.fill("#pair", "btcusdt");
  await page.press("#pair", "Enter");
  await page.waitForFunction(() => document.querySelector("#pair").value === "BTC-USDT");

  step("the ladder fills and updates, health live");
  await page.waitForFunction(() => document.querySelectorAll("#bids tr").length >= 10 && document.querySelectorAll("#asks tr").length >= 10);
  await expectText(page, "#health", /^live/);
  const seq1 = await page.textContent("#book-meta");
  await page.waitForFunction((s) => document.querySelector("#book-meta").textContent !== s, seq1, { timeout: 10_000 });
  await expectText(page, "#spread", /mid \d+\.\d+ · spread \d/);
  const bestBid = await page.textContent("#bids tr:first-child td:first-child");
  const bestAsk = await page.textContent("#asks tr:last-child td:first-child");
  if (!(Number(bestAsk) > Number(bestBid))) throw new Error(`ladder crossed or unordered: bid ${bestBid} ask ${bestAsk}`);

  step("time and sales: history from /trades, then live prints on top");
  await page.waitForFunction(() => document.querySelectorAll("#trades tr.buy, #trades tr.sell").length >= 5);
  const firstId = await page.getAttribute("#trades tr:first-child", "data-id");
  await page.waitForFunction((id) => document.querySelector("#trades tr:first-child").dataset.id !== id, firstId, { timeout: 10_000 });
  const ids = await page.$$eval("#trades tr", (rows) => rows.map((r) => Number(r.dataset.id)));
  if (ids.some((id, i) => i > 0 && !(id < ids[i - 1]))) throw new Error(`time and sales not newest first, or repeated: ${ids.slice(0, 10)}`);

  step("candles drawn from /klines, interval picker works");
  await expectText(page, "#candles-meta", /sim · BTC-USDT · 1m · last/);
  await page.locator("#candles canvas").waitFor();
  await page.locator("#depth canvas").waitFor();
  await page.click("#intervals button[data-interval='5m']");
  await expectText(page, "#candles-meta", /· 5m ·/);
  await page.click("#intervals button[data-interval='1m']");
  await expectText(page, "#candles-meta", /· 1m ·/);
  await page.screenshot({ path: join(out, "02-market.png") });

  step("the server's validation error is shown at the quantity field");
  await page.fill("#twap [name=quantity]", "0.000001"); // below the pair's lot step 0.00001
  await page.fill("#twap [name=duration_secs]", "6");
  await page.fill("#twap [name=interval_secs]", "1");
  expectHttpError("POST /orders");
  await page.click("#submit");
  await expectText(page, "#twap .field[data-field=quantity] .err", /.+/);
  if (allowed.get("POST /orders") !== 0) throw new Error("the bad ticket did not reach the server");
  await page.screenshot({ path: join(out, "03-validation.png") });

  step("submit a TWAP: 0.05 BTC over 6 s, one slice a second");
  await page.fill("#twap [name=quantity]", "0.05");
  const tokenId = await page.inputValue("#twap [name=token_id]");
  await page.click("#submit");
  const row = page.locator(`#orders tr[data-token="${tokenId}"]`);
  await row.waitFor();
  if ((await page.inputValue("#twap [name=token_id]")) === tokenId) throw new Error("the ticket did not offer a new token_id");
  step("it progresses to a final state over the orders channel");
  await page.waitForFunction((id) => {
    const r = document.querySelector(`#orders tr[data-token="${id}"]`);
    return r && /^(working|filled|expired)$/.test(r.dataset.status) && r.querySelector("[role=progressbar]");
  }, tokenId);
  await page.waitForFunction((id) => {
    const r = document.querySelector(`#orders tr[data-token="${id}"]`);
    return r && ["filled", "expired"].includes(r.dataset.status);
  }, tokenId, { timeout: 30_000 });
  const status = await row.getAttribute("data-status");
  if (status !== "filled") throw new Error(`the TWAP ended ${status}, expected filled on sim`);
  const pct = await row.locator("[role=progressbar]").getAttribute("aria-valuenow");
  if (pct !== "100.0") throw new Error(`the progress bar shows ${pct}% for a filled order`);
  await page.screenshot({ path: join(out, "04-orders.png") });

  step("order detail: summary, fills over the mid, analytics, slices");
  await row.click();
  await page.locator("#detail[open]").waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#slices tbody tr").length === 6);
  await expectText(page, "#analytics", /Arrival mid\s*\d/);
  await expectText(page, "#analytics", /Slippage vs arrival\s*-?\d/);
  await expectText(page, "#detail-summary", /Filled\s*0\.05/);
  // Numbers for people: averages two places finer than the tick (0.01), bps to 2 decimals,
  // quantities at the lot (0.00001).
  await expectText(page, "#analytics", /Arrival mid\s*\d+\.\d{4}\s*Slippage vs arrival\s*-?\d+\.\d{2} bps/);
  await expectText(page, "#detail-summary", /Quantity\s*0\.05000\s*Filled\s*0\.05000/);
  await page.locator("#fills-chart canvas").waitFor();
  await page.locator("#waterfall svg g[data-part=total]").waitFor();
  await page.screenshot({ path: join(out, "05-detail.png") });

  step("what if: re-run unchanged, it reproduces the original; with 2 s slices it differs, side by side");
  await page.locator("#whatif:not([hidden])").waitFor();
  await page.click("#whatif-run");
  await expectText(page, "#whatif-verdict", /reproduces the original fill for fill/);
  await page.fill("#whatif-form [name=interval_secs]", "2");
  await page.click("#whatif-run");
  await expectText(page, "#whatif-verdict", /\{"interval_secs":2\}: a different execution/);
  await expectText(page, "#whatif-compare", /Slices\s*6 done · 0 skipped\s*3 done · 0 skipped/);
  await page.locator("#whatif-chart canvas").waitFor();
  await page.locator("#whatif-wf-sim svg g[data-part=total]").waitFor();
  await page.locator("#whatif-result").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(out, "05a-whatif.png") });
  await page.fill("#whatif-form [name=interval_secs]", "0");
  expectHttpError(`POST /orders/${tokenId}/whatif`);
  await page.click("#whatif-run");
  await expectText(page, "#whatif-err", /interval/);

  step("backtest this window: the order and two variants side by side, kept in the list");
  await page.fill("#whatif-form [name=interval_secs]", "");
  await page.click("#whatif-to-bt");
  await page.locator("#detail").waitFor({ state: "hidden" });
  await page.fill("#bt-form [name=variants]", '{"interval_secs":2}\n{"catch_up":"none","latency_ms":200}');
  await page.click("#bt-run");
  await page.waitForFunction(() => document.querySelector("#bt-title").textContent || document.querySelector("#bt-err").textContent);
  const btErr = await page.textContent("#bt-err");
  if (btErr) throw new Error(`the backtest was refused: ${btErr}`);
  await expectText(page, "#bt-title", /bt-[0-9a-f]{16}/);
  await expectText(page, "#bt-compare", /Base/);
  await page.waitForFunction(() => document.querySelectorAll("#bt-compare tr:first-child th").length === 4);
  await expectText(page, "#bt-compare", /Filled\s*0\.05/);
  await page.waitForFunction(() => document.querySelectorAll("#bt-list tbody tr[data-id]").length === 1);
  await page.locator("#backtests").scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(out, "05b-backtest.png") });
  await page.fill("#bt-form [name=start_time]", "2001-01-01T00:00:00");
  expectHttpError("POST /backtests");
  await page.click("#bt-run");
  await expectText(page, "#bt-err", /not on tape|not_recorded|past/);

  step("strategy ticket: a VWAP preview over a day shows its profile before anything is sent");
  await page.click("#twap .strategy label:has(input[value=vwap])");
  await expectText(page, "#submit", /Submit VWAP/);
  if (await page.isVisible("#twap [name=participation]")) throw new Error("POV fields shown for a VWAP");
  await page.fill("#twap [name=quantity]", "2.4");
  await page.fill("#twap [name=duration_secs]", "86400");
  await page.fill("#twap [name=interval_secs]", "3600");
  await page.click("#preview-btn");
  await page.locator("#preview-box:not([hidden])").waitFor();
  await page.waitForFunction(() => document.querySelectorAll("#schedule-chart svg rect").length === 24);
  await expectText(page, "#preview-summary", /^24 slices · 2\.4 BTC/);
  await expectText(page, "#preview-estimates", /book walk .*square root law/);
  await page.screenshot({ path: join(out, "05c-vwap-preview.png") });

  step("a POV's bad participation is shown at its field; a good one runs, with its shortfall waterfall");
  await page.click("#twap .strategy label:has(input[value=pov])");
  await page.fill("#twap [name=quantity]", "0.5");
  await page.fill("#twap [name=duration_secs]", "6");
  await page.fill("#twap [name=interval_secs]", "1");
  await page.fill("#twap [name=participation]", "0.9");
  expectHttpError("POST /orders");
  await page.click("#submit");
  await expectText(page, "#twap .field[data-field=participation] .err", /participation/);
  await page.fill("#twap [name=participation]", "0.3");
  const povId = await page.inputValue("#twap [name=token_id]");
  await page.click("#submit");
  const povRow = page.locator(`#orders tr[data-token="${povId}"]`);
  await povRow.waitFor();
  await page.waitForFunction((id) => ["filled", "expired"].includes(document.querySelector(`#orders tr[data-token="${id}"]`)?.dataset.status), povId, { timeout: 30_000 });
  await povRow.click();
  await page.locator("#detail[open]").waitFor();
  await expectText(page, "#detail-summary", /Strategy\s*POV · 30\.00% of volume/);
  await expectText(page, "#analytics", /Participation\s*\d/);
  await page.waitForFunction(() => document.querySelectorAll("#waterfall svg g[data-part]").length === 7);
  await page.screenshot({ path: join(out, "05d-pov-detail.png") });
  await page.click("#detail .detail-head button[value=close]");
  await page.locator("#detail").waitFor({ state: "hidden" });
  await page.click("#twap .strategy label:has(input[value=twap])");

  step("route a TWAP across every live venue (best): the order says so, its detail lists the venues");
  await page.check("#twap [name=best]");
  await page.fill("#twap [name=quantity]", "0.01");
  await page.fill("#twap [name=duration_secs]", "2");
  await page.fill("#twap [name=interval_secs]", "1");
  const bestId = await page.inputValue("#twap [name=token_id]");
  await page.click("#submit");
  const bestRow = page.locator(`#orders tr[data-token="${bestId}"]`);
  await bestRow.waitFor();
  await expectText(page, `#orders tr[data-token="${bestId}"] .ex`, /best/);
  await page.waitForFunction((id) => document.querySelector(`#orders tr[data-token="${id}"]`)?.dataset.status === "filled", bestId, { timeout: 30_000 });
  await bestRow.click();
  await page.locator("#detail[open]").waitFor();
  // Routed across sim and the live BTC-USDT books (the mocks of Binance, OKX, Bybit).
  await expectText(page, "#detail-summary", /Venues\s*[a-z]/);
  const venues = ((await page.textContent("#detail-summary")).match(/Venues\s*([a-z, ]+)/)?.[1] || "").split(",").map((v) => v.trim()).filter(Boolean);
  if (!venues.length || venues.some((v) => !["sim", "binance", "okx", "bybit"].includes(v))) throw new Error(`routed venues: ${venues}`);
  await page.click("#detail .detail-head button[value=close]");
  await page.locator("#detail").waitFor({ state: "hidden" });
  await page.uncheck("#twap [name=best]");

  step("cancel a long order from the table (two clicks)");
  await page.fill("#twap [name=quantity]", "0.02");
  await page.fill("#twap [name=duration_secs]", "600");
  await page.fill("#twap [name=interval_secs]", "30");
  const longId = await page.inputValue("#twap [name=token_id]");
  await page.click("#submit");
  const longRow = page.locator(`#orders tr[data-token="${longId}"]`);
  await longRow.waitFor();
  await longRow.locator("button[data-cancel]").click();
  await expectText(page, `#orders tr[data-token="${longId}"] button[data-cancel]`, /Confirm/);
  await longRow.locator("button[data-cancel]").click();
  await page.waitForFunction((id) => document.querySelector(`#orders tr[data-token="${id}"]`)?.dataset.status === "cancelled", longId);

  step("narrow screen: one column, nothing wider than the viewport");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  if (overflow > 1) throw new Error(`the page is ${overflow}px wider than a 390px screen`);
  await page.screenshot({ path: join(out, "06-narrow.png"), fullPage: true });

  await ctx.close();
} catch (e) {
  failed = true;
  console.error(`FAIL: ${e.message}`);
} finally {
  await browser.close();
  clearTimeout(deadline);
}
if (problems.length) {
  failed = true;
  console.error("FAIL: the page had problems:\n  " + problems.join("\n  "));
}
if (failed) process.exit(1);
console.log(`PASS: dashboard browser test; screenshots in ${out}`);

async function expectText(page, selector, re) {
  try {
    await page.waitForFunction(([s, src, flags]) => {
      const e = document.querySelector(s);
      return e && new RegExp(src, flags).test(e.textContent.replace(/\s+/g, " ").trim());
    }, [selector, re.source, re.flags]);
  } catch {
    const text = await page.evaluate((s) => document.querySelector(s)?.textContent ?? "(missing)", selector);
    throw new Error(`${selector} never matched ${re}: "${text.replace(/\s+/g, " ").trim().slice(0, 200)}"`);
  }
}
