// A tiny element builder: enough for a handful of pages without a framework.

type Attrs = Record<string, string | boolean | number | ((e: Event) => void) | undefined>;
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

let ids = 0;

/** A labelled input: the label's `for` always points at the input. */
export function field(label: string, input: HTMLInputElement | HTMLSelectElement, hint?: string): HTMLElement {
  if (!input.id) input.id = `f${++ids}`;
  const parts: Child[] = [h('label', { for: input.id }, label), input];
  if (hint) {
    const hintId = `${input.id}-hint`;
    input.setAttribute('aria-describedby', hintId);
    parts.push(h('small', { id: hintId, class: 'hint' }, hint));
  }
  return h('div', { class: 'field' }, ...parts);
}

/** A message area that screen readers announce. */
export type Messages = HTMLElement & { show(kind: 'ok' | 'error' | 'info', text: string): void; clear(): void };

export function messages(): Messages {
  const box = h('div', { class: 'messages', role: 'status', 'aria-live': 'polite' }) as unknown as Messages;
  box.show = (kind, text) => {
    box.replaceChildren(h('p', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : undefined }, text));
  };
  box.clear = () => box.replaceChildren();
  return box;
}

export function formValues(form: HTMLFormElement): Record<string, string> {
  const out: Record<string, string> = {};
  new FormData(form).forEach((v, k) => {
    out[k] = typeof v === 'string' ? v : '';
  });
  return out;
}
