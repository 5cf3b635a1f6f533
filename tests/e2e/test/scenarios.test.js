// Call scenarios beyond the happy path, each with the unchanged webitel-sdk in Chromium pages:
// an unknown extension (404), no answer (480 after SWITCHBOARD_NO_ANSWER_TIMEOUT), two tabs of
// the callee (the one that does not answer stops ringing), and a page reload mid-call
// (`subscribe_call` rebuilds the live call, which then receives the hangup), and a tab closed
// mid-call (the server keeps the leg for the 30 s reload grace, then hangs it up).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const { registered, state, bytes, newCall, waitState, audioFlows } = h;
const logOf = (p, kind) => p.evaluate((k) => window.phone.log.filter((e) => e.kind === k), kind);

/** History rows of the legs in `ids`, once every one of them has its hangup time. */
async function history(server, since, ids) {
  return h.until('history rows', async () => {
    const r = await server.rest('GET', `/calls/history?size=50&created_at.from=${since - 1000}&created_at.to=${Date.now() + 1000}`);
    const rows = ids.map((id) => ((r && r.items) || []).find((i) => i.id === id));
    return rows.every((x) => x && x.hangup_at) && rows;
  }, 10000);
}

test('unknown extension: 404, UNALLOCATED_NUMBER, in history', async (t) => {
  const { server, pages, browser } = await h.setup(t);
  const a = await h.provisionUser(server);
  const pa = await h.openPhone(browser, pages, server, a);
  await registered(pa);

  const t0 = Date.now();
  await pa.evaluate(() => window.phone.call('9999'));
  const failed = await h.until('JsSIP session failed', async () => (await logOf(pa, 'sip_failed'))[0]);
  console.log(`unknown extension: JsSIP failed after ${Date.now() - t0} ms`, failed);
  assert.equal(failed.status, 404);
  assert.equal(failed.cause, 'Not Found');
  const outA = await newCall(pa, [], 'A sees its call');
  const end = await waitState(pa, outA, ['hangup'], 'A call ends');
  assert.equal(end.cause, 'UNALLOCATED_NUMBER');

  const [row] = await history(server, t0, [outA]);
  assert.equal(row.cause, 'UNALLOCATED_NUMBER');
  assert.equal(Number(row.sip_code), 404);
  assert.equal(row.destination, '9999');
  assert.equal(row.direction, 'outbound');
  assert.ok(!row.answered_at, 'never answered');
  assert.equal((await server.sipStatus()).calls, 0);
});

test('no answer: 480 NO_ANSWER after SWITCHBOARD_NO_ANSWER_TIMEOUT=3', async (t) => {
  const { server, pages, browser } = await h.setup(t, { SWITCHBOARD_NO_ANSWER_TIMEOUT: '3' });
  const { b, pa, pb } = await h.twoPhones({ server, pages, browser });

  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB = await newCall(pb, [], 'B rings');
  const ringAt = Date.now();
  const outA = await newCall(pa, [], 'A sees its call');
  assert.equal((await state(pb, inB)).state, 'ringing');

  const endA = await waitState(pa, outA, ['hangup'], 'A call ends unanswered', 10000);
  const after = Date.now() - ringAt;
  console.log(`no answer: A's call ended ${after} ms after B started ringing`);
  assert.ok(after >= 2500 && after <= 6000, `ended after ${after} ms, want ~3 s`);
  assert.equal(endA.cause, 'NO_ANSWER');
  const failed = await h.until('JsSIP session failed', async () => (await logOf(pa, 'sip_failed'))[0]);
  assert.equal(failed.status, 480);
  const endB = await waitState(pb, inB, ['hangup'], 'B stops ringing', 3000);
  assert.equal(endB.cause, 'NO_ANSWER');
  await h.until('B\'s JsSIP session ended', async () => {
    const s = await pb.evaluate((i) => window.phone.sipSession(i), inB);
    return s && s.ended;
  }, 3000);

  const [rowA, rowB] = await history(server, ringAt, [outA, inB]);
  assert.equal(rowA.cause, 'NO_ANSWER');
  assert.equal(Number(rowA.sip_code), 480);
  assert.equal(rowB.cause, 'NO_ANSWER');
  assert.equal((await server.sipStatus()).calls, 0);
});

test('two tabs of B: both ring, one answers, the other stops ringing; audio to the answerer', async (t) => {
  const { server, pages, browser } = await h.setup(t);
  const a = await h.provisionUser(server);
  const b = await h.provisionUser(server);
  const pa = await h.openPhone(browser, pages, server, a);
  const pb1 = await h.openPhone(browser, pages, server, b);
  const pb2 = await h.openPhone(browser, pages, server, b);
  for (const p of [pa, pb1, pb2]) await registered(p);
  await h.until('3 bindings', async () => (await server.sipStatus()).bindings === 3);

  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const in1 = await newCall(pb1, [], 'tab 1 rings');
  const in2 = await newCall(pb2, [], 'tab 2 rings');
  assert.equal(in1, in2, 'both tabs see the same leg');
  const outA = await newCall(pa, [], 'A sees its call');
  for (const p of [pb1, pb2]) {
    assert.equal((await state(p, in1)).state, 'ringing');
    const s = await p.evaluate((i) => window.phone.sipSession(i), in1);
    assert.ok(s && !s.ended, 'each tab has its own ringing JsSIP session');
  }

  const t1 = Date.now();
  await pb1.evaluate((id) => window.phone.answer(id), in1);
  await waitState(pb1, in1, ['active', 'bridge'], 'tab 1 active');
  await waitState(pa, outA, ['active', 'bridge'], 'A active');
  // Tab 2's INVITE is CANCELed: its JsSIP session ends and its SDK call stops ringing.
  await h.until('tab 2 JsSIP session ended', async () => {
    const s = await pb2.evaluate((i) => window.phone.sipSession(i), in2);
    return s && s.ended;
  }, 5000);
  const s2 = await h.until('tab 2 call not ringing', async () => {
    const s = await state(pb2, in2);
    return s && s.state !== 'ringing' && s;
  }, 5000);
  console.log(`two tabs: tab 2 ended ${Date.now() - t1} ms after tab 1 answered; its SDK call is ${s2.state}`);
  await audioFlows(pb1, in1, 'audio A→tab 1');
  await audioFlows(pa, outA, 'audio tab 1→A');
  assert.equal(await bytes(pb2, in2), -1, 'tab 2 has no media');

  await pa.evaluate((id) => window.phone.hangup(id), outA);
  await waitState(pb1, in1, ['hangup'], 'tab 1 sees the hangup');
  await waitState(pb2, in2, ['hangup'], 'tab 2 sees the hangup');
  await waitState(pa, outA, ['hangup'], 'A call ended');
  assert.equal((await server.sipStatus()).calls, 0);
});

test('page reload mid-call: subscribe_call rebuilds the live call, which gets the hangup', async (t) => {
  const env = await h.setup(t);
  const { server } = env;
  const { b, pa, pb } = await h.twoPhones(env);
  const { outA, inB } = await h.answeredCall(pa, pb, b.extension);
  await audioFlows(pb, inB, 'audio A→B');

  // Reload B: a new page and SDK client with the same token, subscribed again.
  const t1 = Date.now();
  await pb.reload();
  await pb.evaluate(
    ({ endpoint, token }) => window.phone.start({ endpoint, token }),
    { endpoint: `${server.base}/ws`, token: b.token },
  );
  const listed = await pb.evaluate(() => window.phone.allCalls());
  console.log(`reload: B's new client lists ${JSON.stringify(listed)} ${Date.now() - t1} ms after the reload`);
  const live = listed.find((c) => c.id === inB);
  assert.ok(live, 'allCall() holds the live call');
  assert.ok(['active', 'bridge'].includes(live.state), `rebuilt call state ${live.state}`);
  assert.equal(live.direction, 'inbound');
  // A's side of the call is unaffected by B's reload.
  assert.ok(['active', 'bridge'].includes((await state(pa, outA)).state), 'A still talking');

  await pa.evaluate((id) => window.phone.hangup(id), outA);
  const end = await waitState(pb, inB, ['hangup'], 'B\'s rebuilt call receives the hangup');
  assert.equal(end.cause, 'NORMAL_CLEARING');
  await waitState(pa, outA, ['hangup'], 'A call ended');
  await h.until('B\'s client forgets the call', async () => !(await pb.evaluate(() => window.phone.allCalls())).some((c) => c.id === inB));
  const [rowB] = await history(server, t1 - 60000, [inB]);
  assert.ok(Number(rowB.bill_sec) >= 0 && rowB.answered_at, 'B leg answered in history');
  assert.equal((await server.sipStatus()).calls, 0);
});

test('a tab closed mid-call: the call ends once the 30 s grace for a reload is over', async (t) => {
  const env = await h.setup(t);
  const { server } = env;
  const { b, pa, pb } = await h.twoPhones(env);
  const { outA, inB } = await h.answeredCall(pa, pb, b.extension);

  const closedAt = Date.now();
  await pb.close();
  await h.sleep(5000);
  assert.ok(['active', 'bridge'].includes((await state(pa, outA)).state), 'the call outlives the closed tab for a while');
  const end = await waitState(pa, outA, ['hangup'], 'A\'s call ends after the grace', 40000);
  const after = Date.now() - closedAt;
  console.log(`closed tab: A's call ended ${after} ms after B's tab closed (${end.cause})`);
  assert.ok(after >= 29000 && after <= 36000, `ended after ${after} ms, want ~30 s`);
  const [rowB] = await history(server, closedAt - 60000, [inB]);
  assert.equal(rowB.cause, 'NORMAL_CLEARING');
  assert.equal((await server.sipStatus()).calls, 0);
});
