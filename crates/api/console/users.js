// Users: server-side search (prefix or `*` wildcards on user ID, names, extension, self-service
// ID) with paging; create; edit (with If-Match, so a concurrent change is not lost); unlock;
// PIN reset (a generated PIN is shown once); delete.

import { request, send, listPage } from './api.js';
import { h, field, form, table, pager, searchForm, action, announce, changed, seg, show } from './ui.js';

const PAGE = 50;

const FIELDS = [
  ['First name', 'first_name'],
  ['Last name', 'last_name'],
  ['Primary extension', 'primary_extension', { inputmode: 'numeric' }],
  ['Self-service ID', 'self_service_id', { inputmode: 'numeric', help: 'What the user types on the phone; empty: the primary extension.' }],
  ['User profile', 'user_profile', { help: 'Empty: the system default profile.' }],
];

function inputs(u, disabled) {
  return [
    ...FIELDS.map(([label, name, o]) => field(label, name, { ...o, value: u[name], disabled })),
    field('Enabled', 'enabled', { type: 'checkbox', value: u.enabled, disabled }),
  ];
}

async function list(main, { params, can }) {
  const page = await listPage('/users', params, PAGE);
  show(main,
    h('h1', { text: 'Users' }),
    searchForm('users', params, [
      field('Search users', 'search', { placeholder: 'jsm, *smith, 1004', help: 'A prefix, or a pattern with *; user ID, names, extension, self-service ID.' }),
      field('Sort by', 'sort', { type: 'select', options: [['user_id', 'User ID'], ['last_name', 'Last name'], ['primary_extension', 'Extension']] }),
    ]),
    can('administrator') ? h('p', {}, h('a', { class: 'button', href: '#/users/+new', text: 'New user' })) : null,
    table('Users', [
      ['User ID', (u) => h('a', { href: `#/users/${seg(u.user_id)}`, text: u.user_id })],
      ['First name', (u) => u.first_name],
      ['Last name', (u) => u.last_name],
      ['Extension', (u) => u.primary_extension],
      ['Profile', (u) => u.user_profile || 'default'],
      ['Enabled', (u) => (u.enabled ? 'yes' : 'no')],
    ], page.items, 'No user matches.'),
    pager('users', params, page));
}

function create(main) {
  show(main,
    h('h1', { text: 'New user' }),
    form([
      field('User ID', 'user_id', { required: true }),
      ...inputs({ enabled: true }, false),
      field('PIN', 'pin', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', help: 'The PIN the user types at the phone.' }),
    ], 'Create user', async (v) => {
      const body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== ''));
      await send('POST', '/users', body);
      announce(`User ${v.user_id} created`);
      location.hash = `#/users/${seg(v.user_id)}`;
    }, { id: 'user-form' }));
}

async function detail(main, id, ctx) {
  const { data: u, etag } = await request('GET', `/users/${seg(id)}`);
  const admin = ctx.can('administrator');
  const reload = () => detail(main, id, ctx);
  const pinOut = h('output', { id: 'pin-output' });
  const locked = u.locked_until_ms && u.locked_until_ms > Date.now();
  show(main,
    h('h1', { text: `User ${u.user_id}` }),
    h('p', { class: 'lock' }, locked
      ? `Locked out until ${new Date(u.locked_until_ms).toLocaleString()} (${u.failed_attempts} wrong PINs).`
      : `Not locked; ${u.failed_attempts} wrong PINs in a row.`,
    ' ', h('a', { href: `#/devices?search=${seg(u.user_id)}`, text: 'Devices of this user' })),
    form(inputs(u, !admin), 'Save changes', async (v) => {
      const diff = changed(v, u);
      if (!Object.keys(diff).length) { announce('Nothing changed'); return; }
      await send('PATCH', `/users/${seg(id)}`, diff, etag);
      announce(`User ${id} saved`);
      await reload();
    }, { id: 'user-form', class: admin ? '' : 'readonly' }),
    ctx.can('helpdesk') ? h('section', { 'aria-labelledby': 'helpdesk-h' },
      h('h2', { id: 'helpdesk-h', text: 'Helpdesk' }),
      action('Unlock', async () => {
        await send('POST', `/users/${seg(id)}/unlock`);
        announce(`User ${id} unlocked`);
        await reload();
      }, { id: 'unlock' }),
      form([field('New PIN', 'pin', { type: 'password', inputmode: 'numeric', autocomplete: 'new-password', help: 'Empty: a random 6-digit PIN, shown once.' })],
        'Reset PIN', async (v) => {
          const r = await send('POST', `/users/${seg(id)}/reset-pin`, v.pin ? { pin: v.pin } : undefined);
          pinOut.textContent = r && r.pin ? `New PIN (shown once): ${r.pin}` : 'PIN set.';
          announce(`PIN of ${id} reset`);
        }, { id: 'pin-form' }),
      pinOut) : null,
    admin ? h('section', { 'aria-labelledby': 'danger-h' },
      h('h2', { id: 'danger-h', text: 'Delete' }),
      action(`Delete user ${id}`, async () => {
        if (!window.confirm(`Delete user ${id}?`)) return;
        await send('DELETE', `/users/${seg(id)}`, undefined, etag);
        announce(`User ${id} deleted`);
        location.hash = '#/users';
      }, { class: 'danger' })) : null);
}

export async function render(main, ctx) {
  const [, id] = ctx.path;
  if (id === '+new') return create(main);
  if (id) return detail(main, id, ctx);
  return list(main, ctx);
}
