// The audit log with filters (kind, object, device, user, actor, outcome code, time window):
// claims with their outcome codes, administrators' changes with before and after, fetches.

import { get, query } from './api.js';
import { h, field, table, searchForm, time, seg, show } from './ui.js';

const FILTERS = ['kind', 'object', 'device', 'user', 'actor', 'code', 'since', 'until', 'limit'];

function what(e) {
  if (e.kind === 'claim') return h('span', { class: `badge ${e.code === 'SUCCESS' ? 'ok' : 'bad'}`, text: e.code || '' });
  if (e.kind === 'change') return `${e.action || ''} ${e.object_kind || ''} ${e.object || ''}`.trim();
  return e.kind;
}

function changes(e) {
  if (!e.before && !e.after) return e.detail;
  return h('details', {}, h('summary', { text: e.detail || 'before and after' }),
    h('pre', { text: `before: ${JSON.stringify(e.before, null, 1)}\nafter:  ${JSON.stringify(e.after, null, 1)}` }));
}

export async function render(main, { params }) {
  const q = Object.fromEntries(FILTERS.map((f) => [f, params.get(f)]));
  if (!q.since && !q.until) q.since = '24h';
  if (!q.limit) q.limit = '200';
  const entries = await get(`/audit${query(q)}`);
  const shown = new URLSearchParams(Object.entries(q).filter(([, v]) => v));
  show(main,
    h('h1', { text: 'Audit' }),
    searchForm('audit', shown, [
      field('Kind', 'kind', { type: 'select', options: [['', 'any'], ['claim', 'claims'], ['change', 'changes'], ['fetch', 'configuration fetches']] }),
      field('Object', 'object', { placeholder: 'jsmith, SEP…' }),
      field('Device', 'device'),
      field('User', 'user'),
      field('Actor', 'actor', { placeholder: 'api:alice, ivr, cli:root' }),
      field('Outcome code', 'code', { placeholder: 'SUCCESS' }),
      field('Since', 'since', { help: 'e.g. 2h, 7d or 2025-01-31T08:00:00Z' }),
      field('Until', 'until'),
      field('At most', 'limit', { type: 'number' }),
    ]),
    h('p', { id: 'audit-count', text: `${entries.length} entries, newest first${entries.length >= Number(q.limit) ? ` (the first ${q.limit}; narrow the filters for more)` : ''}.` }),
    table('Audit entries', [
      ['Time', (e) => time(e.time_ms)],
      ['Actor', (e) => e.actor],
      ['What', what],
      ['Device', (e) => (e.device ? h('a', { href: `#/devices/${seg(e.device)}`, text: e.device }) : '')],
      ['User', (e) => (e.user ? h('a', { href: `#/users/${seg(e.user)}`, text: e.user }) : '')],
      ['Detail', changes],
    ], entries, 'No entry matches.'));
}
