// Contact center through the unchanged webitel-sdk in Chromium: agents go online with the SDK's
// Agent, callers dial a queue's number (an outbound route whose schema joins the queue), the
// longest-idle agent's phone rings with a Task paired to its Call, wrap-up goes through
// task.reporting, and a missed offer moves on.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const {
  provisionUser, openPhone, until, sleep, setup, registered, newCall, waitState, audioFlows, state,
} = require('./harness');

/** A team, a queue with `opts`, and its number `number` (schema joinQueue → hangup). */
async function queueWithNumber(server, number, team, opts = {}) {
  const q = await server.rest('POST', '/call_center/queues', {
    name: opts.name || `Queue ${number}`,
    type: 1,
    strategy: 'fifo',
    enabled: true,
    priority: 0,
    team: { id: team.id },
    processing: opts.processing ?? true,
    processing_sec: 30,
    payload: { max_wait_time: opts.maxWait || 60 },
  });
  const schema = await server.rest('POST', '/routing/schema', {
    name: `Queue line ${number}`,
    type: 'default',
    schema: [{ joinQueue: { queue: { id: Number(q.id), name: q.name } } }, { hangup: 'NO_ANSWER' }],
  });
  await server.rest('POST', '/routing/outbound/calls', {
    name: `Queue ${number}`,
    pattern: `^${number}$`,
    schema: { id: schema.id },
  });
  return q;
}

async function team(server, fields = {}) {
  return server.rest('POST', '/call_center/teams', {
    name: `Team ${Date.now()}`,
    strategy: 'longest-idle-agent',
    call_timeout: 8,
    max_no_answer: 3,
    no_answer_delay_time: 1,
    wrap_up_time: 1,
    ...fields,
  });
}

/** An SPA user with the agent role, made an agent of `team`; its phone page open, agent session started. */
async function agentPage(env, tm) {
  const { server, pages, browser } = env;
  const u = await provisionUser(server, { role: server.agentRole });
  const a = await server.rest('POST', '/call_center/agents', { user: { id: String(u.id) }, team: { id: tm.id } });
  const p = await openPhone(browser, pages, server, u);
  await registered(p);
  const s = await p.evaluate(() => window.phone.agentStart());
  assert.equal(s.agentId, Number(a.id), 'agentSession() gives the agent id as a number');
  assert.equal(s.status, 'offline');
  assert.ok(s.channels >= 1, 'channels array');
  return { u, a, p };
}

async function caller(env) {
  const u = await provisionUser(env.server);
  const p = await openPhone(env.browser, env.pages, env.server, u);
  await registered(p);
  return { u, p };
}

const agentState = (p) => p.evaluate(() => window.phone.agentState());
const online = (p) => p.evaluate(() => window.phone.agentDo('online'));
const log = (p, kind) => p.evaluate((k) => window.phone.log.filter((e) => e.kind === k), kind);
const waitChannel = (p, want, what, ms = 10000) => until(what, async () => {
  const s = await agentState(p);
  return s && s.channel === want && s;
}, ms);

/** Caller page dials `number`; returns its call id once the server answered (queued). */
async function dialQueue(c, number) {
  await c.p.evaluate((n) => window.phone.call(n), number);
  const id = await newCall(c.p, [], 'caller sees its call');
  await waitState(c.p, id, ['active', 'bridge'], 'caller answered by the queue');
  return id;
}

test('two agents, three callers: longest idle first, the third waits, wrap-up by task.reporting', async (t) => {
  const env = await setup(t);
  const tm = await team(env.server);
  await queueWithNumber(env.server, '700', tm, { name: 'Support' });
  const a1 = await agentPage(env, tm);
  const a2 = await agentPage(env, tm);
  assert.deepEqual(await online(a1.p), { ok: true, result: null });
  await waitChannel(a1.p, 'waiting', 'agent 1 waiting');
  await sleep(300);
  assert.deepEqual(await online(a2.p), { ok: true, result: null });
  await waitChannel(a2.p, 'waiting', 'agent 2 waiting');
  assert.ok((await log(a1.p, 'agent_status')).some((e) => e.status === 'online'), 'agent_status online event');

  const c1 = await caller(env);
  const c2 = await caller(env);
  const c3 = await caller(env);
  await dialQueue(c1, '700');
  // Agent 1 has been idle longest: its phone rings, with the task paired to the call.
  const r1 = await newCall(a1.p, [], 'agent 1 rings');
  const task1 = await until('agent 1 call has its task', () => a1.p.evaluate((id) => window.phone.callTask(id), r1));
  assert.equal(typeof task1.attempt, 'number');
  assert.equal(task1.queue.queue_name, 'Support');
  const tasks1 = await log(a1.p, 'task');
  assert.ok(tasks1.some((e) => e.status === 'distribute' && e.queue === 'Support'), JSON.stringify(tasks1));
  assert.equal((await a2.p.evaluate(() => window.phone.callIds())).length, 0, 'agent 2 not rung for the first caller');

  await dialQueue(c2, '700');
  const r2 = await newCall(a2.p, [], 'agent 2 rings for the second caller');
  const c3call = await dialQueue(c3, '700');
  await sleep(1500);
  assert.equal((await a1.p.evaluate(() => window.phone.callIds())).length, 1, 'the third caller waits');
  assert.equal((await a2.p.evaluate(() => window.phone.callIds())).length, 1, 'the third caller waits');
  assert.equal((await state(c3.p, c3call)).state, 'active', 'third caller hears the queue');

  // Agent 1 answers: caller 1 and agent 1 hear each other through the server.
  await a1.p.evaluate((id) => window.phone.answer(id), r1);
  await waitState(a1.p, r1, ['active', 'bridge'], 'agent 1 talking');
  const c1call = (await c1.p.evaluate(() => window.phone.callIds()))[0];
  await audioFlows(a1.p, r1, 'caller audio at agent 1');
  await audioFlows(c1.p, c1call, 'agent audio at caller 1');
  await waitChannel(a1.p, 'bridged', 'agent 1 bridged');

  // Agent 1 hangs up: processing (wrap-up form), then task.reporting → waiting again.
  await a1.p.evaluate((id) => window.phone.hangup(id), r1);
  const s = await waitChannel(a1.p, 'processing', 'agent 1 in processing');
  assert.equal(s.tasks.length, 1);
  assert.equal(s.tasks[0].id, task1.attempt);
  assert.equal(s.tasks[0].allowReporting, true);
  assert.deepEqual(await a1.p.evaluate((id) => window.phone.report(id, true, 'solved'), task1.attempt), { ok: true });
  // Reporting twice is refused and changes nothing.
  const again = await a1.p.evaluate((id) => window.phone.raw('cc_reporting', { attempt_id: id, success: true }), task1.attempt);
  assert.ok(again.error, 'second report refused');
  // After the team's wrap-up time agent 1 is free and gets the waiting third caller.
  const r3 = await newCall(a1.p, [r1], 'agent 1 rings for the third caller', 15000);
  assert.ok(r3);
  await a2.p.evaluate((id) => window.phone.hangup(id), r2);
});

test('a paused agent gets nothing; a ring-out is missed and the call moves on; queue timeout', async (t) => {
  const env = await setup(t);
  const tm = await team(env.server, { call_timeout: 4, no_answer_delay_time: 30 });
  await queueWithNumber(env.server, '701', tm);
  const a1 = await agentPage(env, tm);
  const a2 = await agentPage(env, tm);
  await online(a1.p);
  await online(a2.p);
  assert.deepEqual(await a2.p.evaluate(() => window.phone.agentDo('pause', 'Lunch')), { ok: true, result: null });
  await until('agent 2 paused', async () => (await agentState(a2.p)).status === 'pause');

  const c1 = await caller(env);
  await dialQueue(c1, '701');
  const r1 = await newCall(a1.p, [], 'agent 1 rings');
  // Agent 1 lets it ring out: missed, the caller keeps waiting; agent 2 is paused.
  await waitChannel(a1.p, 'missed', 'agent 1 missed', 10000);
  assert.ok((await log(a1.p, 'task')).some((e) => e.status === 'missed'));
  await waitState(a1.p, r1, ['hangup'], 'agent 1 leg ended');
  assert.equal((await a2.p.evaluate(() => window.phone.callIds())).length, 0, 'paused agent not rung');
  // Agent 2 comes back: the caller is offered to it.
  await online(a2.p);
  await newCall(a2.p, [], 'agent 2 rings after going online');

  // A queue nobody serves: the caller leaves after max_wait_time through the schema's hangup.
  const lone = await team(env.server);
  await queueWithNumber(env.server, '702', lone, { maxWait: 3 });
  const c2 = await caller(env);
  const id = await dialQueue(c2, '702');
  const end = await waitState(c2.p, id, ['hangup'], 'queue timeout hangs up', 10000);
  assert.equal(end.cause, 'NO_ANSWER');
});

test('an agent page reloaded mid-call keeps its task; bad input is refused', async (t) => {
  const env = await setup(t);
  const tm = await team(env.server);
  await queueWithNumber(env.server, '703', tm);
  const a1 = await agentPage(env, tm);
  // Bad input first: a string id, someone else's agent, online before that works.
  const str = await a1.p.evaluate((id) => window.phone.raw('cc_agent_tasks', { agent_id: String(id) }), Number(a1.a.id));
  assert.ok(str.error, 'string agent_id refused');
  const other = await a1.p.evaluate(() => window.phone.raw('cc_agent_online', { agent_id: 999999 }));
  assert.ok(other.error, 'unknown agent refused');
  assert.equal((await agentState(a1.p)).status, 'offline', 'nothing changed');
  // An agent without any registered phone cannot go online (Webitel's error), REST or WS.
  const idle = await provisionUser(env.server, { role: env.server.agentRole });
  const idleAgent = await env.server.rest('POST', '/call_center/agents', { user: { id: String(idle.id) }, team: { id: tm.id } });
  const res = await fetch(`${env.server.base}/api/call_center/agents/${idleAgent.id}/status`, {
    method: 'PATCH',
    headers: { 'X-Webitel-Access': env.server.admin, 'Content-Type': 'application/json' },
    body: JSON.stringify({ status: 'online' }),
  });
  assert.equal(res.status, 400);
  const body = await res.json();
  assert.match(body.detail || body.message || JSON.stringify(body), /not found: sip, web or pn/);
  const still = await env.server.rest('GET', `/call_center/agents/${idleAgent.id}`);
  assert.equal(still.status, 'offline', 'nothing changed');
  await online(a1.p);
  const c1 = await caller(env);
  await dialQueue(c1, '703');
  const r1 = await newCall(a1.p, [], 'agent rings');
  await a1.p.evaluate((id) => window.phone.answer(id), r1);
  await waitState(a1.p, r1, ['active', 'bridge'], 'agent talking');
  const attempt = (await a1.p.evaluate((id) => window.phone.callTask(id), r1)).attempt;

  await a1.p.reload();
  await a1.p.evaluate(({ endpoint, token }) => window.phone.start({ endpoint, token }), { endpoint: `${env.server.base}/ws`, token: a1.u.token });
  const s = await a1.p.evaluate(() => window.phone.agentStart());
  assert.equal(s.status, 'online');
  const st = await agentState(a1.p);
  assert.deepEqual(st.tasks.map((x) => x.id), [attempt], 'cc_agent_tasks restores the task');
  const ids = (await a1.p.evaluate(() => window.phone.allCalls())).map((c) => c.id);
  assert.ok(ids.includes(r1), 'subscribe_call restores the call');
  const paired = await a1.p.evaluate((id) => window.phone.callTask(id), r1);
  assert.equal(paired && paired.attempt, attempt, 'the restored call is paired with its task');
  // The caller hangs up; the agent's restored task goes to processing.
  const c1call = (await c1.p.evaluate(() => window.phone.callIds()))[0];
  await c1.p.evaluate((id) => window.phone.hangup(id), c1call);
  await waitChannel(a1.p, 'processing', 'processing after the call');
  assert.deepEqual(await a1.p.evaluate((id) => window.phone.report(id, true, 'ok'), attempt), { ok: true });

  // History: the caller's and the agent's legs carry the queue attempt (CC-NOTES part 4).
  const leg = await until('agent leg in history with its attempt', async () => {
    const h = await env.server.rest('GET', `/calls/history?id=${r1}&created_at.from=0`);
    const row = h.items && h.items[0];
    return row && row.reporting_at && row;
  });
  assert.equal(leg.attempt_id, String(attempt));
  assert.equal(leg.queue.name, 'Queue 703');
  assert.equal(leg.agent.id, String(a1.a.id));
  assert.equal(leg.result, 'success');
  assert.equal(leg.agent_description, 'ok');
  assert.equal(typeof leg.queue_wait_sec, 'number');
  assert.ok(leg.queue_bridged_at, 'bridged time');
  const customer = (await env.server.rest('GET', `/calls/history?id=${c1call}&created_at.from=0`)).items[0];
  assert.equal(customer.attempt_id, String(attempt));
  assert.equal(customer.hangup_disposition, 'client_dropped');
});
