// baresip (Debian `baresip-core`) as a real desk phone for the Node suites: its own temporary
// config folder, registered to `switchboard serve` over UDP or TCP, its microphone a sine tone
// (`ausine`), what it hears recorded by the `sndfile` module (`dump-*-dec.wav`), driven over the
// `ctrl_tcp` module (netstring JSON commands; events). Node built-ins only.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const dgram = require('node:dgram');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const BARESIP = process.env.BARESIP || 'baresip';
const MODULES = process.env.BARESIP_MODULES || '/usr/lib/baresip/modules';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A loopback port free for both TCP and UDP (baresip's sip_listen takes both). */
async function freeUdpTcpPort() {
  for (let i = 0; i < 50; i++) {
    const srv = net.createServer();
    await new Promise((res, rej) => srv.once('error', rej).listen(0, '127.0.0.1', res));
    const { port } = srv.address();
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise((res) => {
      udp.once('error', () => res(false));
      udp.bind(port, '127.0.0.1', () => res(true));
    });
    await new Promise((r) => srv.close(r));
    if (ok) {
      await new Promise((r) => udp.close(r));
      return port;
    }
    try { udp.close(); } catch { /* never bound */ }
  }
  throw new Error('no free UDP+TCP port on 127.0.0.1');
}

async function freeTcpPort() {
  const srv = net.createServer();
  await new Promise((res, rej) => srv.once('error', rej).listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

class Baresip {
  constructor() {
    this.output = '';
    this.events = [];
    this.replies = [];
    this.waiters = [];
    this.exited = null;
  }

  /**
   * Starts a phone for `sip:<extension>@<domain>` authenticating as `account`/`password`
   * through the server's SIP address `proxy` ("127.0.0.1:5060"), over `transport` ('udp' or
   * 'tcp'), its microphone playing a `toneHz` sine; waits until it has registered.
   */
  static async start({
    extension, domain = 'my-company.lo', account, password, proxy, transport = 'udp', toneHz = 440,
    codecs = 'PCMU/8000/1,PCMA/8000/1', answermode = 'manual',
  }) {
    if (!proxy) throw new Error('baresip: no SIP address of the server (server.sip)');
    const p = new Baresip();
    p.extension = extension;
    p.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-baresip-'));
    p.sipPort = await freeUdpTcpPort();
    p.ctrlPort = await freeTcpPort();
    const config = [
      'poll_method epoll',
      'net_interface 127.0.0.1',
      `sip_listen 127.0.0.1:${p.sipPort}`,
      'audio_player aubridge,none',
      'audio_alert aubridge,none',
      `audio_source ausine,${toneHz}`,
      'ausrc_srate 48000',
      'ausrc_channels 2',
      `module_path ${MODULES}`,
      'module g711.so',
      'module ausine.so',
      'module aubridge.so',
      'module sndfile.so',
      'module ctrl_tcp.so',
      'module_app account.so',
      'module_app menu.so',
      `ctrl_tcp_listen 127.0.0.1:${p.ctrlPort}`,
      `snd_path ${p.dir}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(p.dir, 'config'), config);
    fs.writeFileSync(
      path.join(p.dir, 'accounts'),
      `<sip:${extension}@${domain};transport=${transport}>;auth_user=${account};`
      + `auth_pass=${password};outbound="sip:${proxy};transport=${transport}";regint=120;`
      + `answermode=${answermode};audio_codecs=${codecs}\n`,
    );
    p.child = spawn(BARESIP, ['-f', p.dir, '-s'], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.child.on('error', (e) => { p.exited = `spawn failed: ${e.message}`; p.wake(); });
    p.child.on('exit', (code, sig) => { p.exited = `exit ${code} ${sig || ''}`; p.wake(); });
    for (const s of [p.child.stdout, p.child.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => {
        p.output += d;
        if (process.env.BARESIP_TRACE) process.stderr.write(`[baresip ${extension}] ${d}`);
        p.wake();
      });
    }
    try {
      await p.connectCtrl();
      // Registration may finish before ctrl_tcp has a client: watch the console instead.
      await p.waitOutput('200 OK () [1 binding]', 15000);
    } catch (e) {
      await p.stop();
      throw e;
    }
    return p;
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves on the next output, event, reply or exit (or after `ms`). */
  changed(ms) {
    return new Promise((r) => {
      const t = setTimeout(r, ms);
      this.waiters.push(() => { clearTimeout(t); r(); });
    });
  }

  async connectCtrl() {
    const end = Date.now() + 10000;
    for (;;) {
      try {
        this.ctrl = await new Promise((res, rej) => {
          const s = net.connect(this.ctrlPort, '127.0.0.1');
          s.once('connect', () => { s.removeAllListeners('error'); res(s); });
          s.once('error', rej);
        });
        break;
      } catch (e) {
        if (this.exited || Date.now() > end) throw new Error(`baresip ctrl_tcp: ${e.message} (${this.exited})\n${this.tail()}`);
        await sleep(50);
      }
    }
    this.ctrl.on('error', () => {});
    let buf = Buffer.alloc(0);
    this.ctrl.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const colon = buf.indexOf(0x3a);
        if (colon < 0) break;
        const len = Number(buf.subarray(0, colon).toString());
        if (!Number.isInteger(len) || buf.length < colon + 1 + len + 1) break;
        let msg = null;
        try { msg = JSON.parse(buf.subarray(colon + 1, colon + 1 + len).toString()); } catch { /* skip */ }
        buf = buf.subarray(colon + 1 + len + 1);
        if (msg && msg.event === true) this.events.push(msg);
        else if (msg) this.replies.push(msg);
      }
      this.wake();
    });
  }

  /**
   * Sends a ctrl_tcp command (`dial`, `accept`, `hangup`, `hold`, `resume`, `transfer`,
   * `sndcode`…) with `params`; resolves to baresip's reply (`{response, ok, data, token}`).
   */
  async command(command, params = '', ms = 10000) {
    const token = `${command}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const body = Buffer.from(JSON.stringify({ command, params, token }));
    this.ctrl.write(Buffer.concat([Buffer.from(`${body.length}:`), body, Buffer.from(',')]));
    const end = Date.now() + ms;
    for (;;) {
      const i = this.replies.findIndex((r) => r.token === token);
      if (i >= 0) return this.replies.splice(i, 1)[0];
      if (this.exited || Date.now() > end) throw new Error(`baresip: no reply to ${command} (${this.exited || 'timeout'})\n${this.tail()}`);
      await this.changed(end - Date.now());
    }
  }

  /** Where the console output ends now: pass it to `waitOutput` to look only at what follows. */
  mark() {
    return this.output.length;
  }

  /** Waits until baresip prints `text` (a string or RegExp) after offset `from`. */
  async waitOutput(text, ms = 10000, from = 0) {
    const end = Date.now() + ms;
    for (;;) {
      const rest = this.output.slice(from);
      if (typeof text === 'string' ? rest.includes(text) : text.test(rest)) return true;
      if (this.exited || Date.now() > end) {
        throw new Error(`baresip ${this.extension}: no "${text}" within ${ms} ms (${this.exited || 'running'})\n${this.tail()}`);
      }
      await this.changed(Math.max(1, end - Date.now()));
    }
  }

  /** Waits for a ctrl_tcp event of `type` (`CALL_INCOMING`, `CALL_ESTABLISHED`, `CALL_CLOSED`…). */
  async waitEvent(type, ms = 10000) {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.events.findIndex((e) => e.type === type);
      if (i >= 0) return this.events.splice(i, 1)[0];
      if (this.exited || Date.now() > end) throw new Error(`baresip ${this.extension}: no ${type} event\n${this.tail()}`);
      await this.changed(Math.max(1, end - Date.now()));
    }
  }

  /** The end of the console output, for failure messages. */
  tail(n = 4000) {
    return this.output.slice(-n);
  }

  /** The `*-dec.wav` recordings (what the phone heard), newest last. */
  recordings() {
    return fs.readdirSync(this.dir)
      .filter((f) => f.endsWith('-dec.wav'))
      .map((f) => path.join(this.dir, f))
      .sort((a, b) => fs.statSync(a).mtimeMs - fs.statSync(b).mtimeMs);
  }

  /** SoX's analysis of the newest recording of what the phone heard (see `analyse`). */
  heard() {
    const recs = this.recordings();
    if (!recs.length) throw new Error(`baresip ${this.extension}: no *-dec.wav recording\n${this.tail()}`);
    return analyse(recs[recs.length - 1]);
  }

  /** Ends the phone (SIGTERM lets it unregister; SIGKILL after 3 s) and, unless `keep`, its folder. */
  async stop({ keep = false } = {}) {
    if (this.ctrl) this.ctrl.destroy();
    if (this.child && !this.exited) {
      this.child.kill('SIGTERM');
      const end = Date.now() + 3000;
      while (!this.exited && Date.now() < end) await this.changed(end - Date.now());
      if (!this.exited) {
        this.child.kill('SIGKILL');
        while (!this.exited) await this.changed(1000);
      }
    }
    if (!keep && this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * `sox <wav> -n stat` of a recording: `rmsDb` (dBFS of the RMS amplitude; silence is below
 * about -60), `maxAmp` (peak, 0..1), `freq` (SoX's rough frequency, Hz), `seconds`, and
 * `loudFraction`: the share of 20 ms windows whose RMS is above -50 dBFS (a continuous tone
 * gives ~1, beeps a part of it, silence 0).
 */
function analyse(wav) {
  const run = spawnSync('sox', [wav, '-n', 'stat'], { encoding: 'utf8' });
  if (run.error) throw new Error(`sox: ${run.error.message} (apt-get install sox)`);
  const text = run.stderr;
  const field = (name) => {
    const line = text.split('\n').find((l) => l.startsWith(name));
    const v = line ? Number(line.split(':').pop().trim()) : NaN;
    if (Number.isNaN(v)) throw new Error(`sox stat lacks ${name} for ${wav}:\n${text}`);
    return v;
  };
  const rms = field('RMS     amplitude');
  return {
    file: wav,
    rmsDb: rms > 0 ? 20 * Math.log10(rms) : -200,
    maxAmp: field('Maximum amplitude'),
    freq: field('Rough   frequency'),
    seconds: field('Length (seconds)'),
    loudFraction: loudFraction(wav),
  };
}

/** Share of 20 ms windows (first channel, 16-bit PCM WAV) louder than -50 dBFS RMS. */
function loudFraction(wav) {
  const buf = fs.readFileSync(wav);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return NaN;
  let off = 12;
  let fmt = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    let size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      fmt = { channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data' && fmt && fmt.bits === 16) {
      // A recording cut short may carry a data size larger than the file.
      size = Math.min(size, buf.length - body);
      const frame = 2 * fmt.channels;
      const win = Math.max(1, Math.round(fmt.rate / 50));
      const frames = Math.floor(size / frame);
      let loud = 0;
      let total = 0;
      for (let w = 0; w + win <= frames; w += win) {
        let sum = 0;
        for (let i = w; i < w + win; i++) {
          const s = buf.readInt16LE(body + i * frame) / 32768;
          sum += s * s;
        }
        total++;
        if (20 * Math.log10(Math.sqrt(sum / win) || 1e-10) > -50) loud++;
      }
      return total ? loud / total : 0;
    }
    off = body + size + (size & 1);
  }
  return NaN;
}

module.exports = { Baresip, analyse, freeUdpTcpPort };
