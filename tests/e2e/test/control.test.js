// In-call control with the unchanged webitel-sdk: A calls B, B answers; A holds (B hears the
// hold tone) and unholds; A sends "1234#" and B's SDK call collects the digits; B blind-transfers
// A to C; C answers and A–C audio flows; A hangs up; history links the legs.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const { registered, state, bytes, newCall, waitState, audioFlows } = h;
const actions = (p, id) => p.evaluate((i) => window.phone.actions(i), id);

/**
 * Shape of the remote audio over a window: the longest run of loud ~21 ms blocks (the hold tone
 * is 0.5 s on, 1.5 s off; the fake microphone beeps briefly) and the share of loud blocks.
 */
async function shape(p, from) {
  const lv = await p.evaluate((f) => window.phone.levels(f), from);
  const loud = lv.map((l) => l.rms > 0.01);
  let run = 0;
  let best = 0;
  for (const x of loud) {
    run = x ? run + 1 : 0;
    best = Math.max(best, run);
  }
  const share = loud.filter(Boolean).length / Math.max(1, loud.length);
  const peak = Math.max(0, ...lv.map((l) => l.rms));
  return { blocks: lv.length, longestMs: Math.round(best * 1024 / 48), share: +share.toFixed(2), peak: +peak.toFixed(3) };
}

test('hold, DTMF, blind transfer through webitel-sdk', async (t) => {
  const { server, pages, browser } = await h.setup(t);

  const [a, b, c] = [await h.provisionUser(server), await h.provisionUser(server), await h.provisionUser(server)];
  const pa = await h.openPhone(browser, pages, server, a);
  const pb = await h.openPhone(browser, pages, server, b);
  const pc = await h.openPhone(browser, pages, server, c);
  for (const p of [pa, pb, pc]) await registered(p);

  // A calls B, B answers, audio both ways.
  const t0 = Date.now();
  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB = await newCall(pb, [], 'B rings');
  const outA = await newCall(pa, [], 'A sees its call');
  await pb.evaluate((id) => window.phone.answer(id), inB);
  await waitState(pa, outA, ['active', 'bridge'], 'A active');
  await waitState(pb, inB, ['active', 'bridge'], 'B active');
  const talkStart = Date.now();
  await audioFlows(pa, outA, 'audio B→A');
  await audioFlows(pb, inB, 'audio A→B');

  // Hold: B's inbound audio becomes the hold tone; A's SDK sees hold then active.
  await h.sleep(2500);
  const talk = await shape(pb, Date.now() - 2000);
  await pa.evaluate((id) => window.phone.hold(id), outA);
  await waitState(pa, outA, ['hold'], 'A on hold');
  const holdFrom = Date.now();
  await h.sleep(2500);
  const held = await shape(pb, holdFrom);
  console.log('B remote audio: talking', talk, 'held', held);
  assert.ok(held.longestMs >= 300, `hold tone: a loud run of >= 300 ms (${JSON.stringify(held)})`);
  assert.ok(talk.longestMs < 300, `talking: no long loud run (${JSON.stringify(talk)})`);
  await pa.evaluate((id) => window.phone.unHold(id), outA);
  await waitState(pa, outA, ['active'], 'A active again');
  const seq = await actions(pa, outA);
  assert.ok(seq.lastIndexOf('active') > seq.indexOf('hold') && seq.includes('hold'), `A's events ${seq}`);
  await audioFlows(pb, inB, 'audio A→B after unhold');

  // DTMF: one digit per sendDTMF (the server takes the first character, as the engine does).
  for (const d of '1234') await pa.evaluate(([id, x]) => window.phone.sendDTMF(id, x), [outA, d]);
  // The last digit over REST, with A's own token: the same call control.
  await server.rest('PATCH', `/calls/active/${outA}/dtmf`, { digit: '#' }, a.token);
  await h.until('B collects 1234#', async () => (await pb.evaluate((id) => window.phone.digits(id), inB)) === '1234#');

  // Blind transfer: B hands A to C.
  const talkStop = Date.now();
  await pb.evaluate(([id, ext]) => window.phone.blindTransfer(id, ext), [inB, c.extension]);
  await waitState(pb, inB, ['hangup'], 'B leaves the call');
  const inC = await newCall(pc, [], 'C rings');
  await pc.evaluate((id) => window.phone.answer(id), inC);
  await waitState(pc, inC, ['active', 'bridge'], 'C active');
  await audioFlows(pc, inC, 'audio A→C');
  await audioFlows(pa, outA, 'audio C→A');

  const hangupAt = Date.now();
  await pa.evaluate((id) => window.phone.hangup(id), outA);
  await waitState(pc, inC, ['hangup'], 'C sees the hangup');
  await waitState(pa, outA, ['hangup'], 'A call ended');

  // History: three legs, B's ended by the transfer and linked to C's, C's linked back.
  const hist = await h.until('history rows', async () => {
    const r = await server.rest('GET', `/calls/history?size=50&created_at.from=${t0 - 1000}&created_at.to=${Date.now() + 1000}`);
    const items = (r && r.items) || [];
    return items.length >= 3 && items.every((i) => i.hangup_at) && items;
  }, 10000);
  const leg = (id) => hist.find((i) => i.id === id);
  assert.ok(leg(outA) && leg(inB) && leg(inC), 'all three legs in history');
  assert.equal(leg(inB).cause, 'BLIND_TRANSFER');
  assert.equal(leg(inB).transfer_to, inC);
  assert.equal(leg(inC).transfer_from, inB);
  assert.ok(Number(leg(outA).hold_sec) >= 2, `A hold_sec ${leg(outA).hold_sec}`);
  t.diagnostic(`talk A-B ${(talkStop - talkStart) / 1000} s`);

  // The recording: one file for the call (A-B, then A-C), in history, streamable with Range.
  const withFile = await h.until('recording finished', async () => {
    const r = await server.rest('GET', `/calls/history?size=50&created_at.from=${t0 - 1000}&created_at.to=${Date.now() + 1000}`);
    const l = r.items.find((i) => i.id === outA);
    return l && l.files && l.files[0] && Number(l.files[0].size) > 0 && l;
  }, 10000);
  const file = withFile.files[0];
  assert.equal(file.mime_type, 'audio/ogg');
  const url = `${server.base}/api/storage/file/${file.id}/stream?access_token=${a.token}`;
  const whole = Buffer.from(await (await fetch(url)).arrayBuffer());
  assert.equal(whole.length, Number(file.size));
  const part = await fetch(url, { headers: { Range: 'bytes=10-99' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-99/${whole.length}`);
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(whole.subarray(10, 100)));
  const other = await fetch(`${server.base}/api/storage/file/${file.id}/download?access_token=nope`);
  assert.equal(other.status, 401);
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const { execFileSync } = require('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-rec-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ogg = path.join(dir, 'rec.ogg');
  fs.writeFileSync(ogg, whole);
  const dur = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', ogg]).toString().trim());
  const expected = (hangupAt - talkStart) / 1000;
  console.log(`recording ${dur} s, call answered→hangup ${expected} s, ${whole.length} bytes`);
  assert.ok(Math.abs(dur - expected) <= 1, `recording duration ${dur} vs ${expected}`);
  execFileSync('ffmpeg', ['-v', 'error', '-i', ogg, path.join(dir, 'rec.wav')]);
  const stats = execFileSync('sox', [path.join(dir, 'rec.wav'), '-n', 'stats'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = stats.toString() || '';
  const text = out || execFileSync('sh', ['-c', `sox '${path.join(dir, 'rec.wav')}' -n stats 2>&1`]).toString();
  const rms = text.split('\n').find((l) => l.startsWith('RMS lev dB'));
  console.log(rms);
  const levels = rms.trim().split(/\s+/).slice(3).map(Number);
  assert.ok(levels.length === 3 && levels.every((x) => x > -60), `both channels audible: ${rms}`);

  // Click-to-call over REST: A's own phone rings with autoAnswer and picks up, then C rings.
  const seenA = await pa.evaluate(() => window.phone.callIds());
  const seenC = await pc.evaluate(() => window.phone.callIds());
  const { id } = await server.rest('POST', '/calls', { destination: c.extension }, a.token);
  const ownA = await newCall(pa, seenA, 'A\'s phone rings for click-to-call');
  assert.equal(ownA, id);
  await waitState(pa, ownA, ['active', 'bridge'], 'A auto-answers');
  const toC = await newCall(pc, seenC, 'C rings after A answered');
  await pc.evaluate((x) => window.phone.answer(x), toC);
  await waitState(pc, toC, ['active', 'bridge'], 'C active (click-to-call)');
  await h.until('A bridged to C', async () => (await actions(pa, ownA)).includes('bridge'));
  await audioFlows(pc, toC, 'audio A→C (click-to-call)');
  const active = await server.rest('GET', '/calls/active', undefined, a.token);
  assert.ok(active.items.some((x) => x.id === ownA), 'A\'s leg is listed as active');
  await server.rest('DELETE', `/calls/active/${ownA}`, {}, a.token);
  await waitState(pc, toC, ['hangup'], 'C sees the REST hangup');
});
