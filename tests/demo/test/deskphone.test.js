// A desk-phone user of the demo SPA, through its UI and a real desk phone (baresip): the
// administrator creates the user with "Desk phone (SIP)" and reads the SIP settings shown once;
// the users table and the user's Phone page show that the phone is not registered; baresip
// registers with exactly those settings and both pages say so; "Call via my desk phone" to a
// web-phone user rings baresip with the click-to-call INVITE (`answer-after=0`), baresip
// answers (it does not honour answer-after itself), the web phone rings, and the desk-phone
// user's page follows the call from the SDK's call events until it ends.
//
// Runs inside a loopback-only network namespace (package.json `test`).
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { browser, createUser, message, shot, signIn, startServer } = require('../lib/ui');
const { startBaresip } = require('../lib/baresip');

const ADMIN_PASSWORD = 'demo-admin-pass-2';
const CALLS = process.env.DEMO_E2E_CALLS !== '0';

function haveBaresip() {
  try {
    execFileSync('baresip', ['-h'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // `baresip -h` exits non-zero after printing its usage; only a missing binary matters.
    return e.code !== 'ENOENT';
  }
}

const dora = {
  name: 'Dora Desk', email: 'dora@example.com', extension: '1101', login: 'dora', password: 'dora-pass',
  phone: 'sip', sipPassword: 'dora-sip-secret-1',
};
const walt = { name: 'Walt Web', email: 'walt@example.com', extension: '1102', login: 'walt', password: 'walt-pass' };

/** The SIP settings of a `dl.sip-settings` on the page, by key. */
async function sipSettings(scope) {
  const out = {};
  for (const dd of await scope.locator('dl.sip-settings dd').all()) {
    out[await dd.getAttribute('data-sip')] = (await dd.textContent()).trim();
  }
  return out;
}

test('a desk-phone user: SIP settings, registration state, click-to-call through baresip', {
  skip: CALLS && haveBaresip() ? false : 'needs DEMO_E2E_CALLS and baresip',
}, async (t) => {
  const server = await startServer(ADMIN_PASSWORD);
  t.after(() => server.stop());
  assert.ok(server.sip, 'the server printed its SIP listener');

  // ---- the administrator creates a desk-phone user and a web-phone user -------------------
  const adm = await browser();
  t.after(() => adm.close());
  const page = adm.page;
  await page.goto(`${server.base}/#/admin`);
  await page.getByLabel('Administrator password').fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('link', { name: 'Users' }).click();
  await page.getByRole('heading', { name: 'New SPA user' }).waitFor();
  // The SIP password field appears only for a desk phone.
  assert.equal(await page.getByLabel('Desk phone password').isVisible(), false);
  await page.getByLabel('Desk phone (SIP)').check();
  assert.equal(await page.getByLabel('Desk phone password').isVisible(), true);
  await page.getByLabel('Browser phone (WebRTC, in this SPA)').check();
  assert.equal(await page.getByLabel('Desk phone password').isVisible(), false);

  assert.match(await createUser(page, dora), /Dora Desk created/);
  const card = page.getByRole('region', { name: 'Desk phone settings' });
  await card.waitFor();
  const shown = await sipSettings(card);
  assert.equal(shown.server, server.sip, 'the SIP server is the platform’s SIP listener');
  assert.equal(shown.domain, 'my-company.lo');
  assert.equal(shown.extension, '1101');
  assert.equal(shown.password, dora.sipPassword, 'the password typed is shown once');
  assert.match(shown.account, /^1101-[a-z0-9]{6}$/);
  assert.equal(shown.uri, 'sip:1101@my-company.lo');
  assert.match(shown.transport, /UDP.*TCP/);
  await shot(page, 'desk-01-created-settings');
  await page.getByRole('button', { name: 'Done' }).click();

  assert.match(await createUser(page, walt), /Walt Web created/);
  assert.equal(await card.isVisible(), false, 'no SIP settings for a web-phone user');
  const row = (name) => page.locator('table tbody tr', { hasText: name });
  await row('Walt Web').waitFor();
  assert.match(await row('Dora Desk').locator('td.phone-kind').textContent(), new RegExp(`Desk phone \\(SIP\\).*${shown.account}`));
  assert.equal(await row('Dora Desk').locator('.presence').getAttribute('data-state'), 'unregistered');
  assert.equal(await row('Walt Web').locator('td.phone-kind').textContent(), 'Browser');
  // The demo keeps no SIP password: the list has none.
  const users = (await page.evaluate(() => fetch('/demo/api/users').then((r) => r.json()))).items;
  assert.ok(!JSON.stringify(users).includes(dora.sipPassword));
  assert.deepEqual(users.map((u) => u.phone), ['sip', 'web']);

  // ---- Dora's Phone page, before her phone registers ---------------------------------------
  const d = await browser();
  t.after(() => d.close());
  await signIn(d.page, server.base, dora);
  const reg = d.page.locator('.desk-reg');
  assert.equal(await reg.getAttribute('data-state'), 'unregistered');
  assert.equal(await reg.textContent(), 'Desk phone not registered');
  const mine = await sipSettings(d.page);
  assert.deepEqual({ ...mine, password: undefined }, { ...shown, password: undefined });
  assert.notEqual(mine.password, dora.sipPassword, 'the page never shows the SIP password');
  assert.equal(await d.page.locator('.pad').count(), 0, 'no browser dial pad for a desk-phone user');
  await shot(d.page, 'desk-02-phone-unregistered');

  // ---- baresip registers with the settings the administrator was shown --------------------
  const phone = await startBaresip({
    extension: shown.extension, domain: shown.domain, account: shown.account,
    password: shown.password, server: shown.server, transport: 'udp',
  });
  t.after(() => phone.stop());
  await phone.waitOutput('200 OK () [1 binding]');
  await d.page.locator('.desk-reg[data-state="registered"]').waitFor({ timeout: 10000 });
  assert.equal(await reg.textContent(), 'Desk phone registered');
  assert.match(await d.page.locator('.registered-from').textContent(), /127\.0\.0\.1/);
  await shot(d.page, 'desk-03-phone-registered');
  await page.getByRole('button', { name: 'Refresh' }).click();
  await row('Dora Desk').locator('.presence[data-state="registered"]').waitFor({ timeout: 10000 });
  assert.equal(await row('Walt Web').locator('.presence').getAttribute('data-state'), 'unregistered');
  await shot(page, 'desk-04-users-registered');

  // ---- click-to-call: Dora's desk phone first, then Walt's web phone ----------------------
  const w = await browser({ width: 400, height: 800 });
  t.after(() => w.close());
  await signIn(w.page, server.base, walt);
  await d.page.getByLabel('Number to call').fill('1102');
  await d.page.getByRole('button', { name: 'Call via my desk phone' }).click();
  const reply = d.page.locator('.call-reply');
  await d.page.locator('.call-reply[data-state="ok"]').waitFor({ timeout: 10000 });
  assert.match(await reply.textContent(), /^The platform answered: call \S+\./);
  assert.ok(await reply.getAttribute('data-call-id'), 'POST /api/calls answered {id}');

  // The desk phone rings with the click-to-call INVITE asking it to answer at once (baresip
  // traces every SIP message it receives: `-s`).
  await phone.waitOutput('Incoming call from', 15000);
  const invite = phone.output.replace(/\r/g, '').match(/\nINVITE sip:\S+ SIP\/2\.0\n[\s\S]*?\n\n/);
  assert.ok(invite, `baresip traced the INVITE:\n${phone.tail()}`);
  assert.match(invite[0], /^Call-Info: <[^>]+>;answer-after=0/m, 'the INVITE asks the phone to answer at once');
  assert.match(invite[0], /^To: "Dora Desk" <sip:1101@my-company\.lo>/m);
  assert.match(invite[0], new RegExp(`^X-Webitel-Uuid: ${await reply.getAttribute('data-call-id')}$`, 'm'),
    'the call id POST /api/calls answered is the desk phone\'s leg');
  await d.page.locator('.desk-call[data-state="ringing"]').waitFor({ timeout: 10000 });
  await shot(d.page, 'desk-05-desk-phone-ringing');
  await phone.command('accept');
  await phone.waitEvent('CALL_ESTABLISHED');

  // Then Walt's web phone rings; he answers, and Dora's page shows them connected.
  await w.page.locator('.incoming .ring').waitFor({ timeout: 15000 });
  await w.page.getByRole('button', { name: 'Answer' }).click();
  await w.page.locator('.active-call[data-state="active"]').waitFor({ timeout: 15000 });
  await d.page.locator('.desk-call[data-state="bridged"]').waitFor({ timeout: 15000 });
  assert.match(await d.page.locator('.desk-call').textContent(), /Connected/);
  await d.page.waitForTimeout(1000);
  await shot(d.page, 'desk-06-connected');

  // Walt hangs up: the desk phone's call closes and Dora's page says the call ended.
  await w.page.getByRole('button', { name: 'Hang up' }).click();
  await phone.waitEvent('CALL_CLOSED');
  await d.page.locator('.desk-call[data-state="ended"]').waitFor({ timeout: 15000 });
  const log = await d.page.locator('.call-log li').evaluateAll((li) => li.map((e) => e.dataset.event));
  for (const e of ['ringing', 'active', 'hangup']) assert.ok(log.includes(e), `call events ${log} include ${e}`);
  assert.equal(await d.page.locator('.phone .msg-error').count(), 0, 'no errors on the desk-phone page');
  await shot(d.page, 'desk-07-ended');

  // Deleting Dora removes her desk phone's device from the platform too.
  const doraRow = users.find((u) => u.login === 'dora');
  page.once('dialog', (x) => x.accept());
  await page.getByRole('button', { name: 'Delete Dora Desk' }).click();
  assert.match(await message(page), /Dora Desk deleted/);
  assert.equal((await server.rest('GET', `/devices/${doraRow.device_id}`)).status, 404);
});
