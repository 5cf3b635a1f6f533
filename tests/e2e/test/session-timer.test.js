// RFC 4028 session timers with the unchanged webitel-sdk: a call that outlives the refresh
// interval. webitel-sdk asks for Session-Expires 120 on both sides of the B2BUA, and each
// browser is its dialog's refresher, so both refresh after 60 s. Each refresh must get a 2xx,
// and the call must go on, audio flowing, past both.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const { state, waitState, bytes } = h;

/** The refresh requests a page sent and the status each got back. */
const refreshes = (p) => p.evaluate(() => window.phone.log
  .filter((e) => e.kind === 'sip_request' || e.kind === 'sip_response')
  .map((e) => ({ kind: e.kind, method: e.method, status: e.status || 0 })));

test('session refreshes from both browsers are answered and the call goes on', { timeout: 120000 }, async (t) => {
  const env = await h.setup(t);
  const { server } = env;
  const { b, pa, pb } = await h.twoPhones(env);
  const { outA, inB } = await h.answeredCall(pa, pb, b.extension);
  assert.ok(await pa.evaluate((id) => window.phone.watchRefreshes(id), outA));
  assert.ok(await pb.evaluate((id) => window.phone.watchRefreshes(id), inB));

  const ta = await pa.evaluate((id) => window.phone.sessionTimer(id), outA);
  const tb = await pb.evaluate((id) => window.phone.sessionTimer(id), inB);
  console.log('session timers: A', ta, 'B', tb);
  assert.deepEqual(ta, { running: true, refresher: true, expires: 120 }, 'A refreshes every 60 s');
  assert.deepEqual(tb, { running: true, refresher: true, expires: 120 }, 'B refreshes every 60 s');

  // Both refreshes, 60 s after the answer, are answered with a 2xx.
  const answered = async (p) => {
    const r = await refreshes(p);
    return r.some((e) => e.kind === 'sip_response' && e.status >= 200 && e.status < 300) && r;
  };
  const rb = await h.until('B refreshes the session', () => answered(pb), 70000, 500);
  const ra = await h.until('A refreshes the session', () => answered(pa), 10000, 500);
  console.log('refreshes: A', ra, 'B', rb);
  for (const r of [...ra, ...rb]) {
    if (r.kind === 'sip_response') assert.ok(r.status >= 200 && r.status < 300, `refresh got ${r.status}`);
  }

  // Still one live call, audio both ways.
  for (const [p, id] of [[pa, outA], [pb, inB]]) {
    const s = await state(p, id);
    assert.ok(['active', 'bridge'].includes(s.state), `call state ${s.state}`);
  }
  const [a0, b0] = [await bytes(pa, outA), await bytes(pb, inB)];
  await h.until('audio both ways after the refreshes', async () => {
    const [a1, b1] = [await bytes(pa, outA), await bytes(pb, inB)];
    return a1 > a0 + 1000 && b1 > b0 + 1000;
  });
  assert.equal((await server.sipStatus()).calls, 1);

  await pa.evaluate((id) => window.phone.hangup(id), outA);
  await waitState(pb, inB, ['hangup'], 'B sees the hangup');
});
