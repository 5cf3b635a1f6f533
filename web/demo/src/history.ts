// The signed-in user's calls, straight from the platform's history API with the user's own
// token; recordings play in the page when a record has files.

import { restUrl, type Me } from './api';
import { h, messages } from './dom';

interface HistoryFile {
  id: string;
  name?: string;
  mime_type?: string;
}

interface HistoryCall {
  id: string;
  direction?: string;
  destination?: string;
  from?: { number?: string; name?: string };
  to?: { number?: string; name?: string };
  created_at?: string | number;
  answered_at?: string | number;
  duration?: number;
  bill_sec?: number;
  cause?: string;
  files?: HistoryFile[];
}

function when(v: string | number | undefined): string {
  const n = Number(v);
  return n > 0 ? new Date(n).toLocaleString() : '—';
}

function party(c: HistoryCall): string {
  const other = c.direction === 'inbound' ? c.from : c.to;
  const num = other?.number || c.destination || '';
  return other?.name && other.name !== num ? `${other.name} (${num})` : num || '—';
}

export async function historyPage(root: HTMLElement, me: Me): Promise<void> {
  const msg = messages();
  const days = h('select', { id: 'days', name: 'days' },
    h('option', { value: '1' }, 'last 24 hours'),
    h('option', { value: '7', selected: true }, 'last 7 days'),
    h('option', { value: '30' }, 'last 30 days'));
  const list = h('div', { class: 'table-wrap' });
  const base = me.rest_endpoint;

  async function load(): Promise<void> {
    const from = Date.now() - Number(days.value) * 86_400_000;
    const q = new URLSearchParams({ 'created_at.from': String(from), user_id: me.user_id, size: '100', sort: '-created_at' });
    msg.show('info', 'Loading…');
    try {
      const res = await fetch(restUrl(base, `calls/history?${q}`), { headers: { 'X-Webitel-Access': me.token } });
      const body = (await res.json().catch(() => ({}))) as { items?: HistoryCall[]; detail?: string };
      if (!res.ok) throw new Error(body.detail || `${res.status} ${res.statusText}`);
      const items = body.items ?? [];
      msg.clear();
      if (items.length === 0) {
        list.replaceChildren(h('p', {}, 'No calls in this period.'));
        return;
      }
      list.replaceChildren(
        h('table', { class: 'history' },
          h('caption', {}, `${items.length} call(s)`),
          h('thead', {}, h('tr', {}, ...['When', 'Direction', 'Other party', 'Talk time', 'Result', 'Recording'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, ...items.map((c) =>
            h('tr', { 'data-call-id': c.id },
              h('td', { 'data-label': 'When' }, when(c.created_at)),
              h('td', { 'data-label': 'Direction' }, c.direction ?? '—'),
              h('td', { 'data-label': 'Other party' }, party(c)),
              h('td', { 'data-label': 'Talk time' }, `${c.bill_sec ?? 0} s`),
              h('td', { 'data-label': 'Result' }, (c.cause ?? '').toLowerCase().replace(/_/g, ' ') || '—'),
              h('td', { 'data-label': 'Recording' }, (c.files ?? []).length === 0 ? '—' : '', ...(c.files ?? []).map((f) =>
                h('audio', {
                  controls: true, preload: 'none', 'aria-label': `Recording ${f.name ?? f.id}`,
                  src: restUrl(base, `storage/file/${encodeURIComponent(f.id)}/stream?access_token=${encodeURIComponent(me.token)}`),
                }))),
            )))));
    } catch (err) {
      msg.show('error', `Cannot load the history: ${(err as Error).message}`);
    }
  }

  days.addEventListener('change', () => void load());
  root.replaceChildren(
    h('h1', {}, 'History'),
    h('div', { class: 'row' },
      h('label', { for: 'days' }, 'Show'), days,
      h('button', { type: 'button', onclick: () => void load() }, 'Refresh')),
    msg,
    list,
  );
  await load();
}
