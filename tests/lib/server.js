// Shared by the Node test suites (tests/sdk, tests/e2e, tests/demo): a real `switchboard serve` on a free
// loopback port with a fresh data folder, and users provisioned over REST exactly as the
// integration guide does (device → user → token, with the integration token). Node built-ins only,
// so every suite can require it without a package of its own.
'use strict';
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const BIN = process.env.SWITCHBOARD_BIN
  || path.resolve(__dirname, '../../target/debug/switchboard');

/**
 * Runs `switchboard serve` on a free loopback port with a fresh data folder and waits until it
 * listens; `env` adds or overrides SWITCHBOARD_* settings. `stop()` ends it and removes the folder.
 */
async function spawnServer(env = {}) {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-test-'));
  const child = spawn(BIN, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_DATA: data,
      SWITCHBOARD_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_SIP_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let sip = null;
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30000);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const udp = out.match(/sip listening on udp\+tcp (\S+)/);
      if (udp) sip = udp[1];
      const m = out.match(/listening on (https?:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    base,
    sip,
    data,
    async stop() {
      child.kill('SIGINT');
      await new Promise((r) => { child.once('exit', r); setTimeout(r, 3000); });
      fs.rmSync(data, { recursive: true, force: true });
    },
  };
}

/** Starts the server with a known integration token; `extraEnv` as for `spawnServer`. */
async function startServer(extraEnv = {}) {
  const admin = crypto.randomBytes(24).toString('hex');
  const { base, sip, stop } = await spawnServer({
    SWITCHBOARD_BOOTSTRAP_TOKEN: admin, ...extraEnv,
  });
  const server = {
    base,
    sip,
    wsBase: base.replace(/^http/, 'ws'),
    admin,
    domain: 'my-company.lo',
    stop,
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
  server.agentRole = roles.items.find((r) => r.name === 'agent').id;
  const lic = await server.rest('GET', '/license');
  server.licenseId = lic.items[0].id;
  return server;
}

let seq = 0;

/**
 * The guide's flow: a WebRTC device, a user owning it with an extension and a licence, a token.
 * `device: false` or `license: false` leave those out; `role` replaces the `user` role (e.g.
 * `server.agentRole`); extensions count up from 1001.
 */
async function provisionUser(server, { device = true, license = true, role } = {}) {
  const n = `${process.pid}${++seq}${Date.now() % 100000}`;
  const account = `dev${n}`;
  const password = crypto.randomBytes(9).toString('base64url');
  const extension = String(1000 + seq);
  const dev = device
    ? await server.rest('POST', '/devices', { name: `Phone ${n}`, account, password })
    : null;
  const user = await server.rest('POST', '/users', {
    name: `User "${n}"`,
    email: `u${n}@example.com`,
    username: `u${n}`,
    password: crypto.randomBytes(12).toString('hex'),
    extension,
    roles: [{ id: role || server.userRole }],
    ...(dev ? { device: { id: dev.id }, devices: [{ id: dev.id }] } : {}),
    license: license ? [{ id: server.licenseId }] : [],
  });
  const tok = await server.rest('POST', `/users/${user.id}/tokens`, { usage: 'test' });
  return {
    id: Number(user.id),
    name: user.name,
    extension,
    account,
    password,
    token: tok.token,
    tokenKey: tok.id,
  };
}

module.exports = { spawnServer, startServer, provisionUser };
