#!/usr/bin/env node
// bench/cc: real SIP calls into an inbound queue served by auto-answering desk-phone agents.
//
// Callers come in over an IP trunk (SIPp UAC, no digest) whose schema joins the queue; the
// queue answers each caller and plays its waiting tone until an agent takes the call. The
// agents are N desk phones registered with digest (one SIPp answering every binding), online
// in a longest-idle team without wrap-up. The offered rate ramps up to R new calls/s and holds
// there; each caller talks T seconds (both directions of G.711 through the server) and hangs
// up. Measured: wait-to-offer (the queue's answer at the caller to the INVITE at the agent,
// matched on the caller's number; and joined_at → offering_at of the stored attempts), lost
// calls (a caller not answered, or never offered to an agent), stuck calls (attempts still
// open, agents not back to waiting, calls still up after the run), peak concurrent queue
// calls, and the server's CPU per call. Started by bench/cc/run.sh. Node built-ins only.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  CLK_TCK, sleep, freeUdpPort, treeTicks, waitExit,
  makeUsers, writeCsv, startSwitchboard, rest, provision,
} = require('../lib/harness');

const HERE = __dirname;
const QUEUE_NUMBER = '4420100';

function parseArgs(argv) {
  const smoke = argv.includes('--smoke');
  const o = smoke
    ? { smoke, agents: 20, rate: 5, ramp: 2, hold: 4, talk: 2 }
    : { smoke, agents: 600, rate: 50, ramp: 10, hold: 30, talk: 10 };
  o.bin = process.env.SWITCHBOARD_BIN || path.resolve(HERE, '../../target/release/switchboard');
  o.keep = !!process.env.BENCH_KEEP;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    if (a === '--smoke') continue;
    else if (a === '--agents') o.agents = next();
    else if (a === '--rate') o.rate = next();
    else if (a === '--ramp') o.ramp = next();
    else if (a === '--hold') o.hold = next();
    else if (a === '--talk') o.talk = next();
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/cc/run.sh [--smoke] [--agents N] [--rate R] [--ramp S] [--hold S] [--talk S]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

/** Runs SIPp to its end; resolves with its exit code. */
function sippRun(args, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const err = fs.openSync(path.join(dir, 'stderr.log'), 'w');
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', err] });
  fs.closeSync(err);
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

/** The last row of a SIPp statistics file, by column name. */
function sippStats(file) {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  if (lines.length < 2) throw new Error(`no SIPp statistics in ${file}`);
  const head = lines[0].split(';');
  const rows = lines.slice(1).map((l) => l.split(';'));
  const col = (row, name) => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`no ${name} in ${file}`);
    return Number(row[i]);
  };
  const last = rows[rows.length - 1];
  return {
    created: col(last, 'OutgoingCall(C)') || col(last, 'IncomingCall(C)'),
    ok: col(last, 'SuccessfulCall(C)'),
    failed: col(last, 'FailedCall(C)'),
    retrans: col(last, 'Retransmissions(C)'),
    peak: Math.max(...rows.map((r) => col(r, 'CurrentCall'))),
  };
}

/** "<word> <s> <us> <number>" lines of SIPp's -trace_logs files in `dir`: number → epoch ms. */
function logged(dir, word) {
  const at = new Map();
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('_logs.log'))) {
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const p = line.trim().split(/\s+/);
      if (p[0] === word && p.length >= 4) {
        const ms = Number(p[1]) * 1000 + Number(p[2]) / 1000;
        if (!at.has(p[3])) at.set(p[3], ms);
      }
    }
  }
  return at;
}

function quantile(sorted, q) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const fmt = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');

async function inParallel(items, n, f) {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await f(items[next++]);
  }));
}

/** Every item of an engine-style list (`{items, next}`), page by page. */
async function all(sb, url) {
  const out = [];
  for (let page = 1; ; page++) {
    const sep = url.includes('?') ? '&' : '?';
    const r = await rest(sb, 'GET', `${url}${sep}page=${page}&size=500`);
    out.push(...(r.items || []));
    if (!r.next) return out;
  }
}

async function setUp(sb, opts, agents, callerPort) {
  const team = await rest(sb, 'POST', '/call_center/teams', {
    name: 'Bench team', strategy: 'longest-idle-agent', call_timeout: 20,
    max_no_answer: 0, wrap_up_time: 0,
  });
  const queue = await rest(sb, 'POST', '/call_center/queues', {
    name: 'Bench queue', type: 1, strategy: 'fifo', enabled: true, priority: 0,
    team: { id: team.id }, processing: false, payload: { max_wait_time: 120 },
  });
  const schema = await rest(sb, 'POST', '/routing/schema', {
    name: 'Bench line', type: 'default',
    schema: [
      { joinQueue: { queue: { id: Number(queue.id), name: 'Bench queue' } } },
      { hangup: 'NO_ANSWER' },
    ],
  });
  await rest(sb, 'POST', '/sip/gateways', {
    name: 'Bench carrier', register: false, host: 'provider.test',
    proxy: `127.0.0.1:${callerPort}`, ipacl: [{ ip: '127.0.0.1/32', proto: 'udp' }],
    schema: { id: schema.id }, enable: true,
  });
  await inParallel(agents, 8, async (u) => {
    const a = await rest(sb, 'POST', '/call_center/agents', { user: { id: u.userId }, team: { id: team.id } });
    u.agentId = a.id;
  });
  return { team, queue };
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cc-'));
  const calls = Math.round(opts.rate * opts.ramp / 2 + opts.rate * opts.hold);
  console.log(`bench/cc: ${opts.agents} agents, ramp to ${opts.rate} calls/s over ${opts.ramp} s, hold ${opts.hold} s `
    + `(${calls} calls), ${opts.talk} s talk; ${os.cpus().length} cores, load average `
    + `${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; work dir ${work}`);
  const sb = await startSwitchboard({ ...opts, seats: opts.agents + 10 }, work);
  let agentSipp = null;
  let failed = false;
  try {
    const agents = makeUsers(opts.agents, 3001);
    let t = Date.now();
    await provision(sb, agents, { role: 'agent' });
    const callerPort = await freeUdpPort();
    const { queue } = await setUp(sb, opts, agents, callerPort);
    console.log(`switchboard ${sb.target}: ${agents.length} agent users, agents, a team, a queue, its schema and `
      + `an IP trunk provisioned over REST in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    // The agents' phones register from the port their answering SIPp then listens on.
    const csv = path.join(work, 'agents.csv');
    writeCsv(csv, agents);
    const phonePort = await freeUdpPort();
    const regDir = path.join(work, 'register');
    const reg = sippRun([
      '-sf', path.join(HERE, '../sip/register.xml'), '-inf', csv, '-auth_uri', 'my-company.lo',
      '-t', 'u1', '-i', '127.0.0.1', '-p', String(phonePort), '-r', '200', '-m', String(agents.length),
      '-trace_stat', '-stf', path.join(regDir, 'stat.csv'), '-timeout', '60s', '-nostdin', sb.target,
    ], regDir);
    await reg.done;
    const regStats = sippStats(path.join(regDir, 'stat.csv'));
    if (regStats.ok !== agents.length) throw new Error(`${regStats.ok} of ${agents.length} agent phones registered; see ${regDir}`);
    const agentDir = path.join(work, 'agents');
    agentSipp = sippRun([
      '-sf', path.join(HERE, 'agent.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(phonePort),
      '-mp', String(await freeUdpPort()), '-rtp_echo', '-trace_logs', '-trace_stat',
      '-stf', path.join(agentDir, 'stat.csv'), '-fd', '1', '-nostdin',
    ], agentDir);
    t = Date.now();
    await inParallel(agents, 8, (u) => rest(sb, 'PATCH', `/call_center/agents/${u.agentId}/status`, { status: 'online' }));
    console.log(`agents: ${agents.length} phones registered (digest), all online in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    await sleep(1000);

    // The callers: ramp, hold, talk.
    const callerDir = path.join(work, 'callers');
    const step = Math.max(1, Math.round(opts.rate / opts.ramp));
    const t0 = Date.now();
    const c0 = treeTicks([sb.child.pid]);
    const callers = sippRun([
      '-sf', path.join(HERE, 'caller.xml'), '-key', 'queue_number', QUEUE_NUMBER,
      '-t', 'u1', '-i', '127.0.0.1', '-p', String(callerPort), '-mp', String(await freeUdpPort()),
      '-r', String(step), '-rate_increase', String(step), '-rate_max', String(opts.rate), '-no_rate_quit', '-fd', '1',
      '-m', String(calls), '-l', String(calls), '-d', String(opts.talk * 1000),
      '-trace_logs', '-trace_stat', '-stf', path.join(callerDir, 'stat.csv'), '-trace_err',
      '-error_file', path.join(callerDir, 'errors.log'),
      '-timeout', `${opts.ramp + opts.hold + opts.talk + 60}s`, '-nostdin', sb.target,
    ], callerDir);
    await callers.done;
    const wall = (Date.now() - t0) / 1000;
    const cpu = (treeTicks([sb.child.pid]) - c0) / CLK_TCK;
    await sleep(2000);

    // What each side saw.
    const cs = sippStats(path.join(callerDir, 'stat.csv'));
    const answered = logged(callerDir, 'answered');
    const offered = logged(agentDir, 'offer');
    const waits = [];
    let neverOffered = 0;
    for (const [number, at] of answered) {
      const o = offered.get(number);
      if (o === undefined) neverOffered++;
      else waits.push(o - at);
    }
    waits.sort((a, b) => a - b);

    // What the server stored and holds now.
    const attempts = await all(sb, `/call_center/queues/attempts/history?queue_id=${queue.id}`);
    const open = attempts.filter((a) => !Number(a.leaving_at));
    const stored = attempts.map((a) => Number(a.offering_at) - Number(a.joined_at))
      .filter((x) => Number.isFinite(x) && x >= 0).sort((a, b) => a - b);
    const list = await all(sb, '/call_center/agents');
    const notWaiting = list.filter((a) => a.status !== 'online'
      || (a.channel || []).some((c) => c.state && c.state !== 'waiting'));
    const active = await rest(sb, 'GET', '/calls/active?size=1000');
    const stillUp = (active.items || []).length;

    const lost = cs.failed + neverOffered;
    const stuck = open.length + notWaiting.length + stillUp;
    console.log('');
    console.log('| offered | answered by the queue | offered to an agent | lost | stuck | peak concurrent queue calls | wait-to-offer at the phones p50 / p99 / max | joined→offering stored p50 / p99 | server CPU | server CPU per call |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    console.log(`| ${cs.created} calls, ramp to ${opts.rate}/s | ${answered.size} | ${waits.length} | ${lost} `
      + `(${cs.failed} failed at SIPp, ${neverOffered} never offered) | ${stuck} (${open.length} open attempts, `
      + `${notWaiting.length} agents not back to waiting, ${stillUp} calls up) | ${cs.peak} | `
      + `${fmt(quantile(waits, 0.5))} / ${fmt(quantile(waits, 0.99))} / ${fmt(waits[waits.length - 1])} ms | `
      + `${fmt(quantile(stored, 0.5), 0)} / ${fmt(quantile(stored, 0.99), 0)} ms | ${fmt(cpu / wall * 100)} % of a core | `
      + `${fmt(cpu * 1000 / Math.max(1, cs.ok), 2)} ms |`);
    console.log('');
    const p99 = quantile(waits, 0.99);
    console.log(`target wait-to-offer p99 < 20 ms: ${p99 < 20 ? 'met' : 'NOT met'} (${fmt(p99)} ms); `
      + `lost 0: ${lost === 0 ? 'met' : 'NOT met'}; stuck 0: ${stuck === 0 ? 'met' : 'NOT met'}; `
      + `500 concurrent: ${cs.peak >= 500 ? 'reached' : `not reached (${cs.peak})`}`);
    console.log(`SIPp: callers ${cs.ok} ok, ${cs.failed} failed, ${cs.retrans} retransmissions; `
      + `load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('peer: FreeSWITCH mod_callcenter is not packaged in Debian 12 (SignalWire ships it from its '
      + 'own token-gated repository only); its published figure (signalwire/freeswitch#2458): about 200 '
      + 'queued calls at about 20 calls/s overload it on 12 vCPU.');
    failed = lost > 0 || stuck > 0 || answered.size === 0;
  } finally {
    if (agentSipp) {
      agentSipp.child.kill('SIGINT');
      await waitExit(agentSipp.child, 3000);
      if (agentSipp.child.exitCode === null) agentSipp.child.kill('SIGKILL');
    }
    await sb.stop();
    if (!opts.keep && !failed) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`work dir kept: ${work}`);
  }
  if (opts.smoke && failed) {
    console.log('smoke: calls were lost or stuck');
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
