#!/usr/bin/env node
// bench/sip: digest-authenticated REGISTER/s, Switchboard next to Kamailio, in one run.
//
// Both registrars run at once on loopback with the same N users (each its own password), and
// SIPp plays the same scenario (bench/sip/register.xml: REGISTER, 401, REGISTER with
// Authorization, 200) against each in turn, one rate step after another: for each offered
// rate, first Switchboard, then Kamailio, so the two see the same machine within seconds of
// each other. A server stops stepping after its first step that misses the bar (see README).
// Started by bench/sip/run.sh, which builds the server and installs Kamailio and SIPp.
// Node built-ins only.
'use strict';
const { spawn, execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  DOMAIN, CLK_TCK, sleep, freeUdpPort, processTree, treeTicks, waitExit, watchExit,
  makeUsers, writeCsv, startSwitchboard, rest, provision, kamailioModules, kamailioVersion, stepRates,
  bestAndMiss, atCommonRate, capacityNotes,
} = require('../lib/harness');

const HERE = __dirname;

// ---- options -------------------------------------------------------------------------------

function parseArgs(argv) {
  const smoke = argv.includes('--smoke');
  const o = {
    smoke,
    users: smoke ? 200 : 2000,
    secs: smoke ? 2 : 30,
    rates: smoke ? [100, 400] : [250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 10000, 12000, 15000, 20000],
    servers: ['switchboard', 'kamailio'],
    bin: process.env.SWITCHBOARD_BIN || path.resolve(HERE, '../../target/release/switchboard'),
    children: Number(process.env.BENCH_KAMAILIO_CHILDREN || 0) || Math.max(2, 2 * os.cpus().length),
    failPct: 1,
    refine: smoke ? 0 : 2,
    keep: !!process.env.BENCH_KEEP,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--smoke') continue;
    else if (a === '--users') o.users = Number(next());
    else if (a === '--secs') o.secs = Number(next());
    else if (a === '--rates') o.rates = next().split(',').map(Number);
    else if (a === '--servers') o.servers = next().split(',');
    else if (a === '--kamailio-children') o.children = Number(next());
    else if (a === '--refine') o.refine = Number(next());
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/sip/run.sh [--smoke] [--users N] [--secs S] [--rates R1,R2,…] '
        + '[--servers switchboard,kamailio] [--kamailio-children N] [--refine K]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---- Kamailio ------------------------------------------------------------------------------

async function startKamailio(opts, work, users) {
  const dir = path.join(work, 'kamailio');
  const db = path.join(dir, 'db');
  fs.mkdirSync(db, { recursive: true });
  // db_text table: a header naming the columns, then one row per account.
  const rows = users.map((u) => `${u.account}:${u.password}:${u.extension}`);
  fs.writeFileSync(path.join(db, 'users'),
    `account(str) password(str) extension(str)\n${rows.join('\n')}\n`);
  const port = await freeUdpPort();
  const cfg = fs.readFileSync(path.join(HERE, 'kamailio.cfg'), 'utf8')
    .replaceAll('@CHILDREN@', String(opts.children))
    .replaceAll('@PORT@', String(port))
    .replaceAll('@MODULES@', `${kamailioModules()}/`)
    .replaceAll('@DBDIR@', db)
    .replaceAll('@SECRET@', crypto.randomBytes(16).toString('hex'));
  const cfgFile = path.join(dir, 'kamailio.cfg');
  fs.writeFileSync(cfgFile, cfg);
  const log = fs.openSync(path.join(dir, 'kamailio.log'), 'w');
  // -DD: stay in the foreground (the workers are still forked); -E: log to stderr.
  const child = spawn('kamailio', ['-f', cfgFile, '-DD', '-E', '-m', '256', '-M', '16', '-w', dir], {
    cwd: dir,
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  const r = await Promise.race([exited.then((c) => ({ exit: c })), sleep(1000)]);
  if (r && r.exit !== undefined) {
    throw new Error(`kamailio exited with ${r.exit}: ${fs.readFileSync(path.join(dir, 'kamailio.log'), 'utf8')}`);
  }
  const server = {
    name: 'kamailio',
    label: `Kamailio ${kamailioVersion()} (${opts.children} UDP workers)`,
    target: `127.0.0.1:${port}`,
    child,
    pids: () => processTree(child.pid),
    async stop() {
      child.kill('SIGTERM');
      await waitExit(child, 5000);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
  watchExit(server);
  return server;
}

// ---- SIPp ----------------------------------------------------------------------------------

/** SIPp's time stamps read "YYYY-MM-DD\tHH:MM:SS.uuuuuu\tEPOCH.uuuuuu": the epoch seconds. */
function sippEpoch(s) {
  return Number(s.trim().split(/\s+/).pop());
}

/** Runs SIPp once: `calls` registrations offered at `rate`/s. Returns its final statistics. */
async function sipp(server, { rate, calls, csv, dir, timeoutS }) {
  fs.mkdirSync(dir, { recursive: true });
  const port = await freeUdpPort();
  const stat = path.join(dir, 'stat.csv');
  const args = [
    '-sf', path.join(HERE, 'register.xml'),
    '-inf', csv,
    '-auth_uri', DOMAIN,
    '-t', 'u1', '-i', '127.0.0.1', '-p', String(port),
    '-r', String(rate), '-m', String(calls),
    '-l', String(Math.max(1000, rate * 4)),
    '-buff_size', '4194304',
    '-max_non_invite_retrans', '3',
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
    '-timeout', `${timeoutS}s`,
    '-nostdin',
    server.target,
  ];
  const pids = server.pids();
  const t0 = process.hrtime.bigint();
  const c0 = treeTicks(pids);
  // `times` reports the CPU of the shell's children (SIPp) after it exits.
  const sh = spawn('bash', ['-c', 'sipp "$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'sipp', ...args], {
    cwd: dir, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  sh.stdout.on('data', (c) => { out += c; });
  const rc = await new Promise((resolve) => sh.once('exit', (code) => resolve(code)));
  const c1 = treeTicks(pids);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const times = out.trim().split('\n').pop().match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
  const sippCpu = times ? Number(times[1]) * 60 + Number(times[2]) + Number(times[3]) * 60 + Number(times[4]) : NaN;

  const lines = fs.existsSync(stat) ? fs.readFileSync(stat, 'utf8').trim().split('\n') : [];
  if (lines.length < 2) throw new Error(`sipp left no statistics (exit ${rc}) in ${dir}`);
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  const col = (name) => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`no ${name} in ${stat}`);
    return last[i];
  };
  const ok = Number(col('SuccessfulCall(C)'));
  const failed = Number(col('FailedCall(C)'));
  const created = Number(col('OutgoingCall(C)'));
  const retrans = Number(col('Retransmissions(C)'));
  // ElapsedTime(C) has whole seconds only; the stamps have microseconds.
  const elapsed = sippEpoch(col('CurrentTime')) - sippEpoch(col('StartTime'));
  return {
    rate, calls, created, ok, failed, retrans, elapsed,
    achieved: elapsed > 0 ? ok / elapsed : 0,
    serverCpu: ((c1 - c0) / CLK_TCK / wall) * 100,
    serverCpuMsPer1k: ok > 0 ? ((c1 - c0) / CLK_TCK) * 1000 / (ok / 1000) : NaN,
    sippCpu: (sippCpu / wall) * 100,
    wall,
    rc,
  };
}

/** Did this step carry its load: failures and retransmissions at most failPct % of the calls,
 *  and the achieved rate within 5 % of the offered one? */
function passes(r, failPct) {
  const n = Math.max(1, r.created);
  return r.failed / n * 100 <= failPct
    && r.retrans / n * 100 <= failPct
    && r.achieved >= 0.95 * r.rate
    && r.ok + r.failed >= r.calls;
}

/** One registration, repeated until it succeeds: the server is up and the users are there. */
async function probe(server, csv, work) {
  for (let i = 0; i < 20; i++) {
    const r = await sipp(server, { rate: 1, calls: 1, csv, dir: path.join(work, `probe-${server.name}-${i}`), timeoutS: 5 });
    if (r.ok === 1) return;
    await sleep(500);
  }
  throw new Error(`${server.label}: no registration succeeded; see ${work}`);
}

// ---- the run -------------------------------------------------------------------------------

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const pct = (a, b) => (b > 0 ? `${(a / b * 100).toFixed(2)} %` : '-');

function stepLine(server, r, ok) {
  return `${server.name.padEnd(11)} offered ${String(r.rate).padStart(6)}/s × ${r.calls} : `
    + `${fmt(r.achieved).padStart(6)} REGISTER/s (${r.ok} ok, ${r.failed} failed, ${r.retrans} retrans, `
    + `${fmt(r.elapsed, 1)} s)  server CPU ${fmt(r.serverCpu, 1)} %, ${fmt(r.serverCpuMsPer1k, 1)} ms/1k  `
    + `sipp CPU ${fmt(r.sippCpu, 1)} %  ${ok ? 'ok' : 'MISSED'}${r.died ? ` (server ${r.died})` : ''}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sip-'));
  const users = makeUsers(opts.users);
  const csv = path.join(work, 'users.csv');
  writeCsv(csv, users);
  console.log(`bench/sip: ${opts.users} users, ${opts.secs} s per step, rates ${opts.rates.join(' ')}/s; `
    + `${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; work dir ${work}`);

  const servers = [];
  const stopAll = async () => {
    for (const s of servers) await s.stop().catch(() => {});
  };
  process.on('SIGINT', () => { stopAll().then(() => process.exit(130)); });
  let failedSmoke = false;
  try {
    if (opts.servers.includes('switchboard')) {
      const sb = await startSwitchboard({ ...opts, seats: opts.users + 10 }, work);
      servers.push(sb);
      const t = Date.now();
      await provision(sb, users);
      console.log(`switchboard: ${sb.target} (SIP/UDP); provisioned ${users.length} devices and users over REST in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }
    if (opts.servers.includes('kamailio')) {
      const k = await startKamailio(opts, work, users);
      servers.push(k);
      console.log(`kamailio: ${k.target}; ${k.label}, ${users.length} accounts in an htable from a db_text file`);
    }
    for (const s of servers) await probe(s, csv, work);

    const { results, bounds } = await stepRates(servers, opts.rates, opts.refine, async (s, rate) => {
      if (s.died) return { rate, pass: false, died: s.died, achieved: 0, failed: 0, retrans: 0 };
      const calls = Math.round(rate * opts.secs);
      const r = await sipp(s, {
        rate, calls, csv, dir: path.join(work, `${s.name}-${rate}`), timeoutS: opts.secs * 3 + 20,
      });
      r.pass = passes(r, opts.failPct) && !s.died;
      if (s.died) r.died = s.died;
      console.log(stepLine(s, r, r.pass));
      await sleep(500);
      return r;
    });

    // The table: each server's sustainable rate (highest offered rate it carried) and its peak.
    console.log('');
    console.log('| server | sustainable REGISTER/s (offered) | achieved REGISTER/s | failures | retransmissions | server CPU (% of one core) | server CPU ms per 1k REGISTER | SIPp CPU | first missed rate: achieved (offered) |');
    console.log('|---|---|---|---|---|---|---|---|---|');
    const summary = bestAndMiss(servers, results, bounds);
    for (const s of servers) {
      const { best, miss } = summary.get(s.name);
      if (!best) failedSmoke = true;
      const b = best || miss;
      console.log(`| ${s.label} | ${best ? best.rate : 'none'} | ${b ? fmt(b.achieved) : '-'} | `
        + `${b ? `${b.failed} (${pct(b.failed, b.created)})` : '-'} | ${b ? `${b.retrans} (${pct(b.retrans, b.created)})` : '-'} | `
        + `${b ? fmt(b.serverCpu, 1) : '-'} | ${b ? fmt(b.serverCpuMsPer1k, 1) : '-'} | ${b ? `${fmt(b.sippCpu, 1)} %` : '-'} | `
        + `${miss ? `${fmt(miss.achieved)} (${miss.rate}), ${miss.failed} failed, ${miss.retrans} retrans${miss.died ? `, server ${miss.died}` : ''}` : 'none'} |`);
    }
    const sbs = summary.get('switchboard');
    const kam = summary.get('kamailio');
    if (sbs && kam) {
      console.log('');
      if (sbs.best && kam.best) {
        const ratio = sbs.best.rate / kam.best.rate;
        console.log(`ratio Switchboard/Kamailio, sustainable REGISTER/s: ${ratio.toFixed(2)} (target >= 1.0: ${ratio >= 1 ? 'met' : 'NOT met'})`);
      }
      const peak = (name) => Math.max(0, ...results.get(name).map((r) => r.achieved));
      console.log(`ratio Switchboard/Kamailio, peak achieved REGISTER/s over all steps: ${(peak('switchboard') / peak('kamailio')).toFixed(2)} (${fmt(peak('switchboard'))} / ${fmt(peak('kamailio'))})`);
      // Server CPU per registration at the highest rate both carried; lower is better.
      const both = atCommonRate(results);
      if (both) {
        const [a, k] = both;
        console.log(`server CPU per 1k REGISTER at ${a.rate}/s: Switchboard ${fmt(a.serverCpuMsPer1k, 1)} ms, Kamailio ${fmt(k.serverCpuMsPer1k, 1)} ms; ratio Kamailio/Switchboard ${(k.serverCpuMsPer1k / a.serverCpuMsPer1k).toFixed(2)} (> 1: Switchboard spends less)`);
      }
    }
    console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    capacityNotes(servers, summary);
  } finally {
    await stopAll();
    if (!opts.keep && !failedSmoke) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`work dir kept: ${work}`);
  }
  if (opts.smoke && failedSmoke) {
    console.log('smoke: a server carried none of the offered rates');
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
