// What the demo's browser tests share: the server (with the demo's admin password), Debian's
// Chromium with fake media, screenshots, and the UI steps every test takes.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { spawnServer } = require('../../lib/server');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.resolve(__dirname, '..', 'screenshots');

async function startServer(adminPassword, env = {}) {
  const server = await spawnServer({ SWITCHBOARD_DEMO_ADMIN_PASSWORD: adminPassword, ...env });
  const admin = fs.readFileSync(path.join(server.data, 'admin.token'), 'utf8').trim();
  return {
    ...server,
    /** The platform's REST API with its administrator token: only to check what the demo did. */
    async rest(method, url) {
      const res = await fetch(`${server.base}/api${url}`, { method, headers: { 'X-Webitel-Access': admin } });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
  };
}

async function browser(viewport = { width: 1100, height: 900 }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-demo-chromium-'));
  const ctx = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required',
    ],
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on('pageerror', (e) => console.error('[page error]', e.message));
  if (process.env.DEMO_E2E_CONSOLE) page.on('console', (m) => console.error('[console]', m.text()));
  return {
    page,
    async close() {
      await ctx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The text of the page's message area once it says something other than "…ing…". */
async function message(page) {
  const loc = page.locator('.messages .msg').last();
  await loc.waitFor();
  await page.waitForFunction(() => {
    const m = [...document.querySelectorAll('.messages .msg')].pop();
    return m && !m.classList.contains('msg-info');
  }, null, { timeout: 30000 });
  return (await loc.textContent()).trim();
}

async function createUser(page, u) {
  await page.getByLabel('Name', { exact: true }).fill(u.name);
  await page.getByLabel('E-mail').fill(u.email);
  await page.getByLabel('Extension').fill(u.extension);
  await page.getByLabel('Sign-in name').fill(u.login);
  await page.getByLabel('Password', { exact: true }).fill(u.password);
  if (u.phone === 'sip') {
    await page.getByLabel('Desk phone (SIP)').check();
    if (u.sipPassword) await page.getByLabel('Desk phone password').fill(u.sipPassword);
  }
  if (u.agent) await page.getByLabel('Create a contact-center agent').check();
  if (u.agentTeam) await page.getByLabel('Agent team').selectOption({ label: u.agentTeam });
  await page.getByRole('button', { name: 'Create user' }).click();
  return message(page);
}

/** Signs in; a web-phone user is back once the phone registered, a desk-phone user at once. */
async function signIn(page, base, u) {
  await page.goto(`${base}/#/signin`);
  await page.getByLabel('Sign-in name').fill(u.login);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (u.phone === 'sip') await page.locator('.desk-reg:not([data-state="checking"])').waitFor({ timeout: 20000 });
  else await page.locator('.reg[data-state="registered"]').waitFor({ timeout: 20000 });
}

/**
 * Keeps every RTCPeerConnection the page makes (JsSIP's, inside webitel-sdk) in
 * `window.__peers`, so that a test can read their stats; call before the page loads.
 */
async function watchPeers(page) {
  await page.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__peers = [];
    window.RTCPeerConnection = function RTCPeerConnection(...args) {
      const pc = new Native(...args);
      window.__peers.push(pc);
      return pc;
    };
    window.RTCPeerConnection.prototype = Native.prototype;
    Object.setPrototypeOf(window.RTCPeerConnection, Native);
  });
}

/** Bytes of inbound RTP audio over the page's peer connections (see `watchPeers`). */
function inboundAudioBytes(page) {
  return page.evaluate(async () => {
    let sum = 0;
    for (const pc of window.__peers || []) {
      if (pc.connectionState === 'closed') continue;
      (await pc.getStats()).forEach((s) => {
        if (s.type === 'inbound-rtp' && s.kind === 'audio') sum += s.bytesReceived || 0;
      });
    }
    return sum;
  });
}

/** Resolves once the page receives more than 1000 further bytes of audio (10 s at most). */
async function audioFlows(page, what) {
  const start = await inboundAudioBytes(page);
  const deadline = Date.now() + 10000;
  for (;;) {
    const now = await inboundAudioBytes(page);
    if (now > start + 1000) return now - start;
    if (Date.now() > deadline) throw new Error(`${what}: no audio arrives (${start} → ${now} bytes)`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

module.exports = {
  CHROMIUM, SHOTS, startServer, browser, shot, message, createUser, signIn, watchPeers, inboundAudioBytes, audioFlows,
};
