// Devices: search by MAC (any notation, with * wildcards), name, DN or owner, with paging; a
// device's fields, its timeline (the audit entries about it, newest first), and what the
// helpdesk does to it: release back to auto-registration, move to another user.

import { request, get, send, listPage } from './api.js';
import { h, field, form, table, pager, searchForm, action, announce, time, seg, show } from './ui.js';

const PAGE = 50;

async function list(main, { params }) {
  const page = await listPage('/devices', params, PAGE);
  show(main,
    h('h1', { text: 'Devices' }),
    searchForm('devices', params, [
      field('Search devices', 'search', { placeholder: '00:11:22*, SEP0011…, 1004, jsmith', help: 'A MAC (any notation), device name, DN or owner; a prefix, or a pattern with *.' }),
      field('Sort by', 'sort', { type: 'select', options: [['name', 'Name'], ['dn', 'DN'], ['owner', 'Owner'], ['model', 'Model'], ['updated', 'Last change']] }),
    ]),
    table('Devices', [
      ['Name', (d) => h('a', { href: `#/devices/${seg(d.name)}`, text: d.name })],
      ['Model', (d) => d.model],
      ['DN', (d) => d.dn],
      ['Owner', (d) => (d.owner ? h('a', { href: `#/users/${seg(d.owner)}`, text: d.owner }) : '')],
      ['State', (d) => (d.auto_registered ? 'auto-registered' : 'provisioned')],
      ['Last change', (d) => time(d.updated_at * 1000)],
    ], page.items, 'No device matches.'),
    pager('devices', params, page));
}

/** One audit entry as a line of the timeline. */
function event(e) {
  const what = e.kind === 'claim' ? `claim: ${e.code || ''}`
    : e.kind === 'change' ? `${e.action || 'change'} ${e.object_kind || ''}`.trim() : e.kind;
  return h('li', { class: `event ${e.kind}` },
    h('time', { datetime: new Date(e.time_ms).toISOString(), text: time(e.time_ms) }),
    ' ', h('strong', { text: what }),
    h('span', { class: 'actor', text: ` by ${e.actor}` }),
    e.user ? h('span', { text: ` · user ${e.user}` }) : null,
    e.detail ? h('p', { text: e.detail }) : null);
}

async function detail(main, name, ctx) {
  const [{ data: d, etag }, history] = await Promise.all([
    request('GET', `/devices/${seg(name)}`),
    get(`/devices/${seg(name)}/history?limit=100`),
  ]);
  const reload = () => detail(main, name, ctx);
  const facts = [
    ['Model', d.model], ['Protocol', d.protocol], ['Class', d.class], ['DN', d.dn || '—'],
    ['Owner', d.owner || '—'], ['State', d.auto_registered ? 'auto-registered' : 'provisioned'],
    ['Device template', d.udt || '—'], ['Line template', d.ult || '—'],
    ['Description', d.description || '—'], ['Created', time(d.created_at * 1000)],
    ['Last change', time(d.updated_at * 1000)],
  ];
  show(main,
    h('h1', { text: `Device ${d.name}` }),
    h('dl', { class: 'facts', id: 'device-facts' }, facts.map(([k, v]) => [h('dt', { text: k }), h('dd', { text: v })])),
    ctx.can('helpdesk') ? h('section', { 'aria-labelledby': 'actions-h' },
      h('h2', { id: 'actions-h', text: 'Actions' }),
      action('Release', async () => {
        await send('POST', `/devices/${seg(name)}/release`, {});
        announce(`Device ${name} released`);
        await reload();
      }, { id: 'release', disabled: d.auto_registered && !d.owner }),
      form([field('Move to user', 'user_id', { required: true, help: 'The user ID of the new owner; the line gets a new secret.' })],
        'Move', async (v) => {
          await send('POST', `/devices/${seg(name)}/move`, { user_id: v.user_id });
          announce(`Device ${name} moved to ${v.user_id}`);
          await reload();
        }, { id: 'move-form', class: 'inline' }),
      ctx.can('administrator') ? action(`Delete device ${name}`, async () => {
        if (!window.confirm(`Delete device ${name}?`)) return;
        await send('DELETE', `/devices/${seg(name)}`, undefined, etag);
        announce(`Device ${name} deleted`);
        location.hash = '#/devices';
      }, { class: 'danger' }) : null) : null,
    h('section', { 'aria-labelledby': 'timeline-h' },
      h('h2', { id: 'timeline-h', text: 'Timeline' }),
      history.length ? h('ol', { class: 'timeline', id: 'timeline' }, history.map(event))
        : h('p', { text: 'Nothing recorded.' })));
}

export async function render(main, ctx) {
  const [, name] = ctx.path;
  return name ? detail(main, name, ctx) : list(main, ctx);
}
