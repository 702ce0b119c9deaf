// The self-care portal (docs/self-care.md): an end user logs in with their self-service ID and
// PIN, sees their phones, releases one, sees the activation codes of phones prepared for them,
// changes their PIN. A client of /api/v1/self-care only,
// with its own session cookie (set by the service, HttpOnly) and anti-CSRF token (kept in
// sessionStorage) — never the administrators' console session. The console's DOM helpers and
// style sheet are reused; every text comes from texts.js in the user's language.

import { h, field, form, show, announce, clearErrors, showError } from '/console/ui.js';
import { Problem } from '/console/api.js';
import { LANGUAGES, textsFor } from './texts.js';

const API = '/api/v1/self-care';
const CSRF_KEY = 'selfprov.self-care.csrf';
const LANG_KEY = 'selfprov.self-care.language';

const stored = localStorage.getItem(LANG_KEY);
let { code: lang, t } = textsFor(stored ? [stored] : [...navigator.languages, navigator.language || 'en']);
let me = null;

const main = document.getElementById('main');

/** The problem's text in the user's language: by field, then by type, else the service's. */
function localized(status, p) {
  const slug = (p.type || '').replace('urn:selfprov:problem:', '');
  const text = (p.field && t.fields[p.field]) || t.errors[slug] || p.detail || `HTTP ${status}`;
  return new Problem(status, { ...p, detail: text });
}

/** A request to the portal's API: its JSON answer, or a thrown (localized) Problem. */
async function call(method, path, json) {
  const headers = { Accept: 'application/json' };
  if (json !== undefined) headers['Content-Type'] = 'application/json';
  const token = sessionStorage.getItem(CSRF_KEY);
  if (method !== 'GET' && token) headers['X-CSRF-Token'] = token;
  const r = await fetch(API + path, {
    method, headers, credentials: 'same-origin',
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const data = r.status === 204 ? null : await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = localized(r.status, data || {});
    if (r.status === 401 && path !== '/session') loggedOut(err.message);
    throw err;
  }
  return data;
}

function loggedOut(message) {
  me = null;
  sessionStorage.removeItem(CSRF_KEY);
  chrome();
  loginPage();
  if (message) showError(new Error(message));
}

/** The header: the user, the navigation, the language, log out. */
function chrome() {
  document.documentElement.lang = lang;
  document.title = t.title;
  document.getElementById('brand').textContent = t.title;
  document.getElementById('language-label').textContent = t.language;
  const nav = document.getElementById('nav');
  const route = location.hash.replace(/^#\//, '') || 'phones';
  const entries = [['phones', t.navPhones], ['codes', t.navCodes], ['pin', t.navPin]];
  show(nav, h('ul', {}, entries.map(([r, label]) => h('li', {},
    h('a', { href: `#/${r}`, text: label, 'data-route': r, 'aria-current': r === route ? 'page' : null })))));
  nav.hidden = !me;
  document.getElementById('who').textContent = me ? `${me.first_name} ${me.last_name}`.trim() || me.user_id : '';
  const out = document.getElementById('logout');
  out.textContent = t.logOut;
  out.hidden = !me;
}

function focusTitle() {
  const h1 = main.querySelector('h1');
  if (h1) { h1.tabIndex = -1; h1.focus(); }
}

function loginPage() {
  show(main, h('section', { class: 'login' },
    h('h1', { text: t.loginTitle }),
    h('p', { class: 'hint', text: t.loginHint }),
    form([
      field(t.selfServiceId, 'self_service_id', { required: true, autocomplete: 'username', inputmode: 'numeric' }),
      field(t.pin, 'pin', { type: 'password', required: true, autocomplete: 'current-password', inputmode: 'numeric' }),
    ], t.logIn, async (v) => {
      me = await call('POST', '/session', v);
      sessionStorage.setItem(CSRF_KEY, me.csrf_token);
      location.hash = '#/phones';
      await route();
    }, { id: 'login-form' })));
  main.querySelector('input').focus();
}

const fact = (label, value) => [h('dt', { text: label }), h('dd', { text: value || '—' })];

async function phonesPage() {
  const phones = await call('GET', '/phones');
  const list = h('ul', { class: 'phones' }, phones.map((p) => {
    const card = h('li', { class: 'phone', 'data-device': p.name },
      h('h2', { text: p.model }),
      h('dl', { class: 'facts' },
        fact(t.deviceName, p.name),
        fact(t.mac, p.mac),
        fact(t.extension, p.extension),
        fact(t.registration, p.registration ? t.registeredFrom(p.registration.source) : t.notRegistered)));
    const actions = h('div', { class: 'actions' });
    const ask = () => {
      const no = h('button', { type: 'button', class: 'secondary', text: t.cancel });
      const yes = h('button', { type: 'button', class: 'danger', text: t.releaseConfirm });
      const box = h('div', { class: 'confirm', role: 'group', 'aria-label': t.release },
        h('p', { text: t.releaseQuestion(p.name) }), h('div', { class: 'actions' }, yes, no));
      no.addEventListener('click', () => { box.remove(); start.hidden = false; start.focus(); });
      yes.addEventListener('click', async () => {
        clearErrors();
        yes.disabled = true;
        try {
          const r = await call('POST', `/phones/${encodeURIComponent(p.name)}/release`);
          await phonesPage();
          announce(t.released(r.name, r.temporary_dn || ''));
        } catch (e) { yes.disabled = false; showError(e); }
      });
      start.hidden = true;
      actions.append(box);
      yes.focus();
    };
    const start = h('button', { type: 'button', class: 'release', text: t.release, onclick: ask });
    actions.append(start);
    card.append(actions);
    return card;
  }));
  show(main, h('h1', { text: t.phonesTitle }),
    phones.length ? list : h('p', { class: 'empty', text: t.noPhones }));
}

/** The 16 digits in groups of four, as printed. */
const grouped = (code) => code.replace(/(\d{4})(?=\d)/g, '$1 ');

/** Phones an administrator prepared for the user: each code to type on the phone, its QR code. */
async function codesPage() {
  const codes = await call('GET', '/activation-codes');
  const list = h('ul', { class: 'phones codes' }, codes.map((c) => {
    const qr = h('div', { class: 'qr', role: 'img', 'aria-label': t.qrLabel });
    // The service's own SVG (qrcode crate), parsed as an image document: no script runs in it.
    const svg = new DOMParser().parseFromString(c.qr_svg, 'image/svg+xml').documentElement;
    if (svg.nodeName === 'svg') qr.append(document.importNode(svg, true));
    return h('li', { class: 'phone code', 'data-code-id': c.id },
      h('h2', { text: c.device ? t.codeForDevice(c.device) : t.codeForModel(c.model) }),
      h('p', { class: 'digits', text: grouped(c.code) }),
      h('dl', { class: 'facts' },
        fact(t.codeExpires, new Date(c.expires_ms).toLocaleString(lang))),
      qr);
  }));
  show(main, h('h1', { text: t.codesTitle }),
    h('p', { class: 'hint', text: t.codesHint }),
    codes.length ? list : h('p', { class: 'empty', text: t.noCodes }),
    codes.length ? h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', text: t.print, onclick: () => window.print() })) : null);
}

function pinPage() {
  const pin = (label, name, autocomplete) =>
    field(label, name, { type: 'password', required: true, autocomplete, inputmode: 'numeric', help: name === 'new_pin' ? t.pinHint : null });
  show(main, h('h1', { text: t.pinTitle }),
    form([
      pin(t.oldPin, 'old_pin', 'current-password'),
      pin(t.newPin, 'new_pin', 'new-password'),
      pin(t.newPinAgain, 'new_pin_again', 'new-password'),
    ], t.changePin, async (v, f) => {
      await call('POST', '/pin', v);
      f.reset();
      announce(t.pinChanged);
    }, { id: 'pin-form' }));
}

async function route() {
  chrome();
  if (!me) return loginPage();
  const r = location.hash.replace(/^#\//, '') || 'phones';
  try {
    if (r === 'pin') pinPage();
    else if (r === 'codes') await codesPage();
    else await phonesPage();
    focusTitle();
  } catch (e) { showError(e); }
}

function languageSelect() {
  const sel = document.getElementById('language');
  show(sel, LANGUAGES.map(([c, name]) => h('option', { value: c, text: name, selected: c === lang })));
  sel.addEventListener('change', () => {
    localStorage.setItem(LANG_KEY, sel.value);
    ({ code: lang, t } = textsFor([sel.value]));
    clearErrors();
    route();
  });
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await call('DELETE', '/session'); } catch { /* the session is gone either way */ }
  loggedOut();
  announce(t.loggedOut);
});
window.addEventListener('hashchange', () => { clearErrors(); route(); });

languageSelect();
try {
  me = await call('GET', '/session').catch(() => null);
  if (me) sessionStorage.setItem(CSRF_KEY, me.csrf_token);
} finally {
  route();
}
