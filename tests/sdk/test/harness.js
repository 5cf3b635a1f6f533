// Starts a real `switchboard serve` on a free port with a fresh data folder and provisions
// users exactly as the integration guide does (REST with the integration token).
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

globalThis.WebSocket = require('ws');

const BIN = process.env.SWITCHBOARD_BIN
  || path.resolve(__dirname, '../../../target/debug/switchboard');

async function startServer() {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-sdk-'));
  const admin = crypto.randomBytes(24).toString('hex');
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_DATA: data,
      SWITCHBOARD_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_BOOTSTRAP_TOKEN: admin,
      SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    child.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
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
    wsBase: base.replace(/^http/, 'ws'),
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
      const json = text ? JSON.parse(text) : null;
      if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
      return json;
    },
  };
  const roles = await server.rest('GET', '/roles?size=100');
  server.userRole = roles.items.find((r) => r.name === 'user').id;
  const lic = await server.rest('GET', '/license');
  server.licenseId = lic.items[0].id;
  return server;
}

let seq = 0;

// The guide's flow: a WebRTC device, a user with it and a licence, a user token.
async function provisionUser(server, { device = true, license = true } = {}) {
  const n = `${process.pid}${++seq}${Date.now() % 100000}`;
  const account = `dev${n}`;
  const password = crypto.randomBytes(9).toString('base64url');
  const extension = String(1000 + seq);
  let dev = null;
  if (device) {
    dev = await server.rest('POST', '/devices', { name: `Phone ${n}`, account, password });
  }
  const user = await server.rest('POST', '/users', {
    name: `User "${n}"`,
    email: `u${n}@example.com`,
    username: `u${n}`,
    password: crypto.randomBytes(12).toString('hex'),
    extension,
    roles: [{ id: server.userRole }],
    ...(dev ? { device: { id: dev.id }, devices: [{ id: dev.id }] } : {}),
    license: license ? [{ id: server.licenseId }] : [],
  });
  const tok = await server.rest('POST', `/users/${user.id}/tokens`, { usage: 'sdk test' });
  return {
    id: Number(user.id), name: user.name, extension, account, password, token: tok.token, tokenKey: tok.id,
  };
}

// A raw WebSocket that collects every parsed frame, for protocol edge cases the SDK never sends.
function rawSocket(url) {
  const ws = new WebSocket(url);
  const frames = [];
  const arrived = [];
  const waiters = [];
  ws.on('message', (data) => {
    const msg = JSON.parse(data.toString());
    arrived.push(msg);
    frames.push(msg);
    for (const w of [...waiters]) {
      if (w.pred(msg)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(msg);
      }
    }
  });
  const closed = new Promise((resolve) => ws.on('close', (code) => resolve(code)));
  return {
    ws,
    frames,
    arrived,
    closed,
    open: () => new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); }),
    send: (obj) => ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)),
    next(pred, ms = 3000) {
      const found = frames.find(pred);
      if (found) { frames.splice(frames.indexOf(found), 1); return Promise.resolve(found); }
      return new Promise((resolve, reject) => {
        const w = {
          pred,
          resolve: (m) => { clearTimeout(t); frames.splice(frames.indexOf(m), 1); resolve(m); },
        };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error('no matching frame in time'));
        }, ms);
        waiters.push(w);
      });
    },
    reply: function (seqNo, ms) { return this.next((m) => m.seq_reply === seqNo, ms); },
  };
}

const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');

module.exports = { startServer, provisionUser, rawSocket, md5 };
