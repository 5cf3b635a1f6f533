// The demo SPA's contact center end to end, through its UI only: the administrator creates a
// team and a skill, two SPA users (one of them an agent of that team), the agent's skill, a
// queue with its number and the queue's skill; the agent pauses, then goes online on the Agent
// page; the other user dials the queue's number from the Phone page; the live Queue board shows
// the waiting call; the Agent page shows the task (queue, caller, wait) and answers; audio flows
// both ways through the server; the agent page is reloaded mid-call and keeps its task; the
// agent hangs up, fills in the wrap-up form, and is back to waiting after the wrap-up time.
// Deleting the agent's user deletes the agent on the platform.
//
// Runs inside a loopback-only network namespace (package.json `test`).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { audioFlows, browser, createUser, message, shot, signIn, startServer, watchPeers } = require('../lib/ui');

const ADMIN_PASSWORD = 'demo-admin-pass-3';
const CALLS = process.env.DEMO_E2E_CALLS !== '0';

const alice = { name: 'Alice Agent', email: '', extension: '1201', login: 'alice', password: 'alice-pass', agent: true, agentTeam: 'Support team' };
const bob = { name: 'Bob Caller', email: '', extension: '1202', login: 'bob', password: 'bob-pass' };

const exact = { exact: true };

test('contact center: team, queue with a number, an agent taking a queue call with wrap-up, the live board', {
  skip: CALLS ? false : 'DEMO_E2E_CALLS=0',
}, async (t) => {
  const server = await startServer(ADMIN_PASSWORD);
  t.after(() => server.stop());

  // ---- the administrator: team, skill, users, agent skill, queue, its number and skill -----
  const adm = await browser();
  t.after(() => adm.close());
  const page = adm.page;
  await page.goto(`${server.base}/#/admin`);
  await page.getByLabel('Administrator password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Contact center' }).click();
  await page.getByRole('heading', { name: 'Contact center' }).waitFor();
  await page.getByRole('heading', { name: 'Teams' }).waitFor();

  await page.getByLabel('Team name', exact).fill('Support team');
  await page.getByLabel('Strategy', exact).selectOption('longest-idle-agent');
  await page.getByLabel('Wrap-up time (s)', exact).fill('3');
  await page.getByLabel('Call timeout (s)', exact).fill('20');
  await page.getByLabel('No-answer limit', exact).fill('3');
  await page.getByRole('button', { name: 'Create team' }).click();
  assert.match(await message(page), /Creating team Support team: done/);
  await page.getByLabel('Skill name', exact).fill('English');
  await page.getByRole('button', { name: 'Create skill' }).click();
  assert.match(await message(page), /Creating skill English: done/);
  const teams = (await server.rest('GET', '/call_center/teams')).body.items;
  assert.equal(teams.length, 1);
  assert.equal(teams[0].strategy, 'longest-idle-agent');
  assert.equal(teams[0].wrap_up_time, 3);

  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'New SPA user' }).waitFor();
  assert.match(await createUser(page, alice), /Alice Agent created: .*agent \d+/);
  assert.match(await createUser(page, bob), /Bob Caller created/);
  const users = (await page.evaluate(() => fetch('/demo/api/users').then((r) => r.json()))).items;
  const [ua, ub] = users;
  assert.ok(ua.agent_id, 'Alice is an agent');
  assert.equal(ub.agent_id, null, 'Bob is none');
  await page.locator('table tbody tr').nth(1).waitFor();
  assert.equal((await page.locator('table tbody tr').first().locator('td.agent').textContent()).trim(), `agent ${ua.agent_id}`);
  const agent = (await server.rest('GET', `/call_center/agents/${ua.agent_id}`)).body;
  assert.equal(String(agent.user.id), String(ua.user_id));
  assert.equal(String(agent.team.id), String(teams[0].id), 'the agent is in the chosen team');
  await shot(page, 'cc-01-users-with-agent');

  await page.getByRole('link', { name: 'Contact center' }).click();
  await page.getByRole('heading', { name: 'Agents' }).waitFor();
  await page.getByLabel('Skill agent', exact).selectOption({ label: alice.name });
  await page.getByLabel('Agent skill', exact).selectOption({ label: 'English' });
  await page.getByLabel('Capacity', exact).fill('50');
  await page.getByRole('button', { name: 'Add skill to agent' }).click();
  assert.match(await message(page), /Adding the agent skill: done/);
  await page.getByLabel('Queue name', exact).fill('Support');
  await page.getByLabel('Queue strategy', exact).selectOption('fifo');
  await page.getByLabel('Queue team', exact).selectOption({ label: 'Support team' });
  await page.getByLabel('Processing (s)', exact).fill('30');
  await page.getByLabel('Max wait (s)', exact).fill('60');
  await page.getByLabel('Queue number', exact).fill('700');
  await page.getByRole('button', { name: 'Create queue' }).click();
  assert.match(await message(page), /Creating queue Support: done/);
  await page.getByLabel('Skill queue', exact).selectOption({ label: 'Support' });
  await page.getByLabel('Queue skill', exact).selectOption({ label: 'English' });
  await page.getByRole('button', { name: 'Add skill to queue' }).click();
  assert.match(await message(page), /Adding the queue skill: done/);
  const queueRow = page.locator('table.queues tbody tr').first();
  assert.equal((await queueRow.locator('td.queue-number strong').textContent()).trim(), '700');
  assert.match(await queueRow.textContent(), /Support team.*30 s.*60 s.*English \(lvl 1, 0–100\)/);
  assert.match(await page.locator('table.agents tbody tr').first().textContent(), /English \(50\)/);
  await shot(page, 'cc-02-contact-center');
  // The number is an outbound route to a schema joining the queue.
  const queue = (await server.rest('GET', '/call_center/queues?fields=id&fields=name&fields=payload&fields=processing_sec')).body.items[0];
  assert.equal(queue.payload.max_wait_time, 60);
  const routes = (await server.rest('GET', '/routing/outbound/calls')).body.items;
  assert.deepEqual(routes.map((r) => r.pattern), ['^700$']);
  const schema = (await server.rest('GET', `/routing/schema/${routes[0].schema.id}`)).body;
  assert.equal(String((schema.schema || schema.routing?.schema)[0].joinQueue.queue.id), String(queue.id));

  // The board, live from the platform's events.
  await page.getByRole('link', { name: 'Queue board' }).click();
  await page.locator('.board-live[data-state="live"]').waitFor({ timeout: 15000 });
  await page.locator('.board-queue').first().waitFor();
  assert.match(await page.locator('.board-queue h2').first().textContent(), /Support · number 700/);
  await page.locator('.board-queue .none-waiting').waitFor();

  // ---- the agent: pause with a reason, then online ----------------------------------------
  const a = await browser();
  t.after(() => a.close());
  await watchPeers(a.page);
  await signIn(a.page, server.base, alice);
  await a.page.getByRole('link', { name: 'Agent' }).click();
  await a.page.locator('.agent-status[data-status="offline"]').waitFor({ timeout: 15000 });
  await a.page.getByLabel('Pause reason').fill('Lunch');
  await a.page.getByRole('button', { name: 'Pause' }).click();
  await a.page.locator('.agent-status[data-status="pause"]').waitFor({ timeout: 10000 });
  assert.match(await a.page.locator('.agent-status').textContent(), /Paused \(Lunch\)/);
  await a.page.getByRole('button', { name: 'Online' }).click();
  await a.page.locator('.agent-status[data-status="online"]').waitFor({ timeout: 10000 });
  await a.page.locator('.channel-state[data-state="waiting"]').waitFor();
  await shot(a.page, 'cc-03-agent-online');
  // The board follows: Alice is online and free.
  await page.locator('.board-queue table.agents tr[data-status="online"]').waitFor({ timeout: 10000 });

  // ---- the caller dials the queue's number ------------------------------------------------
  const b = await browser();
  t.after(() => b.close());
  await watchPeers(b.page);
  await signIn(b.page, server.base, bob);
  await b.page.getByLabel('Number to call').fill('700');
  await b.page.getByRole('button', { name: 'Call', exact: true }).click();
  // The queue answers the caller (hold tone) and offers the call to Alice.
  await b.page.locator('.active-call[data-state="active"]').waitFor({ timeout: 20000 });
  const task = a.page.locator('section.task');
  await task.waitFor({ timeout: 20000 });
  assert.equal((await task.locator('.task-queue').textContent()).trim(), 'Support');
  assert.match(await task.locator('.task-caller').textContent(), /1202/);
  await a.page.locator('section.task .task-call', { hasText: 'ringing' }).waitFor({ timeout: 10000 });
  assert.match(await task.locator('.task-wait').textContent(), /^waiting \d+ s$/);
  // The board showed the waiting call (while it rings the agent) with its wait time.
  const waitingRow = page.locator('.board-queue table.waiting tbody tr').first();
  await waitingRow.waitFor({ timeout: 10000 });
  assert.match(await waitingRow.textContent(), /1202/);
  assert.match(await waitingRow.locator('td.wait').textContent(), /^\d+:\d\d$/);
  await shot(page, 'cc-04-board-waiting');
  await shot(a.page, 'cc-05-agent-task-ringing');

  // ---- answer: they hear each other through the server ------------------------------------
  await task.getByRole('button', { name: 'Answer' }).click();
  await a.page.locator('section.task .task-call', { hasText: 'connected' }).waitFor({ timeout: 15000 });
  await a.page.locator('.channel-state[data-state="bridged"]').waitFor({ timeout: 10000 });
  assert.match(await task.locator('.task-wait').textContent(), /^waited \d+ s$/);
  await audioFlows(a.page, 'the caller is heard at the agent');
  await audioFlows(b.page, 'the agent is heard at the caller');
  await page.locator('.board-queue .none-waiting').waitFor({ timeout: 10000 });
  await page.locator('.board-queue table.agents tr[data-state="bridged"]').waitFor({ timeout: 10000 });
  await shot(a.page, 'cc-06-agent-talking');

  // ---- a reload mid-call keeps the task and its call --------------------------------------
  await a.page.reload();
  const restored = a.page.locator('section.task');
  await restored.waitFor({ timeout: 20000 });
  assert.equal((await restored.locator('.task-queue').textContent()).trim(), 'Support');
  await a.page.locator('.agent-status[data-status="online"]').waitFor({ timeout: 10000 });
  await a.page.locator('section.task .task-call', { hasText: 'connected' }).waitFor({ timeout: 10000 });
  await shot(a.page, 'cc-07-agent-reloaded');

  // ---- hang up, wrap-up form, back to waiting ---------------------------------------------
  await restored.getByRole('button', { name: 'Hang up' }).click();
  await b.page.locator('.active-call').waitFor({ state: 'hidden', timeout: 15000 });
  const form = a.page.locator('form.wrap-up');
  await form.waitFor({ timeout: 15000 });
  await a.page.locator('section.task[data-state="processing"]').waitFor();
  assert.match(await a.page.locator('.processing-left').textContent(), /^\d+ s left$/);
  await a.page.locator('.channel-state[data-state="processing"]').waitFor();
  await form.getByLabel('The call was successful').check();
  await form.getByLabel('Comment').fill('Solved on the first call');
  await shot(a.page, 'cc-08-wrap-up');
  await form.getByRole('button', { name: 'Submit wrap-up' }).click();
  await a.page.locator('section.task').waitFor({ state: 'detached', timeout: 10000 });
  assert.equal(await a.page.locator('.agent-desk .msg-error').count(), 0, 'no errors on the agent page');
  // The team's wrap-up time (3 s) runs, then the agent waits for the next call.
  await a.page.locator('.channel-state[data-state="waiting"]').waitFor({ timeout: 15000 });
  await page.locator('.board-queue table.agents tr[data-state="waiting"]').waitFor({ timeout: 10000 });

  // The attempt's result is on the platform.
  const history = (await server.rest('GET', `/call_center/queues/attempts/history?joined_at.from=${Date.now() - 3600000}&joined_at.to=${Date.now() + 60000}`)).body;
  const attempt = (history.items || [])[0];
  assert.ok(attempt, JSON.stringify(history));
  assert.equal(attempt.result, 'success', JSON.stringify(attempt));

  await a.page.getByRole('button', { name: 'Offline' }).click();
  await a.page.locator('.agent-status[data-status="offline"]').waitFor({ timeout: 10000 });

  // ---- deleting the agent's user deletes the agent ----------------------------------------
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'SPA users' }).waitFor();
  page.once('dialog', (d) => d.accept());
  await page.getByRole('button', { name: 'Delete Alice Agent' }).click();
  assert.match(await message(page), /Alice Agent deleted/);
  assert.equal((await server.rest('GET', `/call_center/agents/${ua.agent_id}`)).status, 404);

  // ---- deleting the queue removes its number ----------------------------------------------
  await page.getByRole('link', { name: 'Contact center' }).click();
  await page.getByRole('button', { name: 'Delete queue Support' }).click();
  assert.match(await message(page), /Deleting queue Support: done/);
  assert.equal(((await server.rest('GET', '/routing/outbound/calls')).body.items || []).length, 0);
});
