// A browser (the unchanged webitel-sdk in headless Chromium, Opus/WebRTC) and a desk phone
// (real baresip over SIP/UDP or TCP with plain RTP/G.711) calling each other through the
// server, which anchors the media. Audio is measured at both ends: the phone's `sndfile`
// recording of what it heard (Chromium's fake microphone beeps) and the page's inbound RTP
// stats and Web Audio levels of what the browser heard (the phone's sine).
// Debugging: BARESIP_TRACE=1 echoes the phones' consoles (SIP trace included), E2E_LEVELS=1
// prints the browser's level timeline, KEEP_BARESIP=1 keeps the phones' folders (recordings).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');
const { Baresip } = require('../../lib/baresip');

const { newCall, waitState } = h;

/** A browser user with a registered phone page, and a desk-phone user with a registered baresip. */
async function browserAndDesk(t, { transport, toneHz }) {
  const { server, pages, browser } = await h.setup(t);
  assert.ok(server.sip, 'the server printed its SIP address');
  const web = await h.provisionUser(server);
  const desk = await h.provisionUser(server);
  const phone = await Baresip.start({
    extension: desk.extension,
    domain: server.domain,
    account: desk.account,
    password: desk.password,
    proxy: server.sip,
    transport,
    toneHz,
  });
  t.after(() => phone.stop({ keep: Boolean(process.env.KEEP_BARESIP) }));
  const page = await h.openPhone(browser, pages, server, web);
  await h.registered(page);
  return { server, web, desk, phone, page };
}

/** Inbound RTP of the page's call `id`: `{bytes, packets, energy, level, codec}`. */
const rtp = (page, id) => page.evaluate((i) => window.phone.inboundStats(i), id);

/**
 * What the browser heard since `from` (ms): when the first loud (> -40 dBFS) ~21 ms block came
 * (`firstLoudMs` after `from`), then, from that block on, the share of loud blocks, their median
 * RMS (dBFS) and median zero-crossing frequency.
 */
async function browserHeard(page, from) {
  const all = await page.evaluate((f) => window.phone.levels(f), from);
  const first = all.findIndex((l) => l.rms > 0.01);
  const lv = first < 0 ? [] : all.slice(first);
  const loud = lv.filter((l) => l.rms > 0.01);
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? s[Math.floor(s.length / 2)] : NaN;
  };
  const db = (x) => (x > 0 ? 20 * Math.log10(x) : -200);
  return {
    firstLoudMs: first < 0 ? null : all[first].at - from,
    blocks: lv.length,
    loudFraction: lv.length ? loud.length / lv.length : 0,
    medianDb: Math.round(db(median(lv.map((l) => l.rms))) * 10) / 10,
    medianHz: Math.round(median(loud.map((l) => l.hz))),
  };
}

/**
 * Measures the browser's end of a call answered at `answeredAt` until `ms` later: inbound
 * bytes and packets must grow, `totalAudioEnergy` too, and the Web Audio levels must show the
 * phone's tone, continuous once it has started (within 3 s of the answer: the browser's
 * ICE and DTLS take ~1.5 s on loopback when the server is the offerer).
 */
async function assertBrowserHearsTone(page, id, toneHz, answeredAt, ms) {
  const s0 = await rtp(page, id);
  const t0 = Date.now();
  await h.sleep(Math.max(0, answeredAt + ms - t0));
  const s1 = await rtp(page, id);
  const span = Date.now() - t0;
  const heard = await browserHeard(page, answeredAt);
  if (process.env.E2E_LEVELS) {
    const lv = await page.evaluate((f) => window.phone.levels(f), answeredAt);
    console.log(lv.map((l) => `${l.at - answeredAt}:${l.rms.toFixed(3)}:${Math.round(l.hz)}`).join(' '));
  }
  const got = {
    codec: s1.codec,
    packetsPerSecond: Math.round(((s1.packets - s0.packets) * 1000) / span),
    bytes: s1.bytes - s0.bytes,
    energy: Math.round((s1.energy - s0.energy) * 1000) / 1000,
    audioLevel: Math.round(s1.level * 1000) / 1000,
    ...heard,
  };
  console.log(`browser heard the phone: ${JSON.stringify(got)}`);
  const show = JSON.stringify(got);
  // 20 ms packets: ~50 per second.
  assert.ok(got.packetsPerSecond > 40, `inbound packets grew: ${show}`);
  assert.ok(got.bytes > 1000, `inbound bytes grew: ${show}`);
  assert.ok(got.energy > 0 && got.audioLevel > 0.05, `inbound audio energy and level: ${show}`);
  assert.ok(got.firstLoudMs !== null && got.firstLoudMs < 3000, `the phone's tone within 3 s: ${show}`);
  // A continuous sine: nearly every block loud, well above silence, at the phone's frequency.
  assert.ok(got.loudFraction > 0.95, `the phone's tone is continuous: ${show}`);
  assert.ok(got.medianDb > -30, `the phone's tone is loud: ${show}`);
  assert.ok(Math.abs(got.medianHz - toneHz) < toneHz * 0.06, `the phone's ${toneHz} Hz: ${show}`);
  return got;
}

/** The phone's recording of the browser's fake microphone: beeps, not silence, long enough. */
function assertPhoneHeardBrowser(phone, minSeconds) {
  const heard = phone.heard();
  console.log(`phone heard the browser: ${JSON.stringify({ ...heard, file: undefined })}`);
  assert.ok(heard.seconds >= minSeconds, `the phone recorded ${heard.seconds} s`);
  assert.ok(heard.rmsDb > -50, `not silence: ${JSON.stringify(heard)}`);
  assert.ok(heard.maxAmp > 0.05, `the beeps reach the phone: ${JSON.stringify(heard)}`);
  assert.ok(heard.loudFraction > 0.02, `some of the recording is loud: ${JSON.stringify(heard)}`);
  return heard;
}

test('a browser calls a desk phone (UDP); the phone answers; audio both ways; the browser hangs up', async (t) => {
  const tone = 660;
  const { server, desk, phone, page } = await browserAndDesk(t, { transport: 'udp', toneHz: tone });

  const ring = phone.mark();
  await page.evaluate((ext) => window.phone.call(ext), desk.extension);
  const out = await newCall(page, [], 'the browser sees its call');
  await phone.waitOutput('Incoming call from', 10000, ring);
  const answeredAt = Date.now();
  const accepted = await phone.command('accept');
  assert.ok(accepted.ok !== false, `accept: ${JSON.stringify(accepted)}`);
  await phone.waitOutput('Call established', 10000, ring);
  await waitState(page, out, ['active', 'bridge'], 'the browser call is active');

  const got = await assertBrowserHearsTone(page, out, tone, answeredAt, 4500);

  const hung = phone.mark();
  await page.evaluate((id) => window.phone.hangup(id), out);
  await waitState(page, out, ['hangup'], 'the browser call ended');
  // The BYE reaches the phone: baresip closes the call (console and ctrl_tcp event).
  await phone.waitOutput(/terminated \(duration/, 10000, hung);
  const closed = await phone.waitEvent('CALL_CLOSED', 5000);
  // baresip 1.0 reports a BYE it received as ECONNRESET ("Connection reset by peer").
  assert.equal(closed.param, 'Connection reset by peer', `the phone got a BYE: ${JSON.stringify(closed)}`);
  assert.match(phone.output.slice(hung), /^BYE sip:\S+ SIP\/2\.0/m, 'the SIP trace shows the BYE');
  const heard = assertPhoneHeardBrowser(phone, 3);
  t.diagnostic(`browser←phone ${got.codec} ${got.medianDb} dB ${got.medianHz} Hz; phone←browser ${heard.rmsDb.toFixed(1)} dB peak ${heard.maxAmp}`);

  await h.until('no calls left', async () => (await server.sipStatus()).calls === 0, 5000);
});

test('a desk phone (TCP) calls a browser; the browser answers; audio both ways; the phone hangs up; DTMF from the phone', async (t) => {
  const tone = 440;
  const { server, web, phone, page } = await browserAndDesk(t, { transport: 'tcp', toneHz: tone });

  const dialed = await phone.command('dial', `sip:${web.extension}@${server.domain}`);
  assert.ok(dialed.ok !== false, `dial: ${JSON.stringify(dialed)}`);
  const inb = await newCall(page, [], 'the browser rings');
  const rx = await page.evaluate(() => window.phone.log.filter((e) => e.kind === 'call_receive'));
  assert.equal(rx.length, 1, 'call_receive in the browser');
  assert.equal((await h.state(page, inb)).direction, 'inbound');
  const est = phone.mark();
  const answeredAt = Date.now();
  await page.evaluate((id) => window.phone.answer(id), inb);
  await waitState(page, inb, ['active', 'bridge'], 'the browser call is active');
  await phone.waitOutput('Call established', 10000, est);

  const got = await assertBrowserHearsTone(page, inb, tone, answeredAt, 4500);

  // DTMF: baresip's menu command `sndcode` sends RFC 4733 telephone-events for each character;
  // the server turns them into the SDK's `dtmf` call events.
  const digits = '159#';
  for (const d of digits) {
    const r = await phone.command('sndcode', d);
    assert.ok(r.ok !== false, `sndcode ${d}: ${JSON.stringify(r)}`);
    await h.sleep(400);
  }
  await h.until(`the browser collects ${digits}`, async () => (await page.evaluate((id) => window.phone.digits(id), inb)) === digits, 5000);
  const dtmf = await page.evaluate(() => window.phone.log.filter((e) => e.kind === 'dtmf').length);
  assert.equal(dtmf, digits.length, 'one dtmf event per digit');

  const hung = phone.mark();
  await phone.command('hangup');
  await phone.waitOutput(/terminated \(duration/, 10000, hung);
  const end = await waitState(page, inb, ['hangup'], 'the browser sees the hangup');
  const acts = await page.evaluate((id) => window.phone.actions(id), inb);
  assert.ok(acts.includes('hangup'), `hangup event in the browser: ${acts}`);
  const heard = assertPhoneHeardBrowser(phone, 3);
  t.diagnostic(`browser←phone ${got.codec} ${got.medianDb} dB ${got.medianHz} Hz; phone←browser ${heard.rmsDb.toFixed(1)} dB peak ${heard.maxAmp}; cause ${end.cause}`);

  await h.until('no calls left', async () => (await server.sipStatus()).calls === 0, 5000);
});

test('a browser offering only Opus and a G.711 desk phone: the server transcodes, both directions', async (t) => {
  const tone = 550;
  const { server, web, desk, phone, page } = await browserAndDesk(t, { transport: 'udp', toneHz: tone });
  await page.evaluate(() => window.phone.opusOnly(true));
  const seen = [];

  // Browser → phone.
  const ring = phone.mark();
  await page.evaluate((ext) => window.phone.call(ext), desk.extension);
  const out = await newCall(page, seen, 'the browser sees its call');
  seen.push(out);
  await phone.waitOutput('Incoming call from', 10000, ring);
  const answeredAt = Date.now();
  await phone.command('accept');
  await phone.waitOutput('Call established', 10000, ring);
  await waitState(page, out, ['active', 'bridge'], 'the browser call is active');
  const sdp = await page.evaluate((id) => window.phone.sdp(id), out);
  assert.doesNotMatch(sdp.local, /PCMU|PCMA/, 'the browser offered no G.711');
  assert.match(phone.output.slice(ring), /Set audio decoder: PCM[UA] 8000Hz/, 'the phone talks G.711');
  const got1 = await assertBrowserHearsTone(page, out, tone, answeredAt, 4500);
  assert.match(got1.codec, /opus/i, 'the browser receives Opus');
  const hung = phone.mark();
  await page.evaluate((id) => window.phone.hangup(id), out);
  await waitState(page, out, ['hangup'], 'the browser call ended');
  await phone.waitOutput(/terminated \(duration/, 10000, hung);
  const heard1 = assertPhoneHeardBrowser(phone, 3);

  // Phone → browser.
  await h.sleep(1100); // the next recording gets a file name of its own (second resolution)
  await phone.command('dial', `sip:${web.extension}@${server.domain}`);
  const inb = await newCall(page, seen, 'the browser rings');
  const est = phone.mark();
  const answeredAt2 = Date.now();
  await page.evaluate((id) => window.phone.answer(id), inb);
  await waitState(page, inb, ['active', 'bridge'], 'the browser call is active');
  await phone.waitOutput('Call established', 10000, est);
  const sdp2 = await page.evaluate((id) => window.phone.sdp(id), inb);
  assert.doesNotMatch(sdp2.local, /PCMU|PCMA/, 'the browser answered without G.711');
  const got2 = await assertBrowserHearsTone(page, inb, tone, answeredAt2, 4500);
  assert.match(got2.codec, /opus/i, 'the browser receives Opus');
  // Digits from the G.711 side of a transcoded bridge still reach the SDK.
  for (const d of '*0') {
    await phone.command('sndcode', d);
    await h.sleep(400);
  }
  await h.until('the browser collects *0', async () => (await page.evaluate((id) => window.phone.digits(id), inb)) === '*0', 5000);
  const hung2 = phone.mark();
  await phone.command('hangup');
  await phone.waitOutput(/terminated \(duration/, 10000, hung2);
  await waitState(page, inb, ['hangup'], 'the browser sees the hangup');
  assert.equal(phone.recordings().length, 2, 'one recording per call');
  const heard2 = assertPhoneHeardBrowser(phone, 3);
  t.diagnostic(`transcoded: browser←phone ${got1.medianDb}/${got2.medianDb} dB ${got1.medianHz}/${got2.medianHz} Hz; phone←browser ${heard1.rmsDb.toFixed(1)}/${heard2.rmsDb.toFixed(1)} dB`);

  await h.until('no calls left', async () => (await server.sipStatus()).calls === 0, 5000);
});

test("a user's browser and desk phone ring together; the desk phone answers with G.711, the browser stops ringing", async (t) => {
  const { server, pages, browser } = await h.setup(t);
  const both = await h.provisionUser(server);
  const caller = await h.provisionUser(server);
  // The user's desk phone registers with the same device as their browser.
  const desk = await Baresip.start({
    extension: both.extension, domain: server.domain, account: both.account,
    password: both.password, proxy: server.sip, transport: 'udp', toneHz: 660,
  });
  t.after(() => desk.stop({ keep: Boolean(process.env.KEEP_BARESIP) }));
  const from = await Baresip.start({
    extension: caller.extension, domain: server.domain, account: caller.account,
    password: caller.password, proxy: server.sip, transport: 'udp', toneHz: 440,
  });
  t.after(() => from.stop({ keep: Boolean(process.env.KEEP_BARESIP) }));
  const page = await h.openPhone(browser, pages, server, both);
  await h.registered(page);

  const ring = desk.mark();
  await from.command('dial', `sip:${both.extension}@${server.domain}`);
  // One leg, two forks: the browser gets a WebRTC offer, the desk phone a plain RTP one.
  const inb = await newCall(page, [], 'the browser rings');
  await desk.waitOutput('Incoming call from', 10000, ring);
  assert.match(desk.output.slice(ring), /m=audio \d+ RTP\/AVP /, 'the desk phone got an RTP/AVP offer');
  const est = from.mark();
  await desk.command('accept');
  await from.waitOutput('Call established', 10000, est);
  // The browser's INVITE is CANCELed: its JsSIP session ends and the SDK call stops ringing
  // (it is the same leg, answered on the desk phone), as with two tabs.
  await h.until('the browser JsSIP session ended', async () => {
    const ss = await page.evaluate((i) => window.phone.sipSession(i), inb);
    return ss && ss.ended;
  }, 5000);
  await h.until('the browser call is not ringing', async () => {
    const st = await h.state(page, inb);
    return st && st.state !== 'ringing';
  }, 5000);
  await h.sleep(4000);
  const hung = desk.mark();
  await from.command('hangup');
  await desk.waitOutput(/terminated \(duration/, 10000, hung);
  await waitState(page, inb, ['hangup'], 'the browser sees the hangup');
  // The two phones heard each other through the server.
  const deskHeard = desk.heard();
  const callerHeard = from.heard();
  t.diagnostic(`desk heard ${JSON.stringify({ ...deskHeard, file: undefined })}; caller heard ${JSON.stringify({ ...callerHeard, file: undefined })}`);
  assert.ok(Math.abs(deskHeard.freq - 440) < 30, `the desk phone hears the caller: ${JSON.stringify(deskHeard)}`);
  assert.ok(Math.abs(callerHeard.freq - 660) < 30, `the caller hears the desk phone: ${JSON.stringify(callerHeard)}`);
  await h.until('no calls left', async () => (await server.sipStatus()).calls === 0, 5000);
});
