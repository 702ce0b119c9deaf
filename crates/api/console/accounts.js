// API tokens (one's own; administrators see and revoke everyone's) and administrator accounts
// (administrators only): create, change role, unlock, delete; and one's own password.

import { get, send } from './api.js';
import { h, field, form, table, action, announce, showError, time, seg, show } from './ui.js';

const ROLES = [['administrator', 'administrator'], ['helpdesk', 'helpdesk'], ['read-only', 'read-only']];

async function tokens(ctx, reload) {
  const list = await get('/tokens');
  const secret = h('output', { id: 'token-secret' });
  const admin = ctx.can('administrator');
  return h('section', { 'aria-labelledby': 'tokens-h' },
    h('h2', { id: 'tokens-h', text: admin ? 'API tokens' : 'Your API tokens' }),
    table('API tokens', [
      ['ID', (t) => t.id], ['Owner', (t) => t.owner], ['Role', (t) => t.role],
      ['Description', (t) => t.description], ['Created', (t) => time(t.created_ms)],
      ['Expires', (t) => (t.expires_ms ? time(t.expires_ms) : 'never')],
      ['Last used', (t) => time(t.last_used_ms) || 'never'],
      ['', (t) => action('Revoke', async () => {
        if (!window.confirm(`Revoke token ${t.id} (${t.description})?`)) return;
        await send('DELETE', `/tokens/${seg(t.id)}`);
        announce(`Token ${t.id} revoked`);
        await reload();
      }, { 'aria-label': `Revoke token ${t.id}` })],
    ], list, 'No tokens.'),
    h('h3', { text: 'New token' }),
    form([
      field('Description', 'description', { required: true, placeholder: 'provisioning script' }),
      field('Expires in (days)', 'expires_in_days', { type: 'number', value: 90, help: '0: never.' }),
      field('Role', 'role', { type: 'select', options: [['', 'the owner’s'], ...ROLES] }),
      admin ? field('Owner', 'owner', { placeholder: ctx.who.name, help: 'Empty: you.' }) : null,
    ], 'Create token', async (v) => {
      const body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && x !== null));
      const t = await send('POST', '/tokens', body);
      await reload();
      const out = document.getElementById('token-secret');
      out.textContent = `Token ${t.id}: ${t.secret} — copy it now, it is not shown again.`;
      announce('Token created; it is shown once');
    }, { id: 'token-form' }),
    secret);
}

async function administrators(reload) {
  const list = await get('/accounts');
  return h('section', { 'aria-labelledby': 'admins-h' },
    h('h2', { id: 'admins-h', text: 'Administrator accounts' }),
    table('Administrator accounts', [
      ['Name', (a) => a.name],
      ['Role', (a) => {
        const f = field(`Role of ${a.name}`, 'role', { type: 'select', options: ROLES, value: a.role });
        f.querySelector('label').className = 'sr-only';
        f.querySelector('select').addEventListener('change', async (ev) => {
          try {
            await send('PATCH', `/accounts/${seg(a.name)}`, { role: ev.target.value });
            announce(`${a.name} is now ${ev.target.value}`);
          } catch (e) { ev.target.value = a.role; showError(e); }
        });
        return f;
      }],
      ['Locked', (a) => (a.locked_until_ms && a.locked_until_ms > Date.now() ? `until ${time(a.locked_until_ms)}` : 'no')],
      ['Created', (a) => time(a.created_ms)],
      ['', (a) => h('span', {},
        action('Unlock', async () => { await send('POST', `/accounts/${seg(a.name)}/unlock`); announce(`${a.name} unlocked`); await reload(); }, { 'aria-label': `Unlock ${a.name}` }),
        ' ',
        action('Delete', async () => {
          if (!window.confirm(`Delete the account ${a.name} and its tokens?`)) return;
          await send('DELETE', `/accounts/${seg(a.name)}`);
          announce(`${a.name} deleted`);
          await reload();
        }, { class: 'danger', 'aria-label': `Delete ${a.name}` }))],
    ], list),
    h('h3', { text: 'New administrator account' }),
    form([
      field('Name', 'name', { required: true }),
      field('Role', 'role', { type: 'select', options: ROLES, value: 'helpdesk' }),
      field('Password', 'password', { type: 'password', autocomplete: 'new-password', required: true, help: 'At least 12 characters.' }),
    ], 'Create account', async (v) => {
      await send('POST', '/accounts', v);
      announce(`Account ${v.name} created`);
      await reload();
    }, { id: 'account-form' }));
}

function ownPassword(ctx) {
  return h('section', { 'aria-labelledby': 'password-h' },
    h('h2', { id: 'password-h', text: 'Your password' }),
    form([field('New password', 'password', { type: 'password', autocomplete: 'new-password', required: true })],
      'Change password', async (v, f) => {
        await send('POST', `/accounts/${seg(ctx.who.name)}/password`, { password: v.password });
        f.reset();
        announce('Password changed');
      }, { id: 'password-form' }));
}

export async function render(main, ctx) {
  const reload = () => render(main, ctx);
  const parts = [await tokens(ctx, reload)];
  if (ctx.can('administrator')) parts.push(await administrators(reload));
  parts.push(ownPassword(ctx));
  show(main, h('h1', { text: 'Tokens and administrators' }), ...parts);
}
