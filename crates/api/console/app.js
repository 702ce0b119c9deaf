// The console's shell: login, the navigation for the logged-in role, and hash routing
// (`#/users?search=jsm`) to the page modules. Each page module exports `render(main, ctx)`
// where ctx = {path: [segments], params: URLSearchParams, who: {name, role}, can(need)}.

import { request, get, rememberSession, forgetSession, onUnauthenticated } from './api.js';
import { h, form, field, clearErrors, announce, show } from './ui.js';
import * as dashboard from './dashboard.js';
import * as users from './users.js';
import * as devices from './devices.js';
import * as objects from './objects.js';
import * as settings from './settings.js';
import * as importPage from './import.js';
import * as audit from './audit.js';
import * as accounts from './accounts.js';

// [route, label, module, role needed to see it]
const PAGES = [
  ['dashboard', 'Dashboard', dashboard, 'read'],
  ['users', 'Users', users, 'read'],
  ['devices', 'Devices', devices, 'read'],
  ['profiles', 'Profiles', objects, 'read'],
  ['templates', 'Templates', objects, 'read'],
  ['import', 'Import', importPage, 'administrator'],
  ['audit', 'Audit', audit, 'read'],
  ['settings', 'Settings', settings, 'administrator'],
  ['accounts', 'Tokens and administrators', accounts, 'read'],
];
const RANK = { 'read-only': 0, helpdesk: 1, administrator: 2 };
const NEED = { read: 0, helpdesk: 1, administrator: 2 };

let who = null;
let leave = null; // the current page's clean-up (timers)

const main = () => document.getElementById('main');
const can = (need) => who && RANK[who.role] >= NEED[need];

function showLogin(message) {
  who = null;
  forgetSession();
  document.getElementById('top').hidden = true;
  if (leave) { leave(); leave = null; }
  const m = main();
  show(m, h('section', { class: 'login' },
    h('h1', { text: 'Log in to selfprov' }),
    message ? h('p', { class: 'notice', text: message }) : null,
    form([
      field('Account name', 'name', { autocomplete: 'username', required: true }),
      field('Password', 'password', { type: 'password', autocomplete: 'current-password', required: true }),
    ], 'Log in', async (v) => {
      const { data } = await request('POST', '/session', { json: v });
      rememberSession(data);
      start(data);
    }, { id: 'login-form' }),
    h('p', { class: 'hint' },
      'First start: the account ', h('code', { text: 'admin' }), ' and its password in ',
      h('code', { text: '<data_dir>/initial-admin-password' }), ', or an account made with ',
      h('code', { text: 'selfprov admin create' }), '.')));
  m.querySelector('input').focus();
}

function start(info) {
  who = { name: info.name, role: info.role };
  const top = document.getElementById('top');
  top.hidden = false;
  document.getElementById('who').textContent = `${who.name} (${who.role})`;
  show(document.getElementById('nav'), h('ul', {},
    PAGES.filter(([, , , need]) => can(need)).map(([route, label]) =>
      h('li', {}, h('a', { href: `#/${route}`, 'data-route': route, text: label })))));
  if (!location.hash || location.hash === '#' || location.hash === '#/') location.hash = '#/dashboard';
  else route();
}

async function route() {
  if (!who) return;
  const [pathPart, queryPart] = location.hash.replace(/^#\/?/, '').split('?');
  const path = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(queryPart || '');
  const page = PAGES.find(([r]) => r === (path[0] || 'dashboard'));
  if (leave) { leave(); leave = null; }
  clearErrors();
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === path[0]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const m = main();
  if (!page) {
    show(m, h('h1', { text: 'Not found' }), h('p', { text: 'No such page.' }));
    return;
  }
  const [name, label, mod, need] = page;
  if (!can(need)) {
    show(m, h('h1', { text: label }),
      h('p', { class: 'refused', role: 'alert', text: `The ${label} page needs the ${need} role; you are ${who.role}.` }));
    return;
  }
  document.title = `${label} · selfprov`;
  show(m, h('p', { class: 'loading', text: 'Loading…' }));
  try {
    leave = await mod.render(m, { path, params, who, can, page: name }) || null;
  } catch (e) {
    show(m, h('h1', { text: label }), h('p', { class: 'error', role: 'alert', text: e.message }));
  }
  const heading = m.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await request('DELETE', '/session'); } catch { /* the session may have ended already */ }
  showLogin('You are logged out.');
  announce('Logged out');
  history.replaceState(null, '', '#/');
});

onUnauthenticated(() => { if (who) showLogin('Your session ended; log in again.'); });
window.addEventListener('hashchange', route);

// A reload keeps the session (the cookie); GET /session gives its anti-CSRF token again.
get('/session').then((info) => { rememberSession(info); start(info); })
  .catch(() => showLogin());
