// The demo backend's API (/demo/api/*): same origin, session in an HttpOnly cookie.

export class ApiError extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/demo/api${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { error: text };
  }
  if (!res.ok) {
    const msg = (data as { error?: string } | null)?.error ?? `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, msg);
  }
  return data as T;
}

export interface Session {
  role: 'admin' | 'user' | null;
  configured: boolean;
  name?: string;
  login?: string;
  /** An SPA user who is a contact-center agent. */
  agent?: boolean;
}

export interface Me {
  token: string;
  rest_endpoint: string;
  ws_endpoint: string;
  domain: string;
  use_stun: boolean;
  user_id: string;
  device_id: string;
  extension: string;
  name: string;
  login: string;
  /** `web`: the browser phone; `sip`: a hardware desk phone (calls by click-to-call). */
  phone: PhoneKind;
  /** The platform's contact-center agent id (a number, as webitel-sdk has it), when an agent. */
  agent_id?: number | null;
}

export type PhoneKind = 'web' | 'sip';

/** What a desk phone is configured with. */
export interface SipSettings {
  /** `host:port` of the SIP server (outbound proxy / registrar). */
  server: string;
  transports: string[];
  domain: string;
  /** The digest user name (auth id). */
  account: string;
  extension: string;
  uri: string;
  /** Only in the reply that created the user: the demo does not keep it. */
  password?: string;
}

export interface Registration {
  contact: string;
  received: string;
  user_agent: string;
  expires_at: number | null;
}

/** `GET /me/phone`: the signed-in user's phone as the platform sees it now. */
export interface MyPhone {
  phone: PhoneKind;
  device_id: string;
  reged: boolean;
  registrations: Registration[];
  sip?: SipSettings;
}

export interface SpaUser {
  id: number;
  login: string;
  name: string;
  email: string;
  extension: string;
  license: string;
  create_agent: boolean;
  user_id: string;
  device_id: string;
  created_at: number;
  phone: PhoneKind;
  account: string;
  /** The platform's contact-center agent, when the user is one. */
  agent_id?: string | null;
  /** Whether the device is registered now; null when the platform could not say. */
  reged?: boolean | null;
  /** Only when just created with a desk phone. */
  sip?: SipSettings;
}

export interface SettingsView {
  rest_endpoint: string;
  ws_endpoint: string;
  domain: string;
  use_stun: boolean;
  token_set: boolean;
  token_hint: string;
  saved: boolean;
}

export interface License {
  id: string;
  product: string;
  limit: number;
  remain: number;
}

/** `<rest endpoint>/<path>` whatever the endpoint's trailing slash. */
export function restUrl(restEndpoint: string, path: string): string {
  return `${restEndpoint.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/** A list reply of the platform (`items` is left out when empty). */
export interface Items<T> {
  items?: T[];
  next?: boolean;
}

/** A reference `{id, name}`; ids are strings in Webitel's REST. */
export interface Ref {
  id: string;
  name?: string;
}

/** The platform's `/api/call_center/<path>`, through the demo backend (administrator only). */
export function cc<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  return api<T>(method, `/cc/${path.replace(/^\/+/, '')}`, body);
}

/** `cc('GET', …)` of a list, as an array. */
export async function ccList<T>(path: string): Promise<T[]> {
  return (await cc<Items<T>>('GET', path)).items ?? [];
}

export interface QueueNumber {
  queue_id: string;
  number: string;
  schema_id: string;
  route_id: string;
}

/** `GET /demo/api/board`'s `board` events: the platform's `cc_queue_board`. */
export interface Board {
  queues?: BoardQueue[];
}

export interface BoardQueue {
  queue_id: number;
  name: string;
  priority?: number;
  enabled?: boolean;
  waiting: { attempt_id: number; number: string; name: string; state?: string; wait_sec: number }[];
  agents: { items: { agent_id: number; name: string; status: string; state: string }[] } & Record<string, unknown>;
}
