// The administrator's contact-center page: teams, skills, queues (with their skills and "the
// queue's number"), and the agents' teams and skills. Everything goes to the platform's
// /api/call_center/… through the demo backend, which holds the integration token.

import { api, cc, ccList, type QueueNumber, type Ref } from './api';
import { field, formValues, h, messages } from './dom';

interface Team {
  id: string;
  name: string;
  strategy?: string;
  max_no_answer?: number;
  no_answer_delay_time?: number;
  wrap_up_time?: number;
  call_timeout?: number;
}

interface Skill {
  id: string;
  name: string;
}

interface Queue {
  id: string;
  name: string;
  strategy?: string;
  team?: Ref | null;
  processing?: boolean;
  processing_sec?: number | string;
  payload?: { max_wait_time?: number } | null;
}

interface QueueSkill {
  id: string;
  skill?: Ref;
  lvl?: number;
  min_capacity?: number;
  max_capacity?: number;
}

interface AgentItem {
  id: string;
  name?: string;
  user?: Ref;
  status?: string;
  team?: Ref | null;
}

interface AgentSkill {
  id: string;
  skill?: Ref;
  capacity?: number;
}

const TEAM_STRATEGIES = ['longest-idle-agent', 'round-robin', 'fewest-calls', 'least-talk-time', 'top-down', 'random', 'skill-capacity'];
const QUEUE_STRATEGIES = ['fifo', 'lifo', 'strict_fifo'];
const QUEUE_FIELDS = ['id', 'name', 'strategy', 'team', 'processing', 'processing_sec', 'payload', 'enabled', 'priority', 'type']
  .map((f) => `fields=${f}`).join('&');

const num = (v: string | undefined, dflt = 0): number => (v === undefined || v.trim() === '' ? dflt : Number(v));

function input(name: string, type = 'text', extra: Record<string, string | boolean> = {}): HTMLInputElement {
  return h('input', { name, type, autocomplete: 'off', ...extra });
}

function select(name: string, options: [string, string][], extra: Record<string, string | boolean> = {}): HTMLSelectElement {
  return h('select', { name, ...extra }, ...options.map(([v, t]) => h('option', { value: v }, t)));
}

function table(caption: string, head: string[], rows: HTMLElement[]): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'hint' }, `No ${caption.toLowerCase()} yet.`);
  return h('div', { class: 'table-wrap' }, h('table', { class: caption.toLowerCase().replace(/\s+/g, '-') },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...rows)));
}

export async function ccPage(root: HTMLElement): Promise<void> {
  const msg = messages();
  const body = h('div');
  root.replaceChildren(h('h1', {}, 'Contact center'), msg, body);

  /** Runs a change, shows the new state, then says how it went. */
  async function change(what: string, fn: () => Promise<unknown>): Promise<void> {
    msg.show('info', `${what}…`);
    let outcome: [kind: 'ok' | 'error', text: string] = ['ok', `${what}: done.`];
    try {
      await fn();
    } catch (err) {
      outcome = ['error', `${what}: ${(err as Error).message}`];
    }
    try {
      await load();
    } catch (err) {
      outcome = ['error', `${outcome[1]} Reloading failed: ${(err as Error).message}`];
    }
    msg.show(...outcome);
  }

  const del = (label: string, what: string, fn: () => Promise<unknown>) =>
    h('button', { type: 'button', class: 'danger small', 'aria-label': label, onclick: () => void change(what, fn) }, 'Delete');

  async function load(): Promise<void> {
    const [teams, skills, queues, agents, numbers] = await Promise.all([
      ccList<Team>('teams?size=100'),
      ccList<Skill>('skills?size=100'),
      ccList<Queue>(`queues?size=100&${QUEUE_FIELDS}`),
      ccList<AgentItem>('agents?size=100'),
      api<{ items: QueueNumber[] }>('GET', '/queue-numbers').then((r) => r.items),
    ]);
    const [queueSkills, agentSkills] = await Promise.all([
      Promise.all(queues.map((q) => ccList<QueueSkill>(`queues/${q.id}/skills?size=100`).catch(() => []))),
      Promise.all(agents.map((a) => ccList<AgentSkill>(`agents/${a.id}/skills?size=100`).catch(() => []))),
    ]);
    const teamName = (id?: string) => teams.find((t) => t.id === id)?.name ?? '';
    const teamOptions: [string, string][] = teams.map((t) => [t.id, t.name]);
    const skillOptions: [string, string][] = skills.map((s) => [s.id, s.name]);
    const numberOf = new Map(numbers.map((n) => [n.queue_id, n.number]));
    body.replaceChildren(
      teamsSection(teams),
      skillsSection(skills),
      queuesSection(queues, queueSkills, teamOptions, skillOptions, numberOf, teamName),
      agentsSection(agents, agentSkills, teamOptions, skillOptions),
    );
  }

  function teamsSection(teams: Team[]): HTMLElement {
    const form = h('form', { class: 'card', 'aria-label': 'New team' },
      h('h3', {}, 'New team'),
      field('Team name', input('name', 'text', { required: true })),
      field('Strategy', select('strategy', TEAM_STRATEGIES.map((s) => [s, s]))),
      h('div', { class: 'grid' },
        field('Wrap-up time (s)', input('wrap_up_time', 'number', { min: '0', value: '10' })),
        field('Call timeout (s)', input('call_timeout', 'number', { min: '1', value: '30' })),
        field('No-answer limit', input('max_no_answer', 'number', { min: '0', value: '3' }), 'Missed offers before break-out; 0: no limit.'),
        field('No-answer delay (s)', input('no_answer_delay_time', 'number', { min: '0', value: '5' }))),
      h('button', { type: 'submit', class: 'primary' }, 'Create team'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = formValues(form);
      void change(`Creating team ${v.name}`, () => cc('POST', 'teams', {
        name: v.name, strategy: v.strategy,
        wrap_up_time: num(v.wrap_up_time), call_timeout: num(v.call_timeout, 30),
        max_no_answer: num(v.max_no_answer), no_answer_delay_time: num(v.no_answer_delay_time),
      }));
    });
    const rows = teams.map((t) => h('tr', { 'data-team': t.id },
      h('td', {}, t.name), h('td', {}, t.strategy ?? ''), h('td', {}, `${t.wrap_up_time ?? 0} s`),
      h('td', {}, `${t.call_timeout ?? 0} s`), h('td', {}, String(t.max_no_answer ?? 0)),
      h('td', {}, del(`Delete team ${t.name}`, `Deleting team ${t.name}`, () => cc('DELETE', `teams/${t.id}`)))));
    return h('section', { class: 'cc-section', 'aria-label': 'Teams' }, h('h2', {}, 'Teams'),
      table('Teams', ['Name', 'Strategy', 'Wrap-up', 'Call timeout', 'No-answer limit', ''], rows), form);
  }

  function skillsSection(skills: Skill[]): HTMLElement {
    const form = h('form', { class: 'row inline-form', 'aria-label': 'New skill' },
      field('Skill name', input('name', 'text', { required: true })),
      h('button', { type: 'submit', class: 'primary' }, 'Create skill'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = formValues(form);
      void change(`Creating skill ${v.name}`, () => cc('POST', 'skills', { name: v.name }));
    });
    const rows = skills.map((s) => h('tr', { 'data-skill': s.id }, h('td', {}, s.name),
      h('td', {}, del(`Delete skill ${s.name}`, `Deleting skill ${s.name}`, () => cc('DELETE', `skills/${s.id}`)))));
    return h('section', { class: 'cc-section', 'aria-label': 'Skills' }, h('h2', {}, 'Skills'), table('Skills', ['Name', ''], rows), form);
  }

  function queuesSection(
    queues: Queue[], queueSkills: QueueSkill[][], teamOptions: [string, string][], skillOptions: [string, string][],
    numberOf: Map<string, string>, teamName: (id?: string) => string,
  ): HTMLElement {
    const form = h('form', { class: 'card', 'aria-label': 'New queue' },
      h('h3', {}, 'New inbound queue'),
      field('Queue name', input('name', 'text', { required: true })),
      h('div', { class: 'grid' },
        field('Queue strategy', select('strategy', QUEUE_STRATEGIES.map((s) => [s, s]))),
        field('Queue team', select('team', [['', '— none —'], ...teamOptions]), 'Only this team’s agents take its calls.'),
        field('Processing (s)', input('processing_sec', 'number', { min: '0', value: '30' }), 'Wrap-up form time after a call; 0: none.'),
        field('Max wait (s)', input('max_wait_time', 'number', { min: '1', value: '60' }), 'Then the caller leaves the queue.'),
        field('Queue number', input('number', 'text', { inputmode: 'numeric', pattern: '[0-9]{1,15}' }), 'Optional: dialling it joins the queue.')),
      h('button', { type: 'submit', class: 'primary' }, 'Create queue'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const v = formValues(form);
      const sec = num(v.processing_sec);
      void change(`Creating queue ${v.name}`, async () => {
        const q = await cc<{ id: string }>('POST', 'queues', {
          name: v.name, type: 1, strategy: v.strategy, priority: 0, enabled: true,
          team: v.team ? { id: v.team } : undefined,
          processing: sec > 0, processing_sec: sec,
          payload: { max_wait_time: num(v.max_wait_time, 60) },
        });
        if (v.number?.trim()) await api('POST', '/queue-numbers', { queue_id: String(q.id), number: v.number.trim() });
      });
    });
    const skillForm = h('form', { class: 'card', 'aria-label': 'New queue skill' },
      h('h3', {}, 'Queue skill'),
      h('div', { class: 'grid' },
        field('Skill queue', select('queue', queues.map((q) => [q.id, q.name]), { required: true })),
        field('Queue skill', select('skill', skillOptions, { required: true })),
        field('Level', input('lvl', 'number', { min: '1', value: '1' }), 'Level 1 first; higher levels when too few agents.'),
        field('Min capacity', input('min_capacity', 'number', { min: '0', max: '100', value: '0' })),
        field('Max capacity', input('max_capacity', 'number', { min: '0', max: '100', value: '100' }))),
      h('button', { type: 'submit' }, 'Add skill to queue'));
    skillForm.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = formValues(skillForm);
      if (!v.queue || !v.skill) return;
      void change('Adding the queue skill', () => cc('POST', `queues/${v.queue}/skills`, {
        skill: { id: v.skill }, lvl: num(v.lvl, 1), min_capacity: num(v.min_capacity), max_capacity: num(v.max_capacity, 100), enabled: true,
      }));
    });
    const rows = queues.map((q, i) => {
      const number = numberOf.get(String(q.id));
      const numberCell = h('td', { class: 'queue-number' });
      if (number) {
        numberCell.append(h('strong', {}, number), ' ',
          h('button', { type: 'button', class: 'small', 'aria-label': `Remove number of ${q.name}`,
            onclick: () => void change(`Removing number ${number}`, () => api('DELETE', `/queue-numbers/${q.id}`)) }, 'Remove'));
      } else {
        const n = input('number', 'text', { inputmode: 'numeric', pattern: '[0-9]{1,15}', size: '6', 'aria-label': `Number for ${q.name}` });
        const f = h('form', { class: 'row' }, n, h('button', { type: 'submit', class: 'small' }, 'Give number'));
        f.addEventListener('submit', (e) => {
          e.preventDefault();
          if (n.value.trim()) void change(`Giving ${q.name} number ${n.value.trim()}`, () => api('POST', '/queue-numbers', { queue_id: String(q.id), number: n.value.trim() }));
        });
        numberCell.append(f);
      }
      const sec = Number(q.processing_sec ?? 0);
      return h('tr', { 'data-queue': q.id },
        h('td', {}, q.name), h('td', {}, q.strategy ?? ''), h('td', {}, q.team?.name || teamName(q.team?.id) || '—'),
        h('td', {}, q.processing ? `${sec} s` : 'none'), h('td', {}, `${q.payload?.max_wait_time ?? 60} s`),
        numberCell,
        h('td', {}, ...(queueSkills[i] ?? []).map((s) => h('span', { class: 'chip' },
          `${s.skill?.name ?? s.skill?.id} (lvl ${s.lvl ?? 1}, ${s.min_capacity ?? 0}–${s.max_capacity ?? 100})`,
          h('button', { type: 'button', class: 'link', 'aria-label': `Remove skill ${s.skill?.name ?? ''} from ${q.name}`,
            onclick: () => void change('Removing the queue skill', () => cc('DELETE', `queues/${q.id}/skills/${s.id}`)) }, '×')))),
        h('td', {}, del(`Delete queue ${q.name}`, `Deleting queue ${q.name}`, () => cc('DELETE', `queues/${q.id}`))));
    });
    return h('section', { class: 'cc-section', 'aria-label': 'Queues' }, h('h2', {}, 'Queues'),
      table('Queues', ['Name', 'Strategy', 'Team', 'Processing', 'Max wait', 'Number', 'Skills', ''], rows),
      form, queues.length && skillOptions.length ? skillForm : '');
  }

  function agentsSection(agents: AgentItem[], agentSkills: AgentSkill[][], teamOptions: [string, string][], skillOptions: [string, string][]): HTMLElement {
    const name = (a: AgentItem) => a.name || a.user?.name || `agent ${a.id}`;
    const rows = agents.map((a, i) => {
      const team = select('team', [['', '— none —'], ...teamOptions], { 'aria-label': `Team of ${name(a)}` });
      team.value = a.team?.id ?? '';
      team.addEventListener('change', () => void change(`Moving ${name(a)} to ${team.selectedOptions[0]?.text ?? 'no team'}`,
        () => cc('PATCH', `agents/${a.id}`, { team: team.value ? { id: team.value } : {} })));
      return h('tr', { 'data-agent': a.id },
        h('td', {}, name(a)), h('td', {}, a.status ?? ''), h('td', {}, team),
        h('td', {}, ...(agentSkills[i] ?? []).map((s) => h('span', { class: 'chip' }, `${s.skill?.name ?? s.skill?.id} (${s.capacity ?? 0})`,
          h('button', { type: 'button', class: 'link', 'aria-label': `Remove skill ${s.skill?.name ?? ''} from ${name(a)}`,
            onclick: () => void change('Removing the agent skill', () => cc('DELETE', `agents/${a.id}/skills/${s.id}`)) }, '×')))));
    });
    const form = h('form', { class: 'card', 'aria-label': 'New agent skill' },
      h('h3', {}, 'Agent skill'),
      h('div', { class: 'grid' },
        field('Skill agent', select('agent', agents.map((a) => [a.id, name(a)]), { required: true })),
        field('Agent skill', select('skill', skillOptions, { required: true })),
        field('Capacity', input('capacity', 'number', { min: '0', max: '100', value: '10' }))),
      h('button', { type: 'submit' }, 'Add skill to agent'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const v = formValues(form);
      if (!v.agent || !v.skill) return;
      void change('Adding the agent skill', () => cc('POST', `agents/${v.agent}/skills`, { skill: { id: v.skill }, capacity: num(v.capacity, 10), enabled: true }));
    });
    return h('section', { class: 'cc-section', 'aria-label': 'Agents' }, h('h2', {}, 'Agents'),
      h('p', { class: 'hint' }, 'Agents are made with their SPA users (Users page).'),
      table('Agents', ['Agent', 'Status', 'Team', 'Skills'], rows),
      agents.length && skillOptions.length ? form : '');
  }

  try {
    await load();
  } catch (err) {
    msg.show('error', `Cannot load the contact center: ${(err as Error).message}`);
  }
}
