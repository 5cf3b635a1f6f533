// The unchanged webitel-sdk from npm against a running `switchboard serve`.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { Client, LicencePermissionError } = require('webitel-sdk');
const { startServer, provisionUser, rawSocket, md5 } = require('./harness');

let server;
let alice;
const clients = [];

before(async () => {
  server = await startServer();
  alice = await provisionUser(server);
});

after(async () => {
  for (const c of clients) {
    try { await c.disconnect(); } catch { /* already closed */ }
  }
  await server.stop();
});

async function connect(token) {
  const c = new Client({ endpoint: `${server.base}/ws`, token });
  clients.push(c);
  await c.connect();
  return c;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

test('auth() succeeds and hello carries the connection info', async () => {
  const c = await connect(alice.token);
  const started = Date.now();
  assert.equal(await c.auth(), undefined, 'the auth reply has no data');
  const info = c.connectionInfo;
  assert.equal(typeof info.sock_id, 'string');
  assert.equal(info.sock_id.length, 26);
  assert.equal(c.instanceId, info.sock_id);
  assert.equal(typeof info.server_node_id, 'string');
  assert.equal(typeof info.server_version, 'string');
  assert.ok(Math.abs(info.server_time - started) < 5000, 'server_time is in ms');
  assert.equal(info.use_cc, true);
  assert.equal(info.use_chat, false);
  const s = c.sessionInfo();
  assert.equal(s.user_id, alice.id);
  assert.equal(typeof s.domain_id, 'number');
  assert.equal(s.domain_name, server.domain);
  assert.equal(s.token, alice.token);
  assert.equal(typeof s.expire, 'number');
  assert.equal(s.role_ids[0], alice.id);
  assert.ok(s.role_ids.length >= 2);
  const calls = s.scopes.find((x) => x.name === 'calls');
  assert.equal(calls.access, 15, 'calls xrwd = 8|4|2|1');
  assert.equal(s.scopes.find((x) => x.name === 'recordings').access, 4);
  await c.disconnect();
});

test('ping() answers pong', async () => {
  const c = await connect(alice.token);
  await c.auth();
  assert.deepEqual(await c.ping(), { pong: 1 });
  await c.disconnect();
});

test("deviceConfig('webrtc') gives the JsSIP settings of the user's device", async () => {
  const c = await connect(alice.token);
  await c.auth();
  const conf = await c.deviceConfig('webrtc');
  assert.equal(conf.realm, server.domain);
  assert.equal(conf.ha1, md5(`${alice.account}:${server.domain}:${alice.password}`));
  assert.equal(conf.authorization_user, alice.account);
  assert.equal(conf.extension, alice.extension);
  assert.equal(conf.uri, `sip:${alice.extension}@${server.domain}`);
  assert.equal(conf.server, `${server.wsBase}/sip`);
  assert.ok(conf.server.endsWith('/sip'));
  assert.equal(conf.display_name, alice.name.replaceAll('"', ''));
  assert.equal(typeof conf.register_expires, 'number');
  const sip = await c.deviceConfig('sip');
  assert.equal(sip.domain, server.domain);
  assert.equal(sip.auth, alice.account);
  assert.equal(sip.extension, alice.extension);
  assert.equal(sip.ha1, conf.ha1);
  assert.match(sip.proxy, /^sip:/);
  await c.disconnect();
});

test('a user without a default device gets the missing-device error', async () => {
  const bob = await provisionUser(server, { device: false });
  const c = await connect(bob.token);
  await c.auth();
  await assert.rejects(c.deviceConfig('webrtc'), (e) => {
    assert.equal(e.id, 'store.sql_user.get_default_device.app_error');
    assert.equal(e.code, 404);
    return true;
  });
  await c.disconnect();
});

test('subscribeCall() resolves; call actions reach the call engine and are validated', async () => {
  const c = await connect(alice.token);
  await c.auth();
  const events = [];
  await c.subscribeCall((action, call) => events.push([action, call]));
  assert.equal(c.allCall().length, 0);
  // The call engine takes the originate (Alice's own phone is not registered, so that call
  // then fails on its own) and answers the new call's id.
  const invited = await c.invite({ destination: '1002' });
  assert.equal(typeof invited.id, 'string', JSON.stringify(invited));
  await assert.rejects(c.request('call_hangup', { id: 5 }), (e) => {
    assert.equal(e.id, 'api.websocket_handler.invalid_param.app_error');
    assert.equal(e.code, 400);
    return true;
  });
  await assert.rejects(c.request('call_dtmf', { id: 'x', app_id: 'n', dtmf: '1' }), (e) => {
    assert.equal(e.id, 'app.call.not_found');
    assert.equal(e.code, 404);
    return true;
  });
  // The contact center runs, and a plain user may not act as an agent.
  await assert.rejects(c.request('cc_agent_online', { agent_id: 1, channels: [] }),
    (e) => /permission=cc_agent access=update/.test(e.message));
  await c.unSubscribe('call');
  await c.disconnect();
});

test('an invalid token is refused', async () => {
  const c = await connect('not-a-token');
  await assert.rejects(c.auth(), (e) => {
    assert.equal(e.id, 'app.session.unauthenticated');
    assert.equal(e.code, 401);
    return true;
  });
});

test('an unlicensed user is refused with LicencePermissionError', async () => {
  const carol = await provisionUser(server, { license: false });
  const c = await connect(carol.token);
  await assert.rejects(c.auth(), (e) => {
    assert.ok(e instanceof LicencePermissionError);
    assert.equal(e.id, 'api.context.permissions.license');
    return true;
  });
});

test('revoking the token closes its socket within a second', async () => {
  const dave = await provisionUser(server);
  const c = await connect(dave.token);
  await c.auth();
  const closed = new Promise((resolve) => c.on('disconnected', (code, err) => resolve({ code, err, at: Date.now() })));
  const t0 = Date.now();
  await server.rest('DELETE', `/users/${dave.id}/tokens/${dave.tokenKey}`);
  const res = await Promise.race([closed, sleep(1000).then(() => null)]);
  assert.ok(res, 'socket closed within 1 s');
  assert.ok(res.at - t0 < 1000);
  assert.notEqual(res.code, 1000);
  assert.equal(res.err.id, 'app.session.revoked');
  // And the token no longer authenticates a new socket.
  const again = await connect(dave.token);
  await assert.rejects(again.auth(), (e) => e.code === 401);
});

test('user_state events reach subscribers of the same domain', async () => {
  const watcher = await connect(alice.token);
  await watcher.auth();
  const states = [];
  await watcher.subscribeUsersStatus((s) => states.push(s));
  const erin = await provisionUser(server);
  const c = await connect(erin.token);
  await c.auth();
  const waitFor = async (status) => {
    for (let i = 0; i < 100; i++) {
      const s = states.find((x) => x.id === String(erin.id) && x.status === status);
      if (s) return s;
      await sleep(20);
    }
    throw new Error(`no ${status} state`);
  };
  const online = await waitFor('online');
  assert.equal(typeof online.id, 'string');
  assert.equal(typeof online.timestamp, 'number');
  await c.disconnect();
  await waitFor('offline');
  await watcher.disconnect();
});

// Protocol edges the SDK never produces, over a raw socket.
test('raw: hello before the auth reply; second auth ignored; errors by the engine ids', async () => {
  const r = rawSocket(`${server.wsBase}/ws/websocket?application_name=test&ver=1`);
  await r.open();
  r.send({ seq: 1, action: 'ping', data: { ping: 1 } });
  const before = await r.reply(1);
  assert.equal(before.status, 'FAIL');
  assert.equal(before.error.id, 'api.web_socket_router.not_authenticated.app_error');
  assert.equal(before.error.code, 500);

  r.send({ seq: 2, action: 'authentication_challenge', data: { token: alice.token } });
  await r.reply(2);
  const hello = await r.next((m) => m.event === 'hello');
  assert.equal(hello.seq, 0);
  assert.equal(hello.data.session.user_id, alice.id);

  r.send({ seq: 3, action: 'authentication_challenge', data: { token: alice.token } });
  r.send({ seq: 4, action: 'no_such_action' });
  const bad = await r.reply(4);
  assert.equal(bad.error.id, 'api.web_socket_router.bad_action.app_error');
  assert.equal(bad.error.code, 400);
  assert.ok(!r.frames.some((m) => m.seq_reply === 3), 'second auth gets no reply');

  r.send({ seq: 5 });
  assert.equal((await r.reply(5)).error.id, 'api.web_socket_router.no_action.app_error');
  r.send({ seq: 0, action: 'ping' });
  const badSeq = await r.next((m) => m.status === 'FAIL' && m.seq_reply === undefined);
  assert.equal(badSeq.error.id, 'api.web_socket_router.bad_seq.app_error');

  r.send('this is not json');
  const notJson = await r.next((m) => m.status === 'FAIL' && m.seq_reply === undefined);
  assert.equal(notJson.error.code, 400);
  r.send('[1,2]');
  assert.equal((await r.next((m) => m.status === 'FAIL' && m.seq_reply === undefined)).error.code, 400);
  r.send({ seq: 6, action: 'user_default_device', data: { name: 5 } });
  assert.equal((await r.reply(6)).error.id, 'api.websocket_handler.invalid_param.app_error');
  r.send({ seq: 7, action: 'ping', data: [] });
  assert.equal((await r.reply(7)).error.code, 400);
  r.send(JSON.stringify({ seq: 8, action: 'ping', data: { pad: 'x'.repeat(70 * 1024) } }));
  const big = await r.next((m) => m.status === 'FAIL' && m.error.code === 413);
  assert.equal(big.error.id, 'api.web_socket_router.too_large.app_error');
  r.ws.send(Buffer.from([1, 2, 3]), { binary: true });

  // Still serving after all that.
  r.send({ seq: 9, action: 'ping', data: { ping: 1 } });
  assert.deepEqual((await r.reply(9)).data, { pong: 1 });
  r.send({ seq: 10, action: 'latency_start' });
  assert.equal(typeof (await r.reply(10)).data.server_ts, 'number');
  r.send({ seq: 11, action: 'latency_ack', data: { client_ts: 1, last_latency: 2 } });
  const ack = (await r.reply(11)).data;
  assert.equal(ack.client_ts, 1);
  assert.equal(typeof ack.server_ack_ts, 'number');
  r.ws.close();
});

test('raw: hello is the first frame after auth, before the OK reply', async () => {
  const r = rawSocket(`${server.wsBase}/websocket`);
  await r.open();
  r.send({ seq: 1, action: 'authentication_challenge', data: { token: alice.token } });
  await r.reply(1);
  assert.equal(r.arrived[0].event, 'hello');
  assert.deepEqual(r.arrived[1], { status: 'OK', seq_reply: 1 });
  r.ws.close();
});

test('raw: a challenge without a token closes the socket with no reply', async () => {
  const r = rawSocket(`${server.wsBase}/ws/websocket`);
  await r.open();
  r.send({ seq: 1, action: 'authentication_challenge', data: { token: 42 } });
  const code = await Promise.race([r.closed, sleep(2000).then(() => 'open')]);
  assert.notEqual(code, 'open');
  assert.equal(r.frames.length, 0);
});
