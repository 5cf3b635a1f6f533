// Shared by the benchmarks written in Node (bench/sip, bench/cc): processes, CPU accounting,
// desk-phone users, and a Switchboard server provisioned over REST as the integration guide
// does. Node built-ins only.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const dgram = require('node:dgram');
const fs = require('node:fs');
const path = require('node:path');

const DOMAIN = 'my-company.lo';
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A UDP port that was free a moment ago (bound to port 0 and released). */
function freeUdpPort() {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** utime + stime of one process, in clock ticks; 0 once it is gone. */
function procTicks(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return 0;
  }
}

/** The pids of `root` and every live descendant (Kamailio forks its workers). */
function processTree(root) {
  const parent = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(name), Number(rest[1]));
    } catch { /* gone */ }
  }
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

function treeTicks(pids) {
  return pids.reduce((sum, pid) => sum + procTicks(pid), 0);
}

function waitExit(child, ms) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const t = setTimeout(resolve, ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

/** Notes when a server's process ends before we stop it (`server.died`). */
function watchExit(server) {
  server.child.once('exit', (code, signal) => {
    if (server.stopping) return;
    server.died = signal ? `killed by ${signal}` : `exited with ${code}`;
    console.log(`!! ${server.label} ${server.died} during the run`);
  });
  const stop = server.stop;
  server.stop = () => {
    server.stopping = true;
    return stop();
  };
}

// ---- the users -----------------------------------------------------------------------------

function makeUsers(n, first = 1001) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const extension = String(first + i);
    users.push({
      extension,
      account: `desk${extension}`,
      password: crypto.randomBytes(8).toString('hex'),
    });
  }
  return users;
}

/** SIPp's injection file: extension; domain; the whole [authentication …] keyword. */
function writeCsv(file, users) {
  const lines = ['SEQUENTIAL'];
  for (const u of users) {
    lines.push(`${u.extension};${DOMAIN};[authentication username=${u.account} password=${u.password}];`);
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

// ---- Switchboard ---------------------------------------------------------------------------

/** `switchboard serve` on a fresh data folder in `work` (embedded SQLite), loopback ports,
 *  OPTIONS pings, recording and the demo off; `opts.seats` licence seats, `opts.env` extra. */
async function startSwitchboard(opts, work) {
  const data = path.join(work, 'switchboard-data');
  fs.mkdirSync(data);
  const token = crypto.randomBytes(24).toString('hex');
  const child = spawn(opts.bin, ['serve'], {
    env: {
      ...process.env,
      SWITCHBOARD_DATA: data,
      SWITCHBOARD_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_SIP_LISTEN: '127.0.0.1:0',
      SWITCHBOARD_BOOTSTRAP_TOKEN: token,
      SWITCHBOARD_LICENSE_SEATS: String(opts.seats),
      SWITCHBOARD_SIP_PING_INTERVAL: '0',
      SWITCHBOARD_RECORD: 'false',
      SWITCHBOARD_DEMO: 'false',
      SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn',
      ...(opts.env || {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(path.join(work, 'switchboard.log'));
  child.stderr.pipe(log);
  let out = '';
  const addrs = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`switchboard did not start: ${out}`)), 30000);
    child.once('exit', (code) => reject(new Error(`switchboard exited with ${code}: ${out}`)));
    child.stdout.on('data', (chunk) => {
      out += chunk;
      log.write(chunk);
      const sip = out.match(/sip listening on udp\+tcp (\S+)/);
      const http = out.match(/listening on (https?:\/\/\S+)/);
      if (sip && http) {
        clearTimeout(timer);
        resolve({ sip: sip[1], http: http[1] });
      }
    });
  });
  child.stdout.on('data', (chunk) => log.write(chunk));
  const server = {
    name: 'switchboard',
    label: 'Switchboard',
    target: addrs.sip,
    http: addrs.http,
    token,
    child,
    pids: () => [child.pid],
    async stop() {
      child.kill('SIGINT');
      await waitExit(child, 5000);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  watchExit(server);
  return server;
}

async function rest(sb, method, url, body) {
  const res = await fetch(`${sb.http}/api${url}`, {
    method,
    headers: { 'X-Webitel-Access': sb.token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** The integration guide's flow for each user: a device, then a user owning it. */
async function provision(sb, users, { inFlight = 8, role: roleName = 'user' } = {}) {
  const roles = await rest(sb, 'GET', '/roles?size=100');
  const role = roles.items.find((r) => r.name === roleName).id;
  const lic = await rest(sb, 'GET', '/license');
  const license = lic.items[0].id;
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const u = users[next++];
      const dev = await rest(sb, 'POST', '/devices', {
        name: `Desk ${u.extension}`, account: u.account, password: u.password,
      });
      const user = await rest(sb, 'POST', '/users', {
        name: `Desk user ${u.extension}`,
        username: u.account,
        password: crypto.randomBytes(12).toString('hex'),
        extension: u.extension,
        roles: [{ id: role }],
        device: { id: dev.id },
        devices: [{ id: dev.id }],
        license: [{ id: license }],
      });
      u.userId = user.id;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

// ---- Kamailio ------------------------------------------------------------------------------

/** Where Debian's (or a local build's) Kamailio modules are. */
function kamailioModules() {
  for (const dir of ['/usr/lib/x86_64-linux-gnu/kamailio/modules', '/usr/lib/aarch64-linux-gnu/kamailio/modules',
    '/usr/lib/kamailio/modules', '/usr/local/lib64/kamailio/modules', '/usr/local/lib/kamailio/modules']) {
    if (fs.existsSync(path.join(dir, 'registrar.so'))) return dir;
  }
  throw new Error('kamailio modules not found (apt-get install kamailio)');
}

/** Kamailio's version, e.g. 5.6.3. */
function kamailioVersion() {
  try {
    const v = execFileSync('kamailio', ['-v']).toString().match(/kamailio (\d+\.\d+\.\d+)/);
    return v ? v[1] : '?';
  } catch {
    return '?';
  }
}

/// Steps the offered rate up through `rates`, the servers in turn at each rate, until each has
/// missed once; then halves the gap between each server's last carried and first missed rate
/// `refine` times (rounded to 50/s). `run(server, rate)` runs one step and returns its result
/// (`{rate, pass, …}`). Returns the results per server name and `bounds(server)`: the highest
/// carried rate (`lo`, 0 for none) and the lowest missed one (`hi`, Infinity for none).
async function stepRates(servers, rates, refine, run) {
  const results = new Map(servers.map((s) => [s.name, []]));
  const step = async (s, rate) => {
    const r = await run(s, rate);
    results.get(s.name).push(r);
    return r.pass;
  };
  const done = new Set();
  for (const rate of rates) {
    for (const s of servers) {
      if (!done.has(s.name) && !(await step(s, rate))) done.add(s.name);
    }
    if (done.size === servers.length) break;
  }
  const bounds = (s) => {
    const rs = results.get(s.name);
    const lo = Math.max(0, ...rs.filter((r) => r.pass).map((r) => r.rate));
    const hi = Math.min(Infinity, ...rs.filter((r) => !r.pass).map((r) => r.rate));
    return { lo, hi };
  };
  for (let i = 0; i < refine; i++) {
    for (const s of servers) {
      const { lo, hi } = bounds(s);
      if (!lo || !Number.isFinite(hi)) continue;
      const mid = Math.round((lo + hi) / 2 / 50) * 50;
      if (mid > lo && mid < hi) await step(s, mid);
    }
  }
  return { results, bounds };
}

/// Each server's best step (the highest offered rate it carried) and its first miss, from
/// `stepRates`' results.
function bestAndMiss(servers, results, bounds) {
  const summary = new Map();
  for (const s of servers) {
    const rs = results.get(s.name);
    const { lo, hi } = bounds(s);
    summary.set(s.name, {
      best: rs.find((r) => r.pass && r.rate === lo) || null,
      miss: rs.find((r) => !r.pass && r.rate === hi) || null,
    });
  }
  return summary;
}

/// The passing steps of Switchboard and Kamailio at the highest rate both carried, or null.
function atCommonRate(results) {
  const pair = results.get('switchboard').filter((r) => r.pass).sort((x, y) => x.rate - y.rate)
    .map((r) => [r, results.get('kamailio').find((k) => k.pass && k.rate === r.rate)])
    .filter(([, k]) => k).pop();
  return pair || null;
}

/// Says which servers carried every offered rate (their capacity lies above it).
function capacityNotes(servers, summary) {
  for (const s of servers) {
    const { best, miss } = summary.get(s.name);
    if (best && !miss) console.log(`note: ${s.label} carried every offered rate; its capacity is above ${best.rate}/s (add --rates)`);
  }
}

module.exports = {
  stepRates, bestAndMiss, atCommonRate, capacityNotes,
  DOMAIN, CLK_TCK, sleep, freeUdpPort, procTicks, processTree, treeTicks, waitExit, watchExit,
  makeUsers, writeCsv, startSwitchboard, rest, provision, kamailioModules, kamailioVersion,
};
