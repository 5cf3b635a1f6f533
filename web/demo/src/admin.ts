// The administrator's pages: the four settings, and the SPA users.

import { api, ccList, type License, type Ref, type SettingsView, type SpaUser } from './api';
import { field, formValues, h, messages } from './dom';
import { sipSettingsList } from './sip';

export async function settingsPage(root: HTMLElement): Promise<void> {
  const s = await api<SettingsView>('GET', '/settings');
  const msg = messages();
  const intro = h('p', {}, s.saved ? 'Saved settings.' : 'Defaults: this same server. Test and save them, or enter another platform.');
  const input = (name: string, value: string, type = 'text', extra: Record<string, string | boolean> = {}) =>
    h('input', { name, value, type, autocomplete: 'off', spellcheck: 'false', ...extra });
  const form = h(
    'form',
    { class: 'card', novalidate: true },
    field('REST API endpoint', input('rest_endpoint', s.rest_endpoint, 'url', { required: true }), 'e.g. https://cloud.webitel.com/api/'),
    field('WebSocket endpoint', input('ws_endpoint', s.ws_endpoint, 'url', { required: true }), 'e.g. wss://cloud.webitel.com/ws/'),
    field(
      'Integration token',
      input('integration_token', '', 'password', {
        placeholder: s.token_set ? `saved (${s.token_hint}); leave empty to keep it` : 'paste the token',
      }),
      'Kept by the demo backend; never sent to users’ browsers.',
    ),
    field("Users' domain", input('domain', s.domain, 'text', { required: true }), 'e.g. my-company.lo'),
    h(
      'div',
      { class: 'field check' },
      h('input', { type: 'checkbox', id: 'use-stun', name: 'use_stun', checked: s.use_stun }),
      h('label', { for: 'use-stun' }, 'Use STUN (Google’s public server) in browsers — needs internet access'),
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Test and save'),
    msg,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = formValues(form);
    msg.show('info', 'Testing the settings…');
    try {
      const r = await api<{ check: { name: string; domain: string; licenses: number } }>('PUT', '/settings', {
        rest_endpoint: v.rest_endpoint,
        ws_endpoint: v.ws_endpoint,
        integration_token: v.integration_token,
        domain: v.domain,
        use_stun: v.use_stun === 'on',
      });
      intro.textContent = 'Saved settings.';
      msg.show('ok', `Saved. The token works: ${r.check.name} in ${r.check.domain}, ${r.check.licenses} licence(s).`);
    } catch (err) {
      msg.show('error', `Not saved: ${(err as Error).message}`);
    }
  });
  root.replaceChildren(
    h('h1', {}, 'Settings'),
    intro,
    form,
  );
}

export async function usersPage(root: HTMLElement): Promise<void> {
  const msg = messages();
  const list = h('div', { class: 'table-wrap' });
  let licenses: License[] = [];
  try {
    licenses = (await api<{ items: License[] }>('GET', '/licenses')).items;
  } catch (err) {
    msg.show('error', (err as Error).message);
  }
  // Teams for a new agent; none when the platform has no contact center.
  const teams = await ccList<Ref>('teams?size=100').catch(() => [] as Ref[]);
  const licenseSelect = h(
    'select',
    { name: 'license' },
    ...licenses.map((l) => h('option', { value: l.id }, `${l.product} (${l.remain} of ${l.limit} free)`)),
  );
  const inp = (name: string, type = 'text', extra: Record<string, string | boolean> = {}) =>
    h('input', { name, type, autocomplete: 'off', ...extra });
  const radio = (value: string, label: string, checked = false) =>
    h(
      'div',
      { class: 'field check' },
      h('input', { type: 'radio', id: `phone-${value}`, name: 'phone', value, checked }),
      h('label', { for: `phone-${value}` }, label),
    );
  const sipPassword = inp('sip_password', 'password', { minlength: '8', autocomplete: 'new-password' });
  const sipPasswordField = field(
    'Desk phone password',
    sipPassword,
    'Typed into the phone. At least 8 characters; generated when empty. Shown once, after creation.',
  );
  sipPasswordField.hidden = true;
  const phoneChoice = h(
    'fieldset',
    { class: 'phone-kind' },
    h('legend', {}, 'Phone'),
    radio('web', 'Browser phone (WebRTC, in this SPA)', true),
    radio('sip', 'Desk phone (SIP)'),
    sipPasswordField,
  );
  phoneChoice.addEventListener('change', () => {
    const sip = (phoneChoice.querySelector('input[value=sip]') as HTMLInputElement).checked;
    sipPasswordField.hidden = !sip;
    if (!sip) sipPassword.value = '';
  });
  // The guide's optional step: a contact-center agent for the user, in a team if one is chosen.
  const agentBox = h('input', { type: 'checkbox', id: 'create-agent', name: 'create_agent' });
  const agentChoice = h('div', { class: 'field check' }, agentBox, h('label', { for: 'create-agent' }, 'Create a contact-center agent'));
  const agentTeamField = field(
    'Agent team',
    h('select', { name: 'agent_team' }, h('option', { value: '' }, '— none —'), ...teams.map((t) => h('option', { value: t.id }, t.name ?? t.id))),
    'A queue with a team takes only its agents.',
  );
  agentTeamField.hidden = true;
  agentBox.addEventListener('change', () => {
    agentTeamField.hidden = !agentBox.checked;
  });
  // The SIP settings of a desk phone just created: the only time its password is shown.
  const created = h('section', { class: 'card created', 'aria-label': 'Desk phone settings', hidden: true });
  const form = h(
    'form',
    { class: 'card' },
    h('h2', {}, 'New SPA user'),
    field('Name', inp('name', 'text', { required: true })),
    field('E-mail', inp('email', 'email')),
    field('Extension', inp('extension', 'text', { required: true, inputmode: 'numeric', pattern: '[0-9]{1,15}' })),
    field('Sign-in name', inp('login', 'text', { required: true })),
    field('Password', inp('password', 'password', { required: true, minlength: '6', autocomplete: 'new-password' }), 'At least 6 characters.'),
    field('Licence', licenseSelect),
    phoneChoice,
    agentChoice,
    agentTeamField,
    h('button', { type: 'submit', class: 'primary' }, 'Create user'),
  );

  async function refresh(): Promise<void> {
    const users = (await api<{ items: SpaUser[] }>('GET', '/users')).items;
    const presence = (u: SpaUser) => {
      const [state, text] = u.reged === true ? ['registered', 'registered'] : u.reged === false ? ['unregistered', 'not registered'] : ['unknown', 'unknown'];
      return h('span', { class: 'presence', 'data-state': state }, text);
    };
    if (users.length === 0) {
      list.replaceChildren(h('p', {}, 'No SPA users yet.'));
      return;
    }
    const rows = users.map((u) =>
      h(
        'tr',
        {},
        h('td', {}, u.name),
        h('td', {}, u.extension),
        h('td', {}, u.login),
        h(
          'td',
          { class: 'phone-kind', 'data-phone': u.phone },
          u.phone === 'sip' ? 'Desk phone (SIP)' : 'Browser',
          u.phone === 'sip' && u.account ? h('small', { class: 'hint account' }, ` ${u.account}`) : '',
        ),
        h('td', { class: 'reged' }, presence(u)),
        h('td', {}, u.user_id),
        h('td', {}, u.device_id),
        h('td', { class: 'agent' }, u.agent_id ? `agent ${u.agent_id}` : '—'),
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              class: 'danger',
              'aria-label': `Delete ${u.name}`,
              onclick: async () => {
                if (!confirm(`Delete ${u.name}? Their user, device, token${u.agent_id ? ' and agent' : ''} are removed from the platform.`)) return;
                msg.show('info', `Deleting ${u.name}…`);
                try {
                  await api('DELETE', `/users/${u.id}`);
                  msg.show('ok', `${u.name} deleted.`);
                } catch (err) {
                  msg.show('error', `Not deleted: ${(err as Error).message}`);
                }
                await refresh();
              },
            },
            'Delete',
          ),
        ),
      ),
    );
    list.replaceChildren(
      h(
        'table',
        {},
        h('caption', {}, `${users.length} SPA user(s)`),
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...['Name', 'Extension', 'Sign-in', 'Phone', 'Registered', 'User id', 'Device id', 'Agent', ''].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        h('tbody', {}, ...rows),
      ),
    );
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    const v = formValues(form);
    const button = form.querySelector('button[type=submit]') as HTMLButtonElement;
    button.disabled = true;
    msg.show('info', v.create_agent === 'on' ? 'Creating the device, the user, the token and the agent…' : 'Creating the device, the user and the token…');
    try {
      const u = await api<SpaUser>('POST', '/users', { ...v, create_agent: v.create_agent === 'on' });
      msg.show('ok', `${u.name} created: user ${u.user_id}, device ${u.device_id}${u.agent_id ? `, agent ${u.agent_id}` : ''}.`);
      if (u.sip) {
        created.hidden = false;
        created.replaceChildren(
          h('h2', {}, `Desk phone of ${u.name}`),
          h('p', {}, 'Configure the phone with these settings (SIP account, registrar and outbound proxy = the SIP server). ',
            h('strong', {}, 'Write the password down now: it is not shown again.')),
          sipSettingsList(u.sip),
          h('button', { type: 'button', onclick: () => { created.hidden = true; created.replaceChildren(); } }, 'Done'),
        );
      } else {
        created.hidden = true;
        created.replaceChildren();
      }
      form.reset();
      sipPasswordField.hidden = true;
      agentTeamField.hidden = true;
    } catch (err) {
      msg.show('error', `Not created: ${(err as Error).message}`);
    } finally {
      button.disabled = false;
    }
    await refresh();
  });
  const refreshButton = h('button', { type: 'button', class: 'refresh', onclick: () => void refresh().catch((err: unknown) => msg.show('error', (err as Error).message)) }, 'Refresh');
  root.replaceChildren(
    h('h1', {}, 'Users'),
    msg,
    created,
    form,
    h('div', { class: 'row heading' }, h('h2', {}, 'SPA users'), refreshButton),
    list,
  );
  await refresh();
}

export function adminSignIn(root: HTMLElement, done: () => void): void {
  const msg = messages();
  const form = h(
    'form',
    { class: 'card narrow' },
    field('Administrator password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    msg,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/admin/login', formValues(form));
      done();
    } catch (err) {
      msg.show('error', (err as Error).message);
    }
  });
  root.replaceChildren(
    h('h1', {}, 'Administrator sign-in'),
    h('p', {}, 'The password was printed when the server first started (also in demo-admin.password in its data folder).'),
    form,
  );
}
