// The Phone page of a user whose phone is a hardware desk phone: whether it is registered
// (asked of the demo backend, which asks the platform), its SIP settings, and click-to-call:
// `POST /api/calls` (Webitel's CreateCallRequest) with the user's own token rings the desk
// phone first (asked to answer at once), then the number. The call's progress comes from
// webitel-sdk's call events; no web phone is registered (`registerWebDevice: false`).

import { Client, type Call } from 'webitel-sdk';
import { api, restUrl, type Me, type MyPhone } from './api';
import { field, h, messages } from './dom';
import { sipSettingsList } from './sip';

/** How often the registration state is asked for while the page is open. */
const POLL_MS = 3000;

function describe(err: unknown): string {
  const e = err as { id?: string; message?: string; detail?: string } | null;
  if (!e) return 'unknown error';
  if (typeof e.id === 'string' && e.id.startsWith('app.session')) {
    return 'Your access token was revoked or has expired. Ask the administrator to re-create your user, then sign in again.';
  }
  return e.detail || e.message || String(err);
}

function cause(c: string | undefined): string {
  return (c ?? '').toLowerCase().replace(/_/g, ' ');
}

export class DeskPhone {
  readonly el: HTMLElement;
  private client: Client | null = null;
  private reg: HTMLElement;
  private where: HTMLElement;
  private settings: HTMLElement;
  private number: HTMLInputElement;
  private callButton: HTMLButtonElement;
  private reply: HTMLElement;
  private progress: HTMLElement;
  private log: HTMLElement;
  private msg = messages();
  private poll = 0;
  private stopped = false;
  private listeners: ((action: string, call: Call) => void)[] = [];

  constructor(private me: Me, private onAttention: () => void) {
    this.reg = h('p', { class: 'reg desk-reg', role: 'status', 'aria-live': 'polite', 'data-state': 'checking' }, 'Checking your desk phone…');
    this.where = h('p', { class: 'hint registered-from' });
    this.settings = h('section', { class: 'card', 'aria-label': 'Desk phone settings' }, h('h2', {}, 'Your desk phone'));
    this.number = h('input', { name: 'destination', type: 'tel', inputmode: 'tel', autocomplete: 'off', placeholder: 'extension or number', required: true });
    this.callButton = h('button', { type: 'submit', class: 'call' }, 'Call via my desk phone');
    this.reply = h('p', { class: 'call-reply', 'aria-live': 'polite', hidden: true });
    this.progress = h('p', { class: 'desk-call', role: 'status', 'aria-live': 'polite', hidden: true });
    this.log = h('ol', { class: 'call-log', 'aria-label': 'Call events' });
    const form = h(
      'form',
      { class: 'card click-to-call' },
      h('h2', {}, 'Call via my desk phone'),
      h('p', { class: 'hint' }, 'Your desk phone rings first (most phones answer by themselves); once it is answered, the number is dialled.'),
      field('Number to call', this.number),
      this.callButton,
      this.reply,
      this.progress,
      this.log,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.clickToCall();
    });
    this.el = h(
      'div',
      { class: 'phone desk' },
      h('h1', {}, 'Phone'),
      h('p', { class: 'who' }, `${me.name} · extension ${me.extension} · desk phone`),
      this.reg,
      this.where,
      this.msg,
      form,
      this.settings,
    );
  }

  async start(): Promise<void> {
    await this.refresh();
    this.poll = window.setInterval(() => void this.refresh(), POLL_MS);
    const client = new Client({
      endpoint: this.me.ws_endpoint.replace(/\/+$/, ''),
      token: this.me.token,
      // The user's phone is on their desk: no SIP-over-WebSocket phone in the browser.
      registerWebDevice: false,
      applicationName: 'switchboard-demo',
    });
    this.client = client;
    client.on('error', (e: Error) => this.msg.show('error', describe(e)));
    client.on('disconnected', (code: number, err: Error | null) => {
      if (code !== 1000 && !this.stopped) {
        this.onAttention();
        this.msg.show('error', err ? describe(err) : `The connection closed (code ${code}): call progress is not shown. Reload the page.`);
      }
    });
    try {
      await client.connect();
      await client.auth();
      await client.subscribeCall((action: string, call: Call) => this.onCall(action, call));
    } catch (err) {
      this.msg.show('error', `Call progress is not available: ${describe(err)}`);
    }
  }

  /** The SDK client once connected (the agent page shares its socket). */
  get sdk(): Client | null {
    return this.client;
  }

  onCallEvent(fn: (action: string, call: Call) => void): void {
    this.listeners.push(fn);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    window.clearInterval(this.poll);
    if (this.client) await this.client.destroy().catch(() => undefined);
    this.client = null;
  }

  /** The registration state and the settings, from the demo backend. */
  private async refresh(): Promise<void> {
    let p: MyPhone;
    try {
      p = await api<MyPhone>('GET', '/me/phone');
    } catch (err) {
      this.reg.dataset.state = 'unknown';
      this.reg.textContent = `Desk phone: state unknown (${(err as Error).message})`;
      return;
    }
    if (this.stopped) return;
    const before = this.reg.dataset.state;
    this.reg.dataset.state = p.reged ? 'registered' : 'unregistered';
    this.reg.textContent = p.reged ? 'Desk phone registered' : 'Desk phone not registered';
    const r = p.registrations[0];
    this.where.textContent = p.reged
      ? r ? `From ${r.received || r.contact}${r.user_agent ? ` (${r.user_agent})` : ''}.` : ''
      : 'Configure your phone with the settings below; this page updates when it registers.';
    if (p.sip && (before === 'checking' || this.settings.childElementCount < 2)) {
      this.settings.replaceChildren(
        h('h2', {}, 'Your desk phone'),
        sipSettingsList(p.sip, 'the one your administrator gave you'),
      );
    }
  }

  private async clickToCall(): Promise<void> {
    const destination = this.number.value.trim();
    if (!destination) return;
    this.msg.clear();
    this.log.replaceChildren();
    this.progress.hidden = true;
    this.callButton.disabled = true;
    this.reply.hidden = false;
    this.reply.dataset.state = 'sending';
    this.reply.textContent = `Asking the platform to call ${destination} through your desk phone…`;
    // Webitel's CreateCallRequest: `from` is this user, the platform rings their phone first.
    const body = { from: { id: this.me.user_id }, destination, params: {} };
    try {
      const res = await fetch(restUrl(this.me.rest_endpoint, 'calls'), {
        method: 'POST',
        headers: { 'X-Webitel-Access': this.me.token, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      let data: { id?: string; detail?: string; message?: string } = {};
      try {
        data = text ? JSON.parse(text) : {};
      } catch {
        data = { detail: text };
      }
      if (!res.ok) throw new Error(data.detail || data.message || `${res.status} ${res.statusText}`);
      this.reply.dataset.state = 'ok';
      this.reply.dataset.callId = data.id ?? '';
      this.reply.textContent = `The platform answered: call ${data.id ?? '(no id)'}. Your desk phone rings now.`;
    } catch (err) {
      this.reply.dataset.state = 'error';
      this.reply.textContent = `Not called: ${(err as Error).message}`;
    } finally {
      this.callButton.disabled = false;
    }
  }

  private party(call: Call): string {
    const name = call.displayName;
    const num = call.displayNumber || call.destination;
    return name && name !== num ? `${name} (${num})` : num || '';
  }

  private onCall(action: string, call: Call): void {
    for (const fn of this.listeners) fn(action, call);
    const party = this.party(call);
    let state: string;
    let text: string;
    switch (action) {
      case 'ringing':
        state = 'ringing';
        text = 'Your desk phone is ringing…';
        break;
      case 'active':
        state = 'active';
        text = 'Your desk phone answered: dialling…';
        break;
      case 'bridge':
        state = 'bridged';
        text = `Connected${party ? ` with ${party}` : ''}.`;
        break;
      case 'hold':
        state = call.isHold ? 'hold' : 'bridged';
        text = call.isHold ? 'On hold.' : 'Resumed.';
        break;
      case 'hangup':
        state = 'ended';
        text = `Call ended${call.hangupCause ? ` (${cause(call.hangupCause)})` : ''}.`;
        break;
      default:
        return;
    }
    this.progress.hidden = false;
    this.progress.dataset.state = state;
    this.progress.replaceChildren(
      h('span', {}, text),
      state !== 'ended'
        ? h('button', {
            type: 'button', class: 'hangup',
            onclick: () => call.hangup().catch((e: unknown) => this.msg.show('error', describe(e))),
          }, 'Hang up')
        : '',
    );
    this.log.append(h('li', { 'data-event': action }, `${new Date().toLocaleTimeString()} · ${action}${party ? ` · ${party}` : ''}`));
  }
}
