// Calls between two browsers through the server's B2BUA, with the media anchored in the server:
// A calls B by extension with the unchanged webitel-sdk, B answers through the SDK, audio flows
// both ways; B rejects a second call; A cancels a third; hangup from each side; history.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const { newCall, state, waitState, bytes } = h;

test('A calls B, B answers, audio both ways; reject; cancel; hangup from each side', async (t) => {
  const { server, pages, browser } = await h.setup(t);

  const { b, pa, pb } = await h.twoPhones({ server, pages, browser });
  const seenA = [];
  const seenB = [];

  // 1. A calls B; B rings and answers; audio flows both ways; A hangs up.
  const t0 = Date.now();
  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB = await newCall(pb, seenB, 'B receives the call');
  seenB.push(inB);
  const outA = await newCall(pa, seenA, 'A sees its outbound call');
  seenA.push(outA);
  assert.equal((await state(pb, inB)).direction, 'inbound');
  const rx = await pb.evaluate(() => window.phone.log.filter((e) => e.kind === 'call_receive'));
  assert.equal(rx.length, 1, 'call_receive on B');
  console.log(`ringing at B after ${Date.now() - t0} ms`);

  const t1 = Date.now();
  await pb.evaluate((id) => window.phone.answer(id), inB);
  await waitState(pb, inB, ['active', 'bridge'], 'B active');
  await waitState(pa, outA, ['active', 'bridge'], 'A active');
  const [a0, b0] = [await bytes(pa, outA), await bytes(pb, inB)];
  await h.until('audio A→B and B→A', async () => {
    const [a1, b1] = [await bytes(pa, outA), await bytes(pb, inB)];
    return a1 > a0 + 1000 && b1 > b0 + 1000 && [a1, b1];
  }, 10000);
  console.log(`audio both ways within ${Date.now() - t1} ms of the answer`);
  await h.sleep(1000);
  await pa.evaluate((id) => window.phone.hangup(id), outA);
  await waitState(pb, inB, ['hangup'], 'B sees the hangup');
  await waitState(pa, outA, ['hangup'], 'A sees the hangup');

  // 2. A calls B; B rejects (the SDK sends call_hangup USER_BUSY); A's call ends busy.
  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB2 = await newCall(pb, seenB, 'B receives the second call');
  seenB.push(inB2);
  const outA2 = await newCall(pa, seenA, 'A sees the second call');
  seenA.push(outA2);
  await pb.evaluate((id) => window.phone.hangup(id, 'USER_BUSY'), inB2);
  const endA2 = await waitState(pa, outA2, ['hangup'], 'A hears busy');
  const endB2 = await waitState(pb, inB2, ['hangup'], 'B call gone');
  assert.equal(endB2.cause, 'USER_BUSY');
  console.log(`rejected: A cause ${endA2.cause}`);

  // 3. A calls B and cancels while it rings.
  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB3 = await newCall(pb, seenB, 'B receives the third call');
  seenB.push(inB3);
  const outA3 = await newCall(pa, seenA, 'A sees the third call');
  seenA.push(outA3);
  await pa.evaluate((id) => window.phone.hangup(id), outA3);
  const endB3 = await waitState(pb, inB3, ['hangup'], 'B stops ringing');
  await waitState(pa, outA3, ['hangup'], 'A call gone');
  assert.equal(endB3.cause, 'ORIGINATOR_CANCEL');

  // 4. A calls B, B answers, B hangs up.
  await pa.evaluate((ext) => window.phone.call(ext), b.extension);
  const inB4 = await newCall(pb, seenB, 'B receives the fourth call');
  seenB.push(inB4);
  const outA4 = await newCall(pa, seenA, 'A sees the fourth call');
  seenA.push(outA4);
  await pb.evaluate((id) => window.phone.answer(id), inB4);
  await waitState(pa, outA4, ['active', 'bridge'], 'A active (4)');
  await pb.evaluate((id) => window.phone.hangup(id), inB4);
  await waitState(pa, outA4, ['hangup'], 'A sees B hang up');
  await waitState(pb, inB4, ['hangup'], 'B call ended');

  // History: every leg, with sane durations.
  const hist = await h.until('history rows', async () => {
    const r = await server.rest('GET', `/calls/history?size=50&created_at.from=${t0 - 1000}&created_at.to=${Date.now() + 1000}`);
    const items = (r && r.items) || [];
    return items.length >= 8 && items.every((i) => i.hangup_at) && items;
  }, 10000);
  const first = hist.find((i) => i.id === outA);
  assert.ok(first, 'A leg of the first call in history');
  assert.ok(Number(first.duration) >= 1 && Number(first.duration) < 60, `duration ${first.duration}`);
  assert.ok(Number(first.bill_sec) >= 1, `bill_sec ${first.bill_sec}`);
  const st = await server.sipStatus();
  assert.equal(st.calls, 0);
});
