// The dashboard: is the service Ready (or what is off), active calls, registrations, claims per
// minute and their outcome mix over the last hour (an SVG chart from the audit log), and the
// most recent outcomes. Refreshed every 15 seconds while shown.

import { get, serviceStatus } from './api.js';
import { h, table, time, show } from './ui.js';

const SVG = 'http://www.w3.org/2000/svg'; // a namespace name, not an address that is loaded
const MINUTES = 60;
const CLAIM_LIMIT = 10000;

function s(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/** A colour class per outcome: success, the user's mistake, or the system refusing. */
function tone(code) {
  if (code === 'SUCCESS') return 'ok';
  if (/INVALID|CREDENTIALS|LOCKED|NOT_FOUND/.test(code)) return 'warn';
  return 'bad';
}

/** Claims per minute for the last hour, stacked by outcome. */
function chart(claims, now) {
  const start = now - MINUTES * 60000;
  const buckets = Array.from({ length: MINUTES }, () => ({}));
  for (const c of claims) {
    const i = Math.floor((c.time_ms - start) / 60000);
    if (i < 0 || i >= MINUTES) continue;
    const code = c.code || 'UNKNOWN';
    buckets[i][code] = (buckets[i][code] || 0) + 1;
  }
  const max = Math.max(1, ...buckets.map((b) => Object.values(b).reduce((a, n) => a + n, 0)));
  const W = 600; const H = 160; const bw = W / MINUTES;
  const g = s('g', {});
  buckets.forEach((b, i) => {
    let y = H;
    for (const [code, n] of Object.entries(b).sort()) {
      const bh = (n / max) * (H - 10);
      y -= bh;
      const r = s('rect', { x: (i * bw + 1).toFixed(1), y: y.toFixed(1), width: (bw - 2).toFixed(1), height: bh.toFixed(1), class: `bar ${tone(code)}` },
        s('title', {}, `${MINUTES - i} min ago: ${n} × ${code}`));
      g.append(r);
    }
  });
  const total = claims.length;
  return s('svg', { viewBox: `0 0 ${W} ${H + 20}`, role: 'img', class: 'chart', 'aria-label': `Claims per minute over the last hour: ${total} in all, at most ${max} in one minute` },
    s('line', { x1: 0, y1: H, x2: W, y2: H, class: 'axis' }),
    g,
    s('text', { x: 0, y: H + 15, class: 'tick' }, '60 min ago'),
    s('text', { x: W, y: H + 15, class: 'tick end' }, 'now'),
    s('text', { x: 0, y: 10, class: 'tick' }, `${max}/min`));
}

function mix(claims) {
  const counts = {};
  for (const c of claims) counts[c.code || 'UNKNOWN'] = (counts[c.code || 'UNKNOWN'] || 0) + 1;
  const rows = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return table('Outcome mix, last hour', [
    ['Outcome', ([code]) => h('span', { class: `badge ${tone(code)}`, text: code })],
    ['Claims', ([, n]) => String(n)],
    ['Share', ([, n]) => `${Math.round((100 * n) / claims.length)} %`],
  ], rows, 'No claims in the last hour.');
}

async function draw(main) {
  const now = Date.now();
  const [status, calls, regs, claims] = await Promise.all([
    serviceStatus(),
    get('/live/calls').catch(() => null),
    get('/live/registrations').catch(() => null),
    get(`/audit?kind=claim&since=1h&limit=${CLAIM_LIMIT}`),
  ]);
  const ready = status.ready && !status.draining;
  show(main,
    h('h1', { text: 'Dashboard' }),
    h('section', { class: `readiness ${ready ? 'ready' : 'off'}`, 'aria-labelledby': 'ready-h' },
      h('h2', { id: 'ready-h', text: ready ? 'Ready' : (status.draining ? 'Draining' : 'Not ready') }),
      ready ? h('p', { text: `Accepting calls on ${status.sip_listen} · version ${status.version}` })
        : h('ul', {}, status.reasons.map((r) => h('li', { text: r })))),
    h('div', { class: 'cards' },
      h('div', { class: 'card' }, h('span', { class: 'label', text: 'Active calls' }),
        h('strong', { id: 'active-calls', text: `${status.active_calls} / ${status.max_calls}` })),
      h('div', { class: 'card' }, h('span', { class: 'label', text: 'Phones registered' }),
        h('strong', { text: regs ? String(regs.length) : '—' })),
      h('div', { class: 'card' }, h('span', { class: 'label', text: 'Claims, last hour' }),
        h('strong', { text: claims.length >= CLAIM_LIMIT ? `${CLAIM_LIMIT}+` : String(claims.length) })),
      h('div', { class: 'card' }, h('span', { class: 'label', text: 'Route point' }),
        h('strong', { text: status.registrations.map((r) => `${r.dn}: ${r.state}`).join(', ') || '—' }))),
    h('section', { 'aria-labelledby': 'chart-h' },
      h('h2', { id: 'chart-h', text: 'Claims per minute, last hour' }),
      chart(claims, now),
      mix(claims)),
    h('section', { 'aria-labelledby': 'recent-h' },
      h('h2', { id: 'recent-h', text: 'Recent outcomes' }),
      table('The last ten claims', [
        ['Time', (c) => time(c.time_ms)],
        ['Outcome', (c) => h('span', { class: `badge ${tone(c.code || '')}`, text: c.code || '' })],
        ['Device', (c) => (c.device ? h('a', { href: `#/devices/${encodeURIComponent(c.device)}`, text: c.device }) : '')],
        ['User', (c) => c.user || ''],
        ['Detail', (c) => c.detail],
      ], claims.slice(0, 10), 'No claims in the last hour.')),
    h('section', { 'aria-labelledby': 'calls-h' },
      h('h2', { id: 'calls-h', text: 'Calls in progress' }),
      calls === null ? h('p', { text: 'The service did not answer.' })
        : table('IVR calls in progress', [
          ['Device', (c) => c.device], ['From', (c) => c.source], ['Codec', (c) => c.codec],
          ['Language', (c) => c.language], ['Duration', (c) => `${Math.round(c.duration_s)} s`],
        ], calls, 'No calls.')));
}

export async function render(main) {
  await draw(main);
  const timer = setInterval(() => {
    // Keep the focus where the user is: redraw only when it is not inside the page.
    if (!main.contains(document.activeElement) || document.activeElement === main.querySelector('h1')) {
      draw(main).catch(() => {});
    }
  }, 15000);
  return () => clearInterval(timer);
}
