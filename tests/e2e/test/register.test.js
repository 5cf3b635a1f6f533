// The web phone inside the unchanged webitel-sdk registers over SIP-over-WebSocket.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const h = require('./harness');

test('webitel-sdk phones register (two users, a second tab), and unregister on close', async (t) => {
  const { server, pages, browser } = await h.setup(t);

  const a = await h.provisionUser(server);
  const b = await h.provisionUser(server);
  const pa = await h.openPhone(browser, pages, server, a);
  const pb = await h.openPhone(browser, pages, server, b);

  for (const p of [pa, pb]) {
    await h.registered(p);
    const events = await p.evaluate(() => window.phone.log.filter((e) => e.kind === 'phone_registered'));
    assert.deepEqual(events.map((e) => e.value), [true]);
  }
  await h.until('2 bindings', async () => (await server.sipStatus()).bindings === 2);

  // A second tab of user A adds a binding of its own.
  const pa2 = await h.openPhone(browser, pages, server, a);
  await h.until('second tab registered', () => pa2.evaluate(() => window.phone.registered()));
  const st = await h.until('3 bindings', async () => {
    const s = await server.sipStatus();
    return s.bindings === 3 && s;
  });
  assert.equal(st.aors, 2);

  // Closing a tab drops its WebSocket and with it its registration.
  await pa2.close();
  await h.until('binding of the closed tab gone', async () => (await server.sipStatus()).bindings === 2);

  // Unregister (the SDK's disconnect unregisters the phone).
  await pb.evaluate(() => window.phone.stop());
  await h.until('B unregistered', async () => (await server.sipStatus()).bindings === 1);
});
