// The demo SPA: hash routes, pages by role (administrator or SPA user).

import './style.css';
import { api, type Me, type Session } from './api';
import { adminSignIn, settingsPage, usersPage } from './admin';
import { field, formValues, h, messages } from './dom';
import { historyPage } from './history';
import { Phone } from './phone';

const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let session: Session = { role: null, configured: false };
let me: Me | null = null;
let phone: Phone | null = null;
const phoneView = h('div');
const otherView = h('div');
main.replaceChildren(phoneView, otherView);

function go(route: string): void {
  if (location.hash === `#/${route}`) void render();
  else location.hash = `#/${route}`;
}

function link(route: string, text: string, current: string): HTMLElement {
  return h('a', { href: `#/${route}`, 'aria-current': route === current ? 'page' : undefined }, text);
}

async function signOut(): Promise<void> {
  await api('POST', '/logout').catch(() => undefined);
  if (phone) await phone.stop();
  phone = null;
  me = null;
  phoneView.replaceChildren();
  session = await api<Session>('GET', '/session');
  go('signin');
}

function renderNav(route: string): void {
  const items: HTMLElement[] = [];
  if (session.role === 'admin') items.push(link('settings', 'Settings', route), link('users', 'Users', route));
  if (session.role === 'user') items.push(link('phone', 'Phone', route), link('history', 'History', route));
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

/** The phone lives as long as the user's session, across the Phone and History pages. */
async function ensurePhone(): Promise<void> {
  if (phone) return;
  me = await api<Me>('GET', '/me');
  phone = new Phone(me, () => go('phone'));
  phoneView.replaceChildren(phone.el);
  await phone.start();
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
  otherView.hidden = route === 'phone';
  try {
    switch (route) {
      case 'settings':
      case 'users':
        if (session.role !== 'admin') return go('admin');
        await (route === 'settings' ? settingsPage(otherView) : usersPage(otherView));
        break;
      case 'phone':
      case 'history':
        if (session.role !== 'user') return go('signin');
        otherView.replaceChildren();
        if (route === 'phone') await ensurePhone();
        else {
          await ensurePhone();
          if (me) await historyPage(otherView, me);
        }
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
  document.title = `${route[0]?.toUpperCase() ?? ''}${route.slice(1)} · Switchboard demo`;
}

window.addEventListener('hashchange', () => void render());
void (async () => {
  session = await api<Session>('GET', '/session');
  await render();
})();
