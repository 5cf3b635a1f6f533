#!/usr/bin/env node
// bench/sip calls: call setups per second through Switchboard's B2BUA, next to Kamailio as a
// stateful proxy, in one run.
//
// Two SIPp trunks stand on either side of each server: the calling trunk (call_uac.xml:
// INVITE with a G.711 offer, 200, ACK, a short hold, BYE) and the called trunk (call_uas.xml,
// answering at once). Switchboard takes the call as an IP trunk's (its source is in the
// gateway's access list), runs the gateway's routing schema, which bridges it to a second
// gateway where the called trunk listens, and anchors the media of both legs; Kamailio admits
// the same source, record-routes and relays the INVITE statefully (tm) to the same kind of
// called trunk. The offered rate is stepped up, Switchboard then Kamailio at each step, until a
// server misses (see README). Started by bench/sip/run.sh calls. Node built-ins only.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  CLK_TCK, sleep, freeUdpPort, processTree, treeTicks, waitExit, watchExit,
  startSwitchboard, rest, kamailioModules, kamailioVersion, stepRates,
  bestAndMiss, atCommonRate, capacityNotes,
} = require('../lib/harness');

const HERE = __dirname;
/** The number the calling trunk dials. */
const NUMBER = '5550100';

// ---- options -------------------------------------------------------------------------------

function parseArgs(argv) {
  const smoke = argv.includes('--smoke');
  const o = {
    smoke,
    secs: smoke ? 2 : 15,
    rates: smoke ? [20, 100] : [250, 500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000],
    holdMs: 200,
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
    else if (a === '--secs') o.secs = Number(next());
    else if (a === '--rates') o.rates = next().split(',').map(Number);
    else if (a === '--hold-ms') o.holdMs = Number(next());
    else if (a === '--servers') o.servers = next().split(',');
    else if (a === '--kamailio-children') o.children = Number(next());
    else if (a === '--refine') o.refine = Number(next());
    else if (a === '--help' || a === '-h') {
      console.log('usage: bench/sip/run.sh calls [--smoke] [--secs S] [--rates R1,R2,…] [--hold-ms MS] '
        + '[--servers switchboard,kamailio] [--kamailio-children N] [--refine K]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

// ---- the servers ---------------------------------------------------------------------------

/** Switchboard with two IP-trunk gateways: "Carrier" admits the calling trunk by its address
 *  and port, and its schema bridges every call to "Far", the called trunk. */
async function startSwitchboardTrunks(opts, work, ports) {
  const sb = await startSwitchboard({ ...opts, seats: 10 }, work);
  await rest(sb, 'POST', '/sip/gateways', {
    name: 'Far',
    register: false,
    host: 'far.test',
    proxy: `127.0.0.1:${ports.far.switchboard}`,
    enable: true,
  });
  const schema = await rest(sb, 'POST', '/routing/schema', {
    name: 'Carrier to far',
    type: 'default',
    schema: [{ bridge: { endpoints: [{ type: 'gateway', name: 'Far', dialString: '${destination_number}' }] } }],
  });
  await rest(sb, 'POST', '/sip/gateways', {
    name: 'Carrier',
    register: false,
    host: 'carrier.test',
    proxy: `127.0.0.1:${ports.caller}`,
    ipacl: [{ ip: '127.0.0.1/32', proto: 'udp', port: ports.caller }],
    schema: { id: schema.id },
    enable: true,
  });
  sb.far = ports.far.switchboard;
  return sb;
}

async function startKamailio(opts, work, ports) {
  const dir = path.join(work, 'kamailio');
  fs.mkdirSync(dir, { recursive: true });
  const port = await freeUdpPort();
  const cfg = fs.readFileSync(path.join(HERE, 'kamailio-proxy.cfg'), 'utf8')
    .replaceAll('@CHILDREN@', String(opts.children))
    .replaceAll('@PORT@', String(port))
    .replaceAll('@MODULES@', `${kamailioModules()}/`)
    .replaceAll('@TRUNK_NET@', '127.0.0.1/32')
    .replaceAll('@TRUNK_PORT@', String(ports.caller))
    .replaceAll('@FAR@', `127.0.0.1:${ports.far.kamailio}`);
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
    label: `Kamailio ${kamailioVersion()} (tm, ${opts.children} UDP workers)`,
    target: `127.0.0.1:${port}`,
    far: ports.far.kamailio,
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

/** The last line of a SIPp statistics file, by column name. */
function lastStats(file) {
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim().split('\n') : [];
  if (lines.length < 2) return null;
  const head = lines[0].split(';');
  const last = lines[lines.length - 1].split(';');
  return (name) => {
    const i = head.indexOf(name);
    if (i < 0) throw new Error(`no ${name} in ${file}`);
    return last[i];
  };
}

/** Setup times in ms from the calling trunk's log (`-trace_logs`): one line per call,
 *  "setup S0 U0 S1 U1", the clock before the INVITE and at the 200 (SIPp's own RTD
 *  statistics have whole milliseconds only). */
function setupTimes(dir) {
  const file = fs.readdirSync(dir).find((f) => f.endsWith('_logs.log'));
  if (!file) return [];
  const out = [];
  for (const line of fs.readFileSync(path.join(dir, file), 'utf8').split('\n')) {
    const m = line.match(/setup (\S+) (\S+) (\S+) (\S+)/);
    if (!m) continue;
    const [s0, u0, s1, u1] = m.slice(1).map(Number);
    const ms = (s1 - s0) * 1000 + (u1 - u0) / 1000;
    if (Number.isFinite(ms)) out.push(ms);
  }
  return out.sort((a, b) => a - b);
}

const quantile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.round((sorted.length - 1) * q))] : NaN);

/** A SIPp process of this step, its CPU read by the shell's `times` when it exits. */
function sippProcess(args, dir) {
  const sh = spawn('bash', ['-c', 'sipp "$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'sipp', ...args], {
    cwd: dir, stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  sh.stdout.on('data', (c) => { out += c; });
  const done = new Promise((resolve) => sh.once('exit', (code) => {
    const t = out.trim().split('\n').pop().match(/(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/);
    const cpu = t ? Number(t[1]) * 60 + Number(t[2]) + Number(t[3]) * 60 + Number(t[4]) : NaN;
    resolve({ rc: code, cpu });
  }));
  return { sh, done };
}

/** One step: the called trunk listening, then `calls` calls offered at `rate`/s. */
async function step(server, opts, ports, { rate, calls, dir, timeoutS }) {
  fs.mkdirSync(dir, { recursive: true });
  const common = ['-t', 'u1', '-i', '127.0.0.1', '-mi', '127.0.0.1', '-buff_size', '4194304', '-nostdin'];
  const uasDir = path.join(dir, 'far');
  fs.mkdirSync(uasDir);
  const uas = sippProcess([
    '-sf', path.join(HERE, 'call_uas.xml'), ...common,
    '-p', String(server.far), '-mp', String(await freeUdpPort()),
    '-m', String(calls), '-timeout', `${timeoutS + 5}s`,
    '-trace_err', '-error_file', path.join(uasDir, 'errors.log'),
  ], uasDir);
  await sleep(300);
  const stat = path.join(dir, 'stat.csv');
  const pids = server.pids();
  const t0 = process.hrtime.bigint();
  const c0 = treeTicks(pids);
  const uac = sippProcess([
    '-sf', path.join(HERE, 'call_uac.xml'), ...common,
    '-p', String(ports.caller), '-mp', String(await freeUdpPort()),
    '-s', NUMBER,
    '-r', String(rate), '-m', String(calls), '-d', String(opts.holdMs),
    '-l', String(Math.max(1000, Math.ceil(rate * (opts.holdMs / 1000 + 1) * 2))),
    '-trace_stat', '-stf', stat, '-fd', '1',
    '-trace_logs',
    '-trace_err', '-error_file', path.join(dir, 'errors.log'),
    '-timeout', `${timeoutS}s`,
    server.target,
  ], dir);
  const u = await uac.done;
  const c1 = treeTicks(pids);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  // The called trunk has seen every call it will see: let it go.
  await Promise.race([uas.done, sleep(2000)]);
  if (uas.sh.exitCode === null) uas.sh.kill('SIGTERM');
  const f = await uas.done;

  const col = lastStats(stat);
  if (!col) throw new Error(`sipp left no statistics (exit ${u.rc}) in ${dir}`);
  const ok = Number(col('SuccessfulCall(C)'));
  const failed = Number(col('FailedCall(C)'));
  const created = Number(col('OutgoingCall(C)'));
  const retrans = Number(col('Retransmissions(C)'));
  // Calls were offered for (calls / rate) s; the last ended a hold later: the setup rate is
  // over the time less the hold.
  const elapsed = sippEpoch(col('CurrentTime')) - sippEpoch(col('StartTime'));
  const setupSpan = Math.max(elapsed - opts.holdMs / 1000, 1e-3);
  const times = setupTimes(dir);
  return {
    rate, calls, created, ok, failed, retrans, elapsed,
    achieved: ok / setupSpan,
    p50: quantile(times, 0.5), p99: quantile(times, 0.99), max: quantile(times, 1), timed: times.length,
    serverCpu: ((c1 - c0) / CLK_TCK / wall) * 100,
    serverCpuMsPer1k: ok > 0 ? ((c1 - c0) / CLK_TCK) * 1000 / (ok / 1000) : NaN,
    sippCpu: ((u.cpu + f.cpu) / wall) * 100,
    wall,
  };
}

/** Did this step carry its load: failures and retransmissions at most failPct % of the calls,
 *  every call ended, and the achieved setup rate within 5 % of the offered one? */
function passes(r, failPct) {
  const n = Math.max(1, r.created);
  return r.failed / n * 100 <= failPct
    && r.retrans / n * 100 <= failPct
    && r.achieved >= 0.95 * r.rate
    && r.ok + r.failed >= r.calls;
}

/** One call, repeated until it succeeds: the server is up and routes to the called trunk. */
async function probe(server, opts, ports, work) {
  for (let i = 0; i < 20; i++) {
    const r = await step(server, { ...opts, holdMs: 0 }, ports, {
      rate: 1, calls: 1, dir: path.join(work, `probe-${server.name}-${i}`), timeoutS: 5,
    });
    if (r.ok === 1) return;
    await sleep(500);
  }
  throw new Error(`${server.label}: no call got through; see ${work}`);
}

// ---- the run -------------------------------------------------------------------------------

const fmt = (x, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const pct = (a, b) => (b > 0 ? `${(a / b * 100).toFixed(2)} %` : '-');

function stepLine(server, r, ok) {
  return `${server.name.padEnd(11)} offered ${String(r.rate).padStart(6)}/s × ${r.calls} : `
    + `${fmt(r.achieved).padStart(6)} setups/s (${r.ok} ok, ${r.failed} failed, ${r.retrans} retrans, `
    + `${fmt(r.elapsed, 1)} s)  setup ms p50 ${fmt(r.p50, 2)} p99 ${fmt(r.p99, 2)} max ${fmt(r.max, 1)}  `
    + `server CPU ${fmt(r.serverCpu, 1)} %, ${fmt(r.serverCpuMsPer1k, 1)} ms/1k  sipp CPU ${fmt(r.sippCpu, 1)} %  `
    + `${ok ? 'ok' : 'MISSED'}${r.died ? ` (server ${r.died})` : ''}`;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sip-calls-'));
  const ports = {
    caller: await freeUdpPort(),
    far: { switchboard: await freeUdpPort(), kamailio: await freeUdpPort() },
  };
  console.log(`bench/sip calls: ${opts.secs} s per step, hold ${opts.holdMs} ms, rates ${opts.rates.join(' ')}/s; `
    + `${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; work dir ${work}`);

  const servers = [];
  const stopAll = async () => {
    for (const s of servers) await s.stop().catch(() => {});
  };
  process.on('SIGINT', () => { stopAll().then(() => process.exit(130)); });
  let failed = false;
  try {
    if (opts.servers.includes('switchboard')) {
      const sb = await startSwitchboardTrunks(opts, work, ports);
      servers.push(sb);
      console.log(`switchboard: ${sb.target} (SIP/UDP); IP trunk "Carrier" (127.0.0.1:${ports.caller} in its ACL) `
        + `→ schema → gateway "Far" (127.0.0.1:${sb.far}); media anchored on both legs`);
    }
    if (opts.servers.includes('kamailio')) {
      const k = await startKamailio(opts, work, ports);
      servers.push(k);
      console.log(`kamailio: ${k.target}; ${k.label}, record-routing to 127.0.0.1:${k.far}`);
    }
    for (const s of servers) await probe(s, opts, ports, work);

    const { results, bounds } = await stepRates(servers, opts.rates, opts.refine, async (s, rate) => {
      if (s.died) return { rate, pass: false, died: s.died, achieved: 0, failed: 0, retrans: 0 };
      const calls = Math.round(rate * opts.secs);
      const r = await step(s, opts, ports, {
        rate, calls, dir: path.join(work, `${s.name}-${rate}`), timeoutS: opts.secs * 3 + 20,
      });
      r.pass = passes(r, opts.failPct) && !s.died;
      if (s.died) r.died = s.died;
      console.log(stepLine(s, r, r.pass));
      await sleep(1000);
      return r;
    });

    console.log('');
    console.log('| server | sustainable setups/s (offered) | achieved | failures | retransmissions | setup p50 / p99 ms | server CPU (% of one core) | server CPU ms per 1k calls | SIPp CPU | first missed rate: achieved (offered) |');
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    const summary = bestAndMiss(servers, results, bounds);
    for (const s of servers) {
      const { best, miss } = summary.get(s.name);
      if (!best) failed = true;
      const b = best || miss;
      console.log(`| ${s.label} | ${best ? best.rate : 'none'} | ${b ? fmt(b.achieved) : '-'} | `
        + `${b ? `${b.failed} (${pct(b.failed, b.created)})` : '-'} | ${b ? `${b.retrans} (${pct(b.retrans, b.created)})` : '-'} | `
        + `${b ? `${fmt(b.p50, 2)} / ${fmt(b.p99, 2)}` : '-'} | ${b ? fmt(b.serverCpu, 1) : '-'} | ${b ? fmt(b.serverCpuMsPer1k, 1) : '-'} | `
        + `${b ? `${fmt(b.sippCpu, 1)} %` : '-'} | `
        + `${miss ? `${fmt(miss.achieved)} (${miss.rate}), ${miss.failed} failed, ${miss.retrans} retrans${miss.died ? `, server ${miss.died}` : ''}` : 'none'} |`);
    }
    const sbs = summary.get('switchboard');
    const kam = summary.get('kamailio');
    if (sbs && kam) {
      console.log('');
      if (sbs.best && kam.best) {
        const ratio = sbs.best.rate / kam.best.rate;
        console.log(`ratio Switchboard/Kamailio, sustainable call setups/s: ${ratio.toFixed(2)} (target >= 1.0: ${ratio >= 1 ? 'met' : 'NOT met'})`);
      }
      const both = atCommonRate(results);
      if (both) {
        const [a, k] = both;
        console.log(`server CPU per 1k calls at ${a.rate}/s: Switchboard ${fmt(a.serverCpuMsPer1k, 1)} ms, Kamailio ${fmt(k.serverCpuMsPer1k, 1)} ms; ratio Kamailio/Switchboard ${(k.serverCpuMsPer1k / a.serverCpuMsPer1k).toFixed(2)} (> 1: Switchboard spends less)`);
      }
    }
    // The latency target: p99 setup under 5 ms at 1,000 calls/s.
    for (const s of servers) {
      const at = results.get(s.name).find((r) => r.rate === 1000);
      if (at) {
        console.log(`${s.label} at 1000/s: setup p50 ${fmt(at.p50, 2)} ms, p99 ${fmt(at.p99, 2)} ms (${at.timed} calls timed)`
          + `${s.name === 'switchboard' ? `; target p99 < 5 ms: ${at.p99 < 5 ? 'met' : 'NOT met'}` : ''}`);
      }
    }
    console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    capacityNotes(servers, summary);
  } finally {
    await stopAll();
    if (!opts.keep && !failed) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`work dir kept: ${work}`);
  }
  if (opts.smoke && failed) {
    console.log('smoke: a server carried none of the offered rates');
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
