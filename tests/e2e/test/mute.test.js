// Mute with the unchanged webitel-sdk: A calls B, B answers; A `call.mute(true)` → the server
// stops A's audio towards B and tells B's SDK over SIP INFO (`remoteAudioMuted`), while B's audio
// still reaches A; `mute(false)` undoes both. The active-call listing shows the flag.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

const { waitState } = h;
const energy = (p, id) => p.evaluate((i) => window.phone.inboundEnergy(i), id);
const remote = (p, id) => p.evaluate((i) => window.phone.remoteMedia(i), id);

/** How much the inbound audio energy grows over `ms` (the fake microphone beeps about once a second). */
async function growth(p, id, ms = 2000) {
  const e0 = await energy(p, id);
  await h.sleep(ms);
  return (await energy(p, id)) - e0;
}

/** A's leg in `GET /api/calls/active` with A's token. */
async function listed(server, user, id) {
  const r = await server.rest('GET', '/calls/active', undefined, user.token);
  return r.items.find((x) => x.id === id);
}

test('mute stops the party\'s audio and tells the other SDK', async (t) => {
  const env = await h.setup(t);
  const { server } = env;
  const { a, b, pa, pb } = await h.twoPhones(env);
  const { outA, inB } = await h.answeredCall(pa, pb, b.extension);
  await h.until('audio both ways', async () => (await energy(pb, inB)) > 0 && (await energy(pa, outA)) > 0);
  await h.sleep(1000);

  const talkB = await growth(pb, inB);
  assert.ok(talkB > 0, `B hears A before the mute (${talkB})`);
  assert.equal((await remote(pb, inB)).audioMuted, false);
  assert.equal((await listed(server, a, outA)).muted, false);

  // Mute: B's SDK learns it within 2 s, B's inbound audio goes quiet, A still hears B.
  await pa.evaluate((id) => window.phone.mute(id, true), outA);
  const told = await h.until('B sees remoteAudioMuted', async () => {
    const r = await remote(pb, inB);
    return r && r.audioMuted === true && r;
  }, 2000, 50);
  assert.deepEqual(told, { audioMuted: true, videoMuted: false, hold: false });
  assert.equal((await listed(server, a, outA)).muted, true);
  // What B's jitter buffer still holds plays out (longer on a loaded machine): wait for a quiet
  // second, then measure a whole window.
  const quiet = talkB / 20;
  const mutedAt = Date.now();
  await h.until('B\'s inbound audio goes quiet', async () => (await growth(pb, inB, 1000)) < quiet, 5000, 0);
  const quietAfter = Date.now() - mutedAt;
  const [mutedB, mutedA] = await Promise.all([growth(pb, inB), growth(pa, outA)]);

  // Unmute: the flag clears and the audio comes back.
  await pa.evaluate((id) => window.phone.mute(id, false), outA);
  await h.until('B sees remoteAudioMuted cleared', async () => (await remote(pb, inB)).audioMuted === false, 2000, 50);
  assert.equal((await listed(server, a, outA)).muted, false);
  await h.until('B hears A again', async () => (await growth(pb, inB, 1000)) > quiet, 5000, 0);
  const backB = await growth(pb, inB);
  console.log('B inbound energy per 2 s: talking', talkB, 'A muted', mutedB, `(quiet within ${quietAfter} ms)`,
    'unmuted', backB, '| A inbound while muted', mutedA);

  assert.ok(mutedB < quiet, `B hears (almost) nothing while A is muted (${mutedB} vs ${talkB})`);
  assert.ok(mutedA > 0, `A still hears B while muted (${mutedA})`);
  assert.ok(backB > talkB / 4, `B hears A again after unmute (${backB} vs ${talkB})`);

  await pa.evaluate((id) => window.phone.hangup(id), outA);
  await waitState(pb, inB, ['hangup'], 'B sees the hangup');
  await waitState(pa, outA, ['hangup'], 'A call ended');
});
