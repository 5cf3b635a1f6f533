// Test harness: a real `switchboard serve` on a free loopback port with a fresh data folder,
// users provisioned over REST as the integration guide does, a tiny static server for the test
// page, and headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core.
//
// Run everything inside a loopback-only network namespace (see package.json `test`), so no
// packet leaves the host.
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');

const ROOT = path.resolve(__dirname, '..');
const BIN = process.env.SWITCHBOARD_BIN || path.resolve(ROOT, '../../target/debug/switchboard');
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

async function startServer(extraEnv = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-e2e-'));
  const admin = crypto.randomBytes(24).toString('hex');
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_DATA: data,
      SWITCHBOARD_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_BOOTSTRAP_TOKEN: admin,
      SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn',
      RUST_LOG: process.env.RUST_LOG || 'warn',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (https?:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  const server = {
    base,
    admin,
    domain: 'my-company.lo',
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 3000); });
      fs.rmSync(data, { recursive: true, force: true });
    },
    async rest(method, url, body, token = admin) {
      const res = await fetch(`${base}/api${url}`, {
        method,
        headers: { 'X-Webitel-Access': token, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
      return text ? JSON.parse(text) : null;
    },
    async sipStatus() {
      const res = await fetch(`${base}/sip/status`);
      return res.json();
    },
  };
  const roles = await server.rest('GET', '/roles?size=100');
  server.userRole = roles.items.find((r) => r.name === 'user').id;
  const lic = await server.rest('GET', '/license');
  server.licenseId = lic.items[0].id;
  return server;
}

let seq = 0;

/** The guide's flow: a WebRTC device, a user owning it with an extension and a licence, a token. */
async function provisionUser(server) {
  const n = `${process.pid}${++seq}`;
  const account = `dev${n}`;
  const extension = String(2000 + seq);
  const dev = await server.rest('POST', '/devices', {
    name: `Phone ${n}`, account, password: crypto.randomBytes(9).toString('base64url'),
  });
  const user = await server.rest('POST', '/users', {
    name: `User ${n}`,
    username: `u${n}`,
    password: crypto.randomBytes(12).toString('hex'),
    extension,
    roles: [{ id: server.userRole }],
    device: { id: dev.id },
    devices: [{ id: dev.id }],
    license: [{ id: server.licenseId }],
  });
  const tok = await server.rest('POST', `/users/${user.id}/tokens`, { usage: 'e2e' });
  return { id: Number(user.id), extension, account, token: tok.token };
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

module.exports = {
  startServer, provisionUser, startPages, startBrowser, openPhone, until, sleep,
};
