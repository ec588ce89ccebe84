// Cold load of the signed-in /profile page in Chromium: what it downloads and how long it
// takes until the page is interactive (the app marks <body data-hydrated>). Used for the
// rendering-strategy table in the README; not a test (no timing is asserted anywhere).
//
//   BASE=http://localhost:3000 node end2end/measure/cold-load.mjs [runs]
//   MBPS=10 RTT_MS=40 …   the same over an emulated link (Chromium's network emulation)
//
// Needs a running app whose provider is the development provider (it signs in as the first
// demo user). Each run uses a fresh browser context (empty cache) with the session cookie.
import { chromium } from '@playwright/test';

const base = process.env.BASE ?? 'http://localhost:3000';
const runs = Number(process.argv[2] ?? 7);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});

// sign in once
const signIn = await browser.newContext();
const p = await signIn.newPage();
await p.goto(`${base}/profile`);
await p.getByTestId('demo-user').first().click();
await p.waitForURL(`${base}/profile`);
const state = await signIn.storageState();
await signIn.close();

const times = [];
let pkg = [];
for (let i = 0; i < runs; i++) {
  const ctx = await browser.newContext({ storageState: state });
  await ctx.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.body?.dataset.hydrated) {
        window.__hydratedAt = performance.now();
        obs.disconnect();
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-hydrated'] });
  });
  const page = await ctx.newPage();
  if (Number(process.env.MBPS) > 0) {
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', {
      offline: false,
      latency: Number(process.env.RTT_MS ?? 40),
      downloadThroughput: (Number(process.env.MBPS) * 1e6) / 8,
      uploadThroughput: (Number(process.env.MBPS) * 1e6) / 8,
    });
  }
  const files = [];
  page.on('requestfinished', async (r) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith('/pkg/') && /\.(wasm|js)$/.test(url.pathname)) {
      const s = await r.sizes();
      files.push({ file: url.pathname, transferred: s.responseBodySize });
    }
  });
  await page.goto(`${base}/profile`);
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  await page.waitForLoadState('networkidle');
  times.push(await page.evaluate(() => window.__hydratedAt));
  pkg = files;
  await ctx.close();
}
await browser.close();
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ runs, median_ms: Math.round(median), times_ms: times.map(Math.round), pkg }, null, 1));
