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
