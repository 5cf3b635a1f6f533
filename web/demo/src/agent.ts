// The Agent page of an SPA user who is a contact-center agent, over the phone's own
// webitel-sdk client (one socket): the agent's status through the SDK's Agent (online, pause
// with a reason, offline), the call channel's state, the task a queue offers with its queue and
// the caller's wait, answer and hang up on the paired call, then the wrap-up form
// (`task.reporting`) while the processing time runs, and the time until the next call.
// A reload restores all of it: the SDK reads the tasks back (cc_agent_tasks, subscribe_call).

import type { Agent, AgentSession, Call, Client, Task } from 'webitel-sdk';
import type { Board, Me } from './api';
import { h, messages } from './dom';

const STATUS_TEXT: Record<string, string> = {
  online: 'Online: calls from your queues come to you',
  pause: 'Paused',
  offline: 'Offline',
  break_out: 'Break-out: too many offers missed; go online again',
};

const CHANNEL_TEXT: Record<string, string> = {
  waiting: 'waiting for a call',
  distribute: 'a call is coming',
  offering: 'ringing',
  bridged: 'talking',
  processing: 'wrap-up (processing)',
  wrap_time: 'wrap-up time',
  missed: 'missed a call',
};

function seconds(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

function describe(err: unknown): string {
  const e = err as { id?: string; detail?: string; message?: string } | null;
  if (!e) return 'unknown error';
  if (e.id === 'User.valid.agent_id') return 'Your user is no contact-center agent (any more); ask the administrator.';
  return e.detail || e.message || String(err);
}

/** What a pause or other refused request returns instead of throwing (the SDK's habit). */
function failure(res: unknown): string | null {
  const e = res as { id?: string; detail?: string; message?: string; name?: string } | null;
  if (e && (res instanceof Error || typeof e.id === 'string')) return describe(e);
  return null;
}

/** One task's wrap-up form, kept across renders so that what is typed stays. */
interface WrapUp {
  form: HTMLFormElement;
  success: HTMLInputElement;
  comment: HTMLTextAreaElement;
}

export class AgentDesk {
  readonly el: HTMLElement;
  private agent: Agent | null = null;
  private msg = messages();
  private statusEl: HTMLElement;
  private channelEl: HTMLElement;
  private tasksEl: HTMLElement;
  private reason: HTMLInputElement;
  private buttons: Record<'online' | 'pause' | 'offline', HTMLButtonElement>;
  /** When each task's caller joined the queue (epoch ms, local clock). */
  private joined = new Map<number, number>();
  private wrapUps = new Map<number, WrapUp>();
  /** The end of the wrap-up time (or of a missed call's pause): the next call after it. */
  private nextCallAt = 0;
  private ticks: (() => void)[] = [];
  private timer = 0;

  constructor(private client: Client, private me: Me, private canAnswer: boolean, private onAttention: () => void) {
    this.statusEl = h('p', { class: 'agent-status', role: 'status', 'aria-live': 'polite', 'data-status': 'unknown' }, 'Connecting to the contact center…');
    this.channelEl = h('p', { class: 'channel-state', 'data-state': 'unknown' });
    this.tasksEl = h('div', { class: 'tasks', 'aria-live': 'polite' });
    this.reason = h('input', { name: 'pause_reason', id: 'pause-reason', autocomplete: 'off', placeholder: 'e.g. lunch' });
    const act = (label: string, cls: string, fn: () => Promise<unknown>) =>
      h('button', { type: 'button', class: cls, onclick: () => void this.run(fn) }, label);
    this.buttons = {
      online: act('Online', 'call status-online', () => this.need().online()),
      pause: act('Pause', 'status-pause', () => this.need().pause(this.reason.value.trim() || undefined)),
      offline: act('Offline', 'danger status-offline', () => this.need().offline()),
    };
    this.el = h(
      'div',
      { class: 'agent-desk' },
      h('h1', {}, 'Agent'),
      h('p', { class: 'who' }, `${me.name} · extension ${me.extension} · agent ${me.agent_id ?? ''}`),
      this.msg,
      h(
        'section',
        { class: 'card', 'aria-label': 'Agent status' },
        h('h2', {}, 'Status'),
        this.statusEl,
        h('div', { class: 'row' },
          this.buttons.online,
          h('label', { for: 'pause-reason' }, 'Pause reason'), this.reason, this.buttons.pause,
          this.buttons.offline),
        this.channelEl,
      ),
      this.tasksEl,
    );
  }

  private need(): Agent {
    if (!this.agent) throw new Error('not connected to the contact center yet');
    return this.agent;
  }

  private async run(fn: () => Promise<unknown>): Promise<void> {
    this.msg.clear();
    try {
      const refused = failure(await fn());
      if (refused) this.msg.show('error', refused);
    } catch (err) {
      this.msg.show('error', describe(err));
    }
    this.render();
  }

  async start(): Promise<void> {
    try {
      // Tasks come back with the session (cc_agent_tasks), calls with subscribe_call, which the
      // phone ran first: the SDK pairs them again after a reload.
      this.agent = await this.client.agentSession();
      this.client.subscribeTask((action, task) => this.onTask(action, task));
      await this.client.subscribeAgentsStatus(() => this.render(), { agent_id: this.agent.agentId });
      await this.refreshNextCall();
      for (const t of this.agent.task.values()) void this.lookupWait(t);
    } catch (err) {
      this.statusEl.dataset.status = 'failed';
      this.statusEl.textContent = 'Not connected to the contact center';
      this.msg.show('error', describe(err));
    }
    this.timer = window.setInterval(() => this.tick(), 1000);
    this.render();
  }

  stop(): void {
    window.clearInterval(this.timer);
  }

  /** A call event of the phone: the task's call changed. */
  onCall(call: Call): void {
    if (this.agent && [...this.agent.task.values()].some((t) => this.callOf(t) === call)) this.render();
  }

  /** Whether the call is one of this agent's queue calls. */
  owns(call: Call): boolean {
    return Boolean(call.task || call.queue?.queue_id || (this.agent && [...this.agent.task.values()].some((t) => t.agentChannelId === call.id)));
  }

  private onTask(action: string, task: Task | undefined): void {
    if (action === 'distribute' && task) {
      void this.lookupWait(task);
      this.onAttention();
    }
    if (action === 'wrap_time' || action === 'missed' || action === 'waiting') void this.refreshNextCall().then(() => this.render());
    if (task && (action === 'wrap_time' || action === 'waiting' || action === 'missed')) {
      this.wrapUps.delete(task.id);
      this.joined.delete(task.id);
    }
    this.render();
  }

  /** The caller's wait so far, from the live board (a Switchboard extra); else since the offer. */
  private async lookupWait(task: Task): Promise<void> {
    if (this.joined.has(task.id)) return;
    const asked = Date.now();
    this.joined.set(task.id, task.createdAt || asked);
    try {
      const board = (await this.client.request('cc_queue_board', { queue_id: task.queueId, subscribe: false })) as Board;
      const w = (board.queues ?? []).flatMap((q) => q.waiting).find((x) => x.attempt_id === task.id);
      if (w) this.joined.set(task.id, asked - w.wait_sec * 1000);
    } catch {
      // No board on this platform: the wait counts from the offer.
    }
    this.render();
  }

  /** The channel's timeout (end of wrap-up) as the platform tells it now. */
  private async refreshNextCall(): Promise<void> {
    try {
      const s = (await this.client.request('cc_agent_session')) as AgentSession;
      const call = (s.channels ?? []).find((c) => c.channel === 'call');
      this.nextCallAt = call && call.timeout && call.timeout > Date.now() ? call.timeout : 0;
    } catch {
      this.nextCallAt = 0;
    }
  }

  private callOf(task: Task): Call | undefined {
    return this.client
      .allCall()
      .find((c) => c.task === task || c.task?.id === task.id || (task.agentChannelId !== undefined && c.id === task.agentChannelId));
  }

  private tick(): void {
    for (const t of this.ticks) t();
    if (this.nextCallAt && this.nextCallAt <= Date.now()) {
      this.nextCallAt = 0;
      this.render();
    }
  }

  /** A text that the clock updates every second. */
  private live(cls: string, text: () => string): HTMLElement {
    const el = h('span', { class: cls }, text());
    this.ticks.push(() => {
      el.textContent = text();
    });
    return el;
  }

  private render(): void {
    this.ticks = [];
    const a = this.agent;
    if (!a) return;
    const status = a.status || 'offline';
    this.statusEl.dataset.status = status;
    this.statusEl.textContent = STATUS_TEXT[status] ?? status;
    if (status === 'pause' && a.statusPayload) this.statusEl.textContent += ` (${String(a.statusPayload)})`;
    this.buttons.online.disabled = status === 'online';
    this.buttons.offline.disabled = status === 'offline';

    const chan = a.channel;
    const state = chan?.state || 'waiting';
    this.channelEl.dataset.state = state;
    const next = this.nextCallAt;
    this.channelEl.replaceChildren(
      h('strong', {}, 'Call channel: '),
      h('span', { class: 'state' }, CHANNEL_TEXT[state] ?? state),
      next ? ' · ' : '',
      next ? this.live('next-call', () => `next call in ${seconds(next - Date.now())}`) : '',
    );

    const tasks = [...a.task.values()].filter((t) => t.channel === 'call' || t.channel === 'out_call');
    this.tasksEl.replaceChildren(...tasks.map((t) => this.taskCard(t)));
  }

  private taskCard(task: Task): HTMLElement {
    const call = this.callOf(task);
    const joined = this.joined.get(task.id) ?? task.createdAt;
    const caller = task.displayName && task.displayName !== task.displayNumber ? `${task.displayName} (${task.displayNumber})` : task.displayNumber;
    const ringing = Boolean(call && !call.answeredAt && !call.hangupAt && call.direction === 'inbound');
    const talking = Boolean(call && call.answeredAt && !call.hangupAt);
    const ended = !call || Boolean(call.hangupAt);
    const bridgedAt = task.bridgedAt || (call?.answeredAt ?? 0);
    const wait = this.live('task-wait', () =>
      bridgedAt ? `waited ${seconds(bridgedAt - joined)}` : `waiting ${seconds(Date.now() - joined)}`,
    );
    const processing = task.state === 'processing' && task._processing ? task._processing : null;
    const buttons: HTMLElement[] = [];
    if (ringing && this.canAnswer && call) {
      buttons.push(h('button', {
        type: 'button', class: 'answer',
        // answer() never settles (the SDK waits on JsSIP): the call's events tell.
        onclick: () => call.answer({ audio: true, video: false, disableStun: !this.me.use_stun }).catch((e: unknown) => this.msg.show('error', describe(e))),
      }, 'Answer'));
    }
    if (call && !ended) {
      buttons.push(h('button', {
        type: 'button', class: 'hangup',
        onclick: () => call.hangup().catch((e: unknown) => this.msg.show('error', describe(e))),
      }, ringing ? 'Decline' : 'Hang up'));
    }
    const showForm = ended && (processing !== null || task.allowReporting);
    return h(
      'section',
      { class: 'card task', 'data-state': task.state, 'data-attempt': String(task.id), 'aria-label': `Call from queue ${task.queue.name}` },
      h('h2', {}, h('span', { class: 'task-queue' }, task.queue.name), ' · ', h('span', { class: 'task-caller' }, caller || 'unknown caller')),
      h('p', {}, wait, ' · ', h('span', { class: 'task-call' }, ringing ? 'ringing' : talking ? 'connected' : ended ? 'call ended' : 'connecting…')),
      buttons.length ? h('div', { class: 'row' }, ...buttons) : '',
      processing && processing.timeout
        ? h('p', { class: 'processing' }, 'Wrap-up: ', this.live('processing-left', () => `${seconds((processing.timeout ?? 0) - Date.now())} left`))
        : '',
      showForm ? this.wrapUp(task).form : '',
    );
  }

  private wrapUp(task: Task): WrapUp {
    const known = this.wrapUps.get(task.id);
    if (known) return known;
    const success = h('input', { type: 'checkbox', id: `wrap-success-${task.id}`, name: 'success', checked: true });
    const comment = h('textarea', { id: `wrap-comment-${task.id}`, name: 'description', rows: 2 });
    const submit = h('button', { type: 'submit', class: 'primary' }, 'Submit wrap-up');
    const form = h(
      'form',
      { class: 'wrap-up' },
      h('h3', {}, 'Wrap-up'),
      h('div', { class: 'field check' }, success, h('label', { for: success.id }, 'The call was successful')),
      h('div', { class: 'field' }, h('label', { for: comment.id }, 'Comment'), comment),
      submit,
    );
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submit.disabled = true;
      void this.run(() => task.reporting({ success: success.checked, description: comment.value.trim() }))
        .finally(() => {
          submit.disabled = false;
        });
    });
    const w = { form, success, comment };
    this.wrapUps.set(task.id, w);
    return w;
  }
}
