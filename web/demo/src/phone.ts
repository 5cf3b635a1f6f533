// The web phone: webitel-sdk's Client with its JsSIP phone registered, and a UI for one call at
// a time plus an incoming-call panel.

import { Client, type Call } from 'webitel-sdk';
import type { Me } from './api';
import { field, h, messages } from './dom';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const LETTERS: Record<string, string> = {
  '2': 'ABC', '3': 'DEF', '4': 'GHI', '5': 'JKL', '6': 'MNO', '7': 'PQRS', '8': 'TUV', '9': 'WXYZ',
};

/** The SDK's WebSocket endpoint: no trailing slash (it appends `/websocket`). */
function sdkEndpoint(ws: string): string {
  return ws.replace(/\/+$/, '');
}

function describe(err: unknown): string {
  const e = err as { id?: string; name?: string; message?: string; detail?: string } | null;
  if (!e) return 'unknown error';
  if (e.id === 'device_not_allow' || e.name === 'NotAllowedError') {
    return 'The microphone is blocked. Allow microphone access for this site in the browser (the icon in the address bar), then try again.';
  }
  if (e.id === 'device_not_found' || e.name === 'NotFoundError') {
    return 'No microphone was found. Connect one and try again.';
  }
  if (e.id === 'api.context.permissions.license') {
    return 'Your user has no valid licence; ask the administrator.';
  }
  if (typeof e.id === 'string' && e.id.startsWith('app.session')) {
    return 'Your access token was revoked or has expired. Ask the administrator to re-create your user, then sign in again.';
  }
  return e.detail || e.message || String(err);
}

function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const m = Math.floor(s / 60);
  return `${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export class Phone {
  readonly el: HTMLElement;
  private client: Client | null = null;
  private calls = new Map<string, Call>();
  private since = new Map<string, number>();
  private dtmf = new Map<string, string>();
  private regState: HTMLElement;
  private number: HTMLInputElement;
  private callButton: HTMLButtonElement;
  private dialForm: HTMLFormElement;
  private padTitle: HTMLElement;
  private registered = false;
  private incoming: HTMLElement;
  private active: HTMLElement;
  private msg = messages();
  private timer = 0;
  /** Brings the phone page forward: an incoming call (given), or the connection lost. */
  private onAttention: (call?: Call) => void;
  /** Others that follow the calls (the agent page). */
  private listeners: ((action: string, call: Call) => void)[] = [];

  constructor(private me: Me, onAttention: (call?: Call) => void) {
    this.onAttention = onAttention;
    this.regState = h('p', { class: 'reg', role: 'status', 'aria-live': 'polite', 'data-state': 'connecting' }, 'Connecting…');
    this.number = h('input', {
      name: 'number', type: 'tel', inputmode: 'tel', autocomplete: 'off', placeholder: 'extension or number',
    });
    this.callButton = h('button', { type: 'submit', class: 'call', disabled: true }, 'Call');
    const pad = h(
      'div',
      { class: 'pad', role: 'group', 'aria-label': 'Dial pad' },
      ...KEYS.map((k) =>
        h(
          'button',
          { type: 'button', class: 'key', 'data-key': k, 'aria-label': k === '*' ? 'star' : k === '#' ? 'hash' : k, onclick: () => this.press(k) },
          k,
          h('small', { 'aria-hidden': 'true' }, LETTERS[k] ?? ' '),
        ),
      ),
    );
    this.padTitle = h('h2', {}, 'Dial');
    const numberField = field('Number to call', this.number);
    numberField.classList.add('number');
    const dial = h('form', { class: 'card dial', 'data-mode': 'dial' }, this.padTitle, numberField, pad, this.callButton);
    this.dialForm = dial;
    dial.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.dial();
    });
    this.incoming = h('section', { class: 'incoming', 'aria-live': 'assertive', hidden: true });
    this.active = h('section', { class: 'card active-call', 'aria-label': 'Current call', hidden: true });
    this.el = h(
      'div',
      { class: 'phone' },
      h('h1', {}, 'Phone'),
      h('p', { class: 'who' }, `${me.name} · extension ${me.extension}`),
      this.regState,
      this.msg,
      this.incoming,
      this.active,
      dial,
    );
  }

  private setReg(state: string, text: string): void {
    this.regState.dataset.state = state;
    this.regState.textContent = text;
    this.registered = state === 'registered';
    this.callButton.disabled = !this.registered || Boolean(this.current());
  }

  async start(): Promise<void> {
    const client = new Client({
      endpoint: sdkEndpoint(this.me.ws_endpoint),
      token: this.me.token,
      registerWebDevice: true,
      applicationName: 'switchboard-demo',
    });
    this.client = client;
    client.on('phone_registered', (ok: boolean) =>
      this.setReg(ok ? 'registered' : 'unregistered', ok ? 'Phone registered: ready for calls' : 'Phone not registered'),
    );
    client.on('error', (e: Error) => this.msg.show('error', describe(e)));
    client.on('disconnected', (code: number, err: Error | null) => {
      this.setReg('disconnected', 'Disconnected from the server');
      if (code !== 1000) {
        this.onAttention();
        this.msg.show(
          'error',
          err ? describe(err) : `The connection closed (code ${code}). If your user was deleted or its token revoked, ask the administrator; otherwise reload the page.`,
        );
      }
    });
    try {
      await client.connect();
      this.setReg('connecting', 'Signing in to the platform…');
      await client.auth();
      this.setReg('registering', 'Registering the phone…');
      await client.subscribeCall((action: string, call: Call) => this.onCall(action, call));
    } catch (err) {
      this.setReg('failed', 'Not connected');
      this.msg.show('error', describe(err));
    }
  }

  /** The SDK client once connected (the agent page shares its socket and phone). */
  get sdk(): Client | null {
    return this.client;
  }

  onCallEvent(fn: (action: string, call: Call) => void): void {
    this.listeners.push(fn);
  }

  async stop(): Promise<void> {
    window.clearInterval(this.timer);
    if (this.client) await this.client.destroy().catch(() => undefined);
    this.client = null;
  }

  /** A key of the pad: DTMF during an answered call, otherwise a digit of the number. */
  press(key: string): void {
    const call = this.current();
    if (call && call.answeredAt && !call.hangupAt) {
      call.sendDTMF(key).catch((e: unknown) => this.msg.show('error', describe(e)));
      this.dtmf.set(call.id, `${this.dtmf.get(call.id) ?? ''}${key}`);
      const sent = this.active.querySelector('.dtmf-sent');
      if (sent) sent.textContent = this.dtmf.get(call.id) ?? '';
      return;
    }
    this.number.value += key;
    this.number.focus();
  }

  private async dial(): Promise<void> {
    const destination = this.number.value.trim();
    if (!destination || !this.client) return;
    this.msg.clear();
    try {
      await this.client.call({ destination, params: { audio: true, video: false, disableStun: !this.me.use_stun } });
    } catch (err) {
      this.msg.show('error', describe(err));
    }
  }

  /** The call on screen: the newest one that is not ringing in. */
  private current(): Call | undefined {
    const live = [...this.calls.values()].filter((c) => !c.hangupAt && !(c.direction === 'inbound' && !c.answeredAt));
    return live[live.length - 1];
  }

  private onCall(action: string, call: Call): void {
    if (action === 'hangup') {
      this.calls.delete(call.id);
      this.since.delete(call.id);
      this.dtmf.delete(call.id);
      const cause = call.hangupCause ? ` (${call.hangupCause.toLowerCase().replace(/_/g, ' ')})` : '';
      this.msg.show('info', `Call with ${this.party(call)} ended${cause}.`);
    } else {
      this.calls.set(call.id, call);
      // Timed from the first event that shows the call answered (local clock: no skew).
      if (call.answeredAt && !this.since.has(call.id)) this.since.set(call.id, Date.now());
      if (action === 'active' || action === 'bridge') this.attachAudio(call);
    }
    this.render();
    if (action === 'ringing' && call.direction === 'inbound') this.onAttention(call);
    for (const fn of this.listeners) fn(action, call);
  }

  private party(call: Call): string {
    const name = call.displayName;
    const num = call.displayNumber || call.destination;
    return name && name !== num ? `${name} (${num})` : num || 'unknown';
  }

  private attachAudio(call: Call): void {
    const audio = document.getElementById('remote-audio') as HTMLAudioElement | null;
    const streams = call.peerStreams;
    if (audio && streams && streams.length > 0) {
      audio.srcObject = streams[0];
      audio.play().catch(() => undefined);
    }
  }

  private render(): void {
    const ringing = [...this.calls.values()].filter((c) => c.direction === 'inbound' && !c.answeredAt && !c.hangupAt);
    this.incoming.hidden = ringing.length === 0;
    this.incoming.replaceChildren(
      ...ringing.map((c) =>
        h(
          'div',
          { class: 'card ring', role: 'group', 'aria-label': `Incoming call from ${this.party(c)}` },
          h('p', {}, h('strong', {}, 'Incoming call'), ` from ${this.party(c)}`),
          h(
            'div',
            { class: 'row' },
            h('button', {
              type: 'button', class: 'answer',
              onclick: () => {
                // answer() never settles (the SDK waits on JsSIP); the `active` event tells.
                c.answer({ audio: true, video: false, disableStun: !this.me.use_stun }).catch((e: unknown) => this.msg.show('error', describe(e)));
              },
            }, 'Answer'),
            h('button', {
              type: 'button', class: 'decline',
              onclick: () => c.hangup('USER_BUSY').catch((e: unknown) => this.msg.show('error', describe(e))),
            }, 'Decline'),
          ),
        ),
      ),
    );
    if (ringing.length > 0) (this.incoming.querySelector('button.answer') as HTMLButtonElement | null)?.focus();

    const call = this.current();
    const inCall = Boolean(call && call.answeredAt);
    this.dialForm.dataset.mode = inCall ? 'dtmf' : 'dial';
    this.padTitle.textContent = inCall ? 'Keypad: sends tones to the call' : 'Dial';
    (this.dialForm.querySelector('.number') as HTMLElement).hidden = inCall;
    this.callButton.hidden = inCall;
    this.callButton.disabled = !this.registered || Boolean(call);
    window.clearInterval(this.timer);
    if (!call) {
      this.active.hidden = true;
      this.active.replaceChildren();
      return;
    }
    const state = call.isHold ? 'on hold' : call.answeredAt ? 'connected' : 'calling…';
    const timer = h('span', { class: 'timer', 'aria-label': 'Call duration' }, '00:00');
    const tick = () => {
      const start = this.since.get(call.id);
      timer.textContent = start ? clock(Date.now() - start) : '00:00';
    };
    tick();
    this.timer = window.setInterval(tick, 1000);
    const act = (label: string, cls: string, fn: () => Promise<unknown>, disabled = false) =>
      h('button', {
        type: 'button', class: cls, disabled,
        onclick: () => fn().catch((e: unknown) => this.msg.show('error', describe(e))).finally(() => this.render()),
      }, label);
    const answered = Boolean(call.answeredAt);
    const transferTo = h('input', { name: 'transfer', type: 'tel', inputmode: 'tel', autocomplete: 'off' });
    const transfer = h('form', { class: 'transfer' }, field('Transfer to', transferTo), h('button', { type: 'submit', disabled: !answered }, 'Transfer'));
    transfer.addEventListener('submit', (e) => {
      e.preventDefault();
      const to = transferTo.value.trim();
      if (to) call.blindTransfer(to).catch((err: unknown) => this.msg.show('error', describe(err)));
    });
    this.active.hidden = false;
    this.active.dataset.state = call.isHold ? 'hold' : answered ? 'active' : 'dialing';
    this.active.replaceChildren(
      h('h2', {}, this.party(call)),
      h('p', { class: 'call-state' }, h('span', { class: 'state' }, state), ' · ', timer),
      h(
        'div',
        { class: 'row' },
        call.isHold
          ? act('Resume', 'hold', () => call.unHold(), !answered)
          : act('Hold', 'hold', () => call.hold(), !answered),
        act(call.muted ? 'Unmute' : 'Mute', 'mute', () => call.mute(!call.muted), !answered),
        act('Hang up', 'hangup', () => call.hangup()),
      ),
      answered ? h('p', { class: 'hint' }, 'Tones sent: ', h('span', { class: 'dtmf-sent' }, this.dtmf.get(call.id) ?? '')) : '',
      transfer,
    );
  }
}
