// Self-provisioning and auto-registration settings (administrators only): each setting's value
// and where it comes from (the configuration file, or a run-time change); a change is applied
// by the running service within seconds; "Use file value" drops a run-time change.

import { request, send } from './api.js';
import { h, field, form, action, announce, changed, show } from './ui.js';

const MODES = [['users', 'Users (self-service ID and PIN)'], ['users_and_admins', 'Users and administrators (authentication code)'], ['none', 'No authentication']];

function inputFor(s) {
  const label = {
    ivr_enabled: 'Self-provisioning IVR enabled',
    authentication_mode: 'Authentication mode',
    authentication_code: 'Authentication code',
    languages: 'Languages',
    auto_registration_enabled: 'Auto-registration enabled',
    auto_registration_udt: 'Auto-registration device template (UDT)',
    auto_registration_ult: 'Auto-registration line template (ULT)',
    dn_range_start: 'Auto-registration DN range start',
    dn_range_end: 'Auto-registration DN range end',
  }[s.name] || s.name;
  const from = `From the ${s.source === 'file' ? 'configuration file' : 'database (changed at run time)'}.`;
  switch (s.name) {
    case 'ivr_enabled': case 'auto_registration_enabled':
      return field(label, s.name, { type: 'checkbox', value: s.value, help: from });
    case 'authentication_mode':
      return field(label, s.name, { type: 'select', options: MODES, value: s.value, help: from });
    case 'authentication_code':
      return field(label, s.name, { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', help: `Now ${s.value}; leave empty to keep it. ${from}` });
    case 'languages':
      return field(label, s.name, { value: (s.value || []).join(', '), help: `Comma-separated, in the order the IVR offers them, e.g. en_US, fr_FR. ${from}` });
    default:
      return field(label, s.name, { value: s.value, help: from });
  }
}

/** What the form holds, in the API's types. */
function patchOf(v, before) {
  const now = { ...v };
  now.languages = v.languages.split(',').map((x) => x.trim()).filter(Boolean);
  const out = changed({ ...now, languages: now.languages.join(',') }, { ...before, languages: (before.languages || []).join(',') });
  if ('languages' in out) out.languages = now.languages;
  if (!v.authentication_code) delete out.authentication_code;
  return out;
}

export async function render(main, ctx) {
  const { data, etag } = await request('GET', '/settings');
  const before = Object.fromEntries(data.settings.map((s) => [s.name, s.value]));
  before.authentication_code = '';
  const fromDb = data.settings.filter((s) => s.source === 'database').map((s) => s.name);
  show(main,
    h('h1', { text: 'Settings' }),
    h('p', { class: `readiness ${data.ready ? 'ready' : 'off'}`, id: 'settings-status' },
      data.ready ? 'Ready' : `Not ready: ${data.reasons.join('; ')}`),
    form(data.settings.map(inputFor), 'Save', async (v) => {
      const patch = patchOf(v, before);
      if (!Object.keys(patch).length) { announce('Nothing changed'); return; }
      const r = await send('PATCH', '/settings', patch, etag);
      await render(main, ctx);
      announce(r.message || 'Saved');
    }, { id: 'settings-form' }),
    fromDb.length ? h('section', { 'aria-labelledby': 'reset-h' },
      h('h2', { id: 'reset-h', text: 'Run-time changes' }),
      h('p', { text: `Changed at run time: ${fromDb.join(', ')}.` }),
      action('Use the configuration file values again', async () => {
        const r = await send('POST', '/settings/reset', { names: ['all'] }, etag);
        await render(main, ctx);
        announce(r.message || 'Reset');
      }, { id: 'settings-reset' })) : null);
}
