// baresip (Debian `baresip-core`) as the desk phone of a demo user: a config folder of its own,
// headless audio (a sine source, the aubridge player), the SIP trace on stdout (-s) and its
// ctrl_tcp module (netstring JSON) to answer and hang up. Node built-ins only.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

/** A free loopback port (TCP; baresip uses the same number for UDP). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function until(what, fn, ms = 15000, every = 100) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/**
 * Starts a phone registering `sip:<extension>@<domain>` with digest user `account` and
 * `password` through `server` (`host:port`) over `transport` (udp or tcp).
 */
async function startBaresip({ extension, domain, account, password, server, transport = 'udp' }) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-demo-baresip-'));
  const sipPort = await freePort();
  const ctrlPort = await freePort();
  fs.writeFileSync(path.join(dir, 'config'), [
    'poll_method epoll',
    'net_interface 127.0.0.1',
    `sip_listen 127.0.0.1:${sipPort}`,
    'audio_player aubridge,none',
    'audio_alert aubridge,none',
    'audio_source ausine,440',
    'ausrc_srate 48000',
    'ausrc_channels 2',
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module ausine.so',
    'module aubridge.so',
    'module ctrl_tcp.so',
    'module_app account.so',
    'module_app menu.so',
    `ctrl_tcp_listen 127.0.0.1:${ctrlPort}`,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'accounts'),
    `<sip:${extension}@${domain};transport=${transport}>;auth_user=${account};auth_pass=${password};`
    + `outbound="sip:${server};transport=${transport}";regint=120;answermode=manual;`
    + 'audio_codecs=PCMU/8000/1,PCMA/8000/1\n');
  const child = spawn('baresip', ['-f', dir, '-s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c) => { output += c; });
  child.stderr.on('data', (c) => { output += c; });
  const exited = new Promise((r) => child.once('exit', r));

  // ctrl_tcp: `<len>:<json>,` frames; events have `event: true`, replies answer a `token`.
  const ctrl = await until('baresip ctrl_tcp', () => new Promise((resolve) => {
    const s = net.connect(ctrlPort, '127.0.0.1', () => resolve(s));
    s.once('error', () => resolve(null));
  }), 10000, 100);
  const events = [];
  const waiters = new Map();
  let buf = Buffer.alloc(0);
  ctrl.on('data', (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      const colon = buf.indexOf(':');
      if (colon < 0) return;
      const len = Number(buf.subarray(0, colon).toString());
      if (buf.length < colon + 1 + len + 1) return;
      const msg = JSON.parse(buf.subarray(colon + 1, colon + 1 + len).toString());
      buf = buf.subarray(colon + 1 + len + 1);
      if (msg.event) events.push(msg);
      else if (waiters.has(msg.token)) {
        waiters.get(msg.token)(msg);
        waiters.delete(msg.token);
      }
    }
  });
  let seq = 0;

  return {
    dir,
    get output() { return output; },
    /** The end of the output, for failure messages. */
    tail(n = 4000) { return output.slice(-n); },
    events,
    /** Sends a ctrl_tcp command (`accept`, `hangup`, …) and waits for its reply. */
    command(command, params = '') {
      const token = `t${++seq}`;
      const body = JSON.stringify({ command, params, token });
      ctrl.write(`${Buffer.byteLength(body)}:${body},`);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${command}`)), 10000);
        waiters.set(token, (m) => { clearTimeout(timer); resolve(m); });
      });
    },
    /** Waits until the phone has printed `text`. */
    waitOutput(text, ms = 15000) {
      return until(`baresip to print ${JSON.stringify(text)}:\n${output.slice(-3000)}`, () => output.includes(text), ms);
    },
    /** Waits for a ctrl_tcp event of `type` (CALL_INCOMING, CALL_ESTABLISHED, CALL_CLOSED…). */
    waitEvent(type, ms = 15000) {
      return until(`baresip event ${type}`, () => events.find((e) => e.type === type), ms);
    },
    async stop() {
      ctrl.destroy();
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { startBaresip, until };
