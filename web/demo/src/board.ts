// The live queue board (administrator): per queue the calls waiting with their wait time and the
// agents by status and call state. The demo backend relays the platform's `cc_queue_board`
// events (Server-Sent Events from /demo/api/board): updated from events, not polled.

import { api, type Board, type BoardQueue, type QueueNumber } from './api';
import { h, messages } from './dom';

let source: EventSource | null = null;
let clock = 0;

/** Ends the board's event stream (when the page is left). */
export function stopBoard(): void {
  source?.close();
  source = null;
  window.clearInterval(clock);
}

function since(sec: number, receivedAt: number): string {
  const s = Math.max(0, Math.round(sec + (Date.now() - receivedAt) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const COUNTS: [string, string][] = [
  ['online', 'online'], ['pause', 'paused'], ['offline', 'offline'],
  ['waiting', 'free'], ['offering', 'ringing'], ['bridged', 'talking'],
  ['processing', 'wrap-up form'], ['wrap_time', 'wrap-up time'], ['missed', 'missed'],
];

function queueCard(q: BoardQueue, numbers: Map<string, string>, receivedAt: number): HTMLElement {
  const number = numbers.get(String(q.queue_id));
  const waiting = q.waiting ?? [];
  const agents = q.agents?.items ?? [];
  return h(
    'section',
    { class: 'card board-queue', 'data-queue': String(q.queue_id), 'aria-label': `Queue ${q.name}` },
    h('h2', {}, q.name, number ? h('small', { class: 'hint' }, ` · number ${number}`) : '', q.enabled === false ? h('small', { class: 'hint' }, ' · disabled') : ''),
    h('p', { class: 'counts' }, ...COUNTS.map(([k, label]) =>
      h('span', { class: 'count', 'data-count': k }, `${label}: `, h('strong', {}, String(q.agents?.[k] ?? 0))))),
    h('h3', {}, `Waiting calls (${waiting.length})`),
    waiting.length === 0
      ? h('p', { class: 'hint none-waiting' }, 'Nobody is waiting.')
      : h('table', { class: 'waiting' },
          h('thead', {}, h('tr', {}, ...['Caller', 'Name', 'State', 'Waiting'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...waiting.map((w) =>
            h('tr', { 'data-attempt': String(w.attempt_id) },
              h('td', {}, w.number || '—'),
              h('td', {}, w.name || '—'),
              h('td', {}, w.state === 'offering' ? 'ringing an agent' : 'in queue'),
              h('td', { class: 'wait', 'data-wait': String(w.wait_sec), 'data-at': String(receivedAt) }, since(w.wait_sec, receivedAt)))))),
    h('h3', {}, `Agents (${agents.length})`),
    agents.length === 0
      ? h('p', { class: 'hint' }, 'No agent fits this queue (team and skills).')
      : h('table', { class: 'agents' },
          h('thead', {}, h('tr', {}, ...['Agent', 'Status', 'Call channel'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...agents.map((a) =>
            h('tr', { 'data-agent': String(a.agent_id), 'data-status': a.status, 'data-state': a.state },
              h('td', {}, a.name || `agent ${a.agent_id}`),
              h('td', {}, a.status),
              h('td', {}, a.state))))),
  );
}

export async function boardPage(root: HTMLElement): Promise<void> {
  stopBoard();
  const msg = messages();
  const live = h('p', { class: 'board-live', 'data-state': 'connecting', role: 'status' }, 'Connecting…');
  const list = h('div', { class: 'board' });
  root.replaceChildren(h('h1', {}, 'Queue board'), live, msg, list);
  const numbers = new Map<string, string>();
  try {
    for (const n of (await api<{ items: QueueNumber[] }>('GET', '/queue-numbers')).items) numbers.set(n.queue_id, n.number);
  } catch (err) {
    msg.show('error', (err as Error).message);
  }
  const es = new EventSource('/demo/api/board');
  source = es;
  es.addEventListener('board', (e) => {
    const board = JSON.parse((e as MessageEvent<string>).data) as Board;
    const at = Date.now();
    live.dataset.state = 'live';
    live.textContent = `Live · updated ${new Date(at).toLocaleTimeString()}`;
    msg.clear();
    const queues = board.queues ?? [];
    list.replaceChildren(...(queues.length ? queues.map((q) => queueCard(q, numbers, at)) : [h('p', {}, 'No queues yet.')]));
  });
  es.addEventListener('problem', (e) => {
    const { error } = JSON.parse((e as MessageEvent<string>).data) as { error: string };
    live.dataset.state = 'failed';
    live.textContent = 'Not live';
    msg.show('error', `The board is not live: ${error}`);
  });
  es.addEventListener('error', () => {
    if (live.dataset.state === 'live') {
      live.dataset.state = 'reconnecting';
      live.textContent = 'Reconnecting…';
    }
  });
  // Wait times run on between events.
  clock = window.setInterval(() => {
    for (const td of list.querySelectorAll<HTMLElement>('td.wait')) {
      td.textContent = since(Number(td.dataset.wait), Number(td.dataset.at));
    }
  }, 1000);
}
