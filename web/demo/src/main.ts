// The demo SPA: hash routes, pages by role (administrator or SPA user).

import './style.css';
import { api, type Me, type Session } from './api';
import type { Call } from 'webitel-sdk';
import { adminSignIn, settingsPage, usersPage } from './admin';
import { AgentDesk } from './agent';
import { boardPage, stopBoard } from './board';
import { ccPage } from './cc';
import { field, formValues, h, messages } from './dom';
import { historyPage } from './history';
import { DeskPhone } from './deskphone';
import { Phone } from './phone';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let session: Session = { role: null, configured: false };
let me: Me | null = null;
let phone: Phone | DeskPhone | null = null;
let desk: AgentDesk | null = null;
const phoneView = h('div');
const agentView = h('div');
const otherView = h('div');
main.replaceChildren(phoneView, agentView, otherView);

function go(route: string): void {
  if (location.hash === `#/${route}`) void render();
  else location.hash = `#/${route}`;
}

function link(route: string, text: string, current: string): HTMLElement {
  return h('a', { href: `#/${route}`, 'aria-current': route === current ? 'page' : undefined }, text);
}

async function signOut(): Promise<void> {
  await api('POST', '/logout').catch(() => undefined);
  desk?.stop();
  desk = null;
  if (phone) await phone.stop();
  phone = null;
  me = null;
  phoneView.replaceChildren();
  agentView.replaceChildren();
  session = await api<Session>('GET', '/session');
  go('signin');
}

function renderNav(route: string): void {
  const items: HTMLElement[] = [];
  if (session.role === 'admin') {
    items.push(link('settings', 'Settings', route), link('users', 'Users', route), link('cc', 'Contact center', route), link('board', 'Queue board', route));
  }
  if (session.role === 'user') {
    items.push(link('phone', 'Phone', route));
    if (session.agent) items.push(link('agent', 'Agent', route));
    items.push(link('history', 'History', route));
  }
  if (session.role) {
    items.push(h('button', { type: 'button', class: 'link', onclick: () => void signOut() }, 'Sign out'));
  } else {
    items.push(link('signin', 'Sign in', route), link('admin', 'Administrator', route));
  }
  nav.replaceChildren(...items);
}

function userSignIn(root: HTMLElement): void {
  const msg = messages();
  const form = h(
    'form',
    { class: 'card narrow' },
    field('Sign-in name', h('input', { name: 'username', required: true, autocomplete: 'username' })),
    field('Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    msg,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api('POST', '/login', formValues(form));
      session = await api<Session>('GET', '/session');
      go('phone');
    } catch (err) {
      msg.show('error', (err as Error).message);
    }
  });
  root.replaceChildren(
    h('h1', {}, 'Sign in'),
    session.configured ? '' : h('p', { class: 'msg msg-info' }, 'The demo is not configured yet: the administrator must save the settings first.'),
    form,
  );
}

/** An incoming call: a queue's call goes to the Agent page, any other to the Phone page. */
function attention(call?: Call): void {
  if (call && desk?.owns(call)) go('agent');
  else go('phone');
}

/** The phone (and, for an agent, the agent desk on the phone's socket) live as long as the
 * user's session, across the pages. */
async function ensurePhone(): Promise<void> {
  if (phone) return;
  me = await api<Me>('GET', '/me');
  // A desk-phone user calls by click-to-call; everyone else has the browser phone.
  const p = me.phone === 'sip' ? new DeskPhone(me, () => go('phone')) : new Phone(me, attention);
  phone = p;
  phoneView.replaceChildren(p.el);
  await p.start();
  if (me.agent_id && p.sdk) {
    desk = new AgentDesk(p.sdk, me, me.phone !== 'sip', () => go('agent'));
    const d = desk;
    p.onCallEvent((_action, call) => d.onCall(call));
    agentView.replaceChildren(d.el);
    await d.start();
  }
}

async function render(): Promise<void> {
  const route = location.hash.replace(/^#\/?/, '') || '';
  renderNav(route);
  const wanted = route || (session.role === 'admin' ? 'settings' : session.role === 'user' ? 'phone' : 'signin');
  if (wanted !== route) {
    go(wanted);
    return;
  }
  phoneView.hidden = route !== 'phone';
  agentView.hidden = route !== 'agent';
  otherView.hidden = route === 'phone' || route === 'agent';
  if (route !== 'board') stopBoard();
  try {
    switch (route) {
      case 'settings':
      case 'users':
      case 'cc':
      case 'board':
        if (session.role !== 'admin') return go('admin');
        if (route === 'settings') await settingsPage(otherView);
        else if (route === 'users') await usersPage(otherView);
        else if (route === 'cc') await ccPage(otherView);
        else await boardPage(otherView);
        break;
      case 'phone':
      case 'agent':
      case 'history':
        if (session.role !== 'user') return go('signin');
        otherView.replaceChildren();
        await ensurePhone();
        if (route === 'agent' && !desk) {
          otherView.hidden = false;
          otherView.replaceChildren(h('p', { class: 'msg msg-info' }, 'You are no contact-center agent; ask the administrator.'));
        }
        if (route === 'history' && me) await historyPage(otherView, me);
        break;
      case 'admin':
        adminSignIn(otherView, async () => {
          session = await api<Session>('GET', '/session');
          go(session.configured ? 'users' : 'settings');
        });
        break;
      default:
        userSignIn(otherView);
    }
  } catch (err) {
    otherView.hidden = false;
    otherView.replaceChildren(h('p', { class: 'msg msg-error', role: 'alert' }, (err as Error).message));
  }
  const titles: Record<string, string> = { cc: 'Contact center', board: 'Queue board' };
  document.title = `${titles[route] ?? `${route[0]?.toUpperCase() ?? ''}${route.slice(1)}`} · Switchboard demo`;
}

window.addEventListener('hashchange', () => void render());
void (async () => {
  session = await api<Session>('GET', '/session');
  await render();
})();
