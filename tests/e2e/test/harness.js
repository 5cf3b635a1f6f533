// Test harness: a real `switchboard serve` on a free loopback port with a fresh data folder,
// users provisioned over REST as the integration guide does, a tiny static server for the test
// page, and headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
//
// Run everything inside a loopback-only network namespace (see package.json `test`), so no
// packet leaves the host.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..');
const { startServer, provisionUser } = require('../../lib/server');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value, or fails with `what` after `ms`. */
async function until(what, fn, ms = 10000, every = 100) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await sleep(every);
  }
}

/** Serves page/ and the webitel-sdk bundle from build/ on 127.0.0.1. */
async function startPages() {
  const files = {
    '/': [path.join(ROOT, 'page/index.html'), 'text/html; charset=utf-8'],
    '/phone.js': [path.join(ROOT, 'page/phone.js'), 'text/javascript; charset=utf-8'],
    '/webitel-sdk.js': [path.join(ROOT, 'build/webitel-sdk.js'), 'text/javascript; charset=utf-8'],
  };
  const srv = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    if (!f) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': f[1] });
    fs.createReadStream(f[0]).pipe(res);
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${srv.address().port}/`, close: () => srv.close() };
}

async function startBrowser() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
    ],
  });
  return {
    ctx,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens the phone page in a new tab and signs `user` in with the phone registering. */
async function openPhone(browser, pages, server, user) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  if (process.env.E2E_CONSOLE) page.on('console', (m) => console.error(`[${user.extension}]`, m.text()));
  await page.goto(pages.url);
  await page.evaluate(
    ({ endpoint, token }) => window.phone.start({ endpoint, token }),
    { endpoint: `${server.base}/ws`, token: user.token },
  );
  return page;
}

/** A server (with `env`), the page server and a browser, all torn down after the test. */
async function setup(t, env) {
  const server = await startServer(env);
  t.after(() => server.stop());
  const pages = await startPages();
  t.after(() => pages.close());
  const browser = await startBrowser();
  t.after(() => browser.close());
  return { server, pages, browser };
}

/** Waits until the page's JsSIP phone has registered. */
const registered = (p) => until('JsSIP registered', () => p.evaluate(() => window.phone.registered()));

/** The page's SDK call `id`: its state, cause and direction. */
const state = (p, id) => p.evaluate((i) => window.phone.state(i), id);

/** Inbound audio bytes of a call's peer connection (WebRTC stats). */
const bytes = (p, id) => p.evaluate((i) => window.phone.inboundBytes(i), id);

/** The first call id the page knows that is not in `seen`. */
const newCall = (p, seen, what) => until(what, async () => {
  const ids = await p.evaluate(() => window.phone.callIds());
  return ids.find((id) => !seen.includes(id));
});

/** Waits until call `id` is in one of the states `want`; returns its state. */
const waitState = (p, id, want, what, ms = 10000) => until(what, async () => {
  const s = await state(p, id);
  return s && want.includes(s.state) && s;
}, ms);

/** Waits until a call's inbound audio grows by more than 1000 bytes. */
async function audioFlows(p, id, what) {
  const b0 = await bytes(p, id);
  await until(what, async () => (await bytes(p, id)) > b0 + 1000, 10000);
}

/** Two provisioned users, each with a phone page open and registered. */
async function twoPhones({ server, pages, browser }) {
  const a = await provisionUser(server);
  const b = await provisionUser(server);
  const pa = await openPhone(browser, pages, server, a);
  const pb = await openPhone(browser, pages, server, b);
  for (const p of [pa, pb]) await registered(p);
  return { a, b, pa, pb };
}

/** Page `pa` calls `ext`, page `pb` answers: both call ids, once both calls are active. */
async function answeredCall(pa, pb, ext) {
  await pa.evaluate((e) => window.phone.call(e), ext);
  const inB = await newCall(pb, [], 'B rings');
  const outA = await newCall(pa, [], 'A sees its call');
  await pb.evaluate((id) => window.phone.answer(id), inB);
  await waitState(pb, inB, ['active', 'bridge'], 'B active');
  await waitState(pa, outA, ['active', 'bridge'], 'A active');
  return { outA, inB };
}

module.exports = {
  provisionUser, openPhone, until, sleep, setup, registered, state, bytes, newCall, waitState, audioFlows, twoPhones, answeredCall,
};
