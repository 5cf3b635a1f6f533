// A desk phone's SIP settings as a list the administrator (or the user) copies into the phone.

import type { SipSettings } from './api';
import { h } from './dom';

/** One `<dt>`/`<dd>` pair per setting; each value carries `data-sip` for tests and styling. */
export function sipSettingsList(sip: SipSettings, passwordText?: string): HTMLElement {
  const rows: [string, string, string][] = [
    ['SIP server', 'server', sip.server],
    ['Transport', 'transport', sip.transports.map((t) => t.toUpperCase()).join(' or ')],
    ['Domain', 'domain', sip.domain],
    ['User (authentication id)', 'account', sip.account],
    ['Password', 'password', sip.password ?? passwordText ?? ''],
    ['Extension', 'extension', sip.extension],
    ['Address of record', 'uri', sip.uri],
  ];
  return h(
    'dl',
    { class: 'sip-settings' },
    ...rows.flatMap(([label, key, value]) => [
      h('dt', {}, label),
      h('dd', { 'data-sip': key }, key === 'password' && sip.password === undefined ? h('em', {}, value) : h('code', {}, value)),
    ]),
  );
}
