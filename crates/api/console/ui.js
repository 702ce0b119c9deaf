// Small DOM helpers shared by the pages: building elements, labelled fields, tables, paging,
// and telling the user what happened (aria-live regions, errors beside the field to fix).

/** An element: `h('a', {href: '#/x', class: 'y', onclick: f}, 'text', child)`. */
export function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k in e && typeof v !== 'string') e[k] = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Say something to screen-reader users (and show it briefly to everyone). */
export function announce(msg) {
  const s = document.getElementById('status');
  s.textContent = msg;
  const note = document.getElementById('alert');
  note.className = 'ok';
  note.textContent = msg;
}

/** Clear the error/notice area and any field marked wrong in `form`. */
export function clearErrors(form) {
  const a = document.getElementById('alert');
  a.textContent = '';
  a.className = '';
  if (!form) return;
  for (const e of form.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
  for (const e of form.querySelectorAll('.field-error')) e.remove();
}

/**
 * Show an error: in the alert region, and beside the input the problem names (`field`), which
 * gets the focus.
 */
export function showError(err, form) {
  const a = document.getElementById('alert');
  a.className = 'error';
  a.textContent = err.message || String(err);
  const input = form && err.field && form.querySelector(`[name="${CSS.escape(err.field)}"]`);
  if (input) {
    const id = `${input.id}-error`;
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', id);
    input.closest('.field').append(h('p', { class: 'field-error', id, text: err.message }));
    input.focus();
  }
}

let seq = 0;
/**
 * A labelled input. `type`: text (default), password, number, checkbox, select (`options`).
 * The input's `name` is the API's field name, so a problem's `field` finds it.
 */
export function field(label, name, opts = {}) {
  const id = `f${++seq}-${name}`;
  const type = opts.type || 'text';
  let input;
  if (type === 'select') {
    input = h('select', { id, name },
      opts.options.map(([v, t]) => h('option', { value: v, text: t, selected: v === opts.value })));
  } else {
    input = h('input', {
      id, name, type,
      autocomplete: opts.autocomplete || 'off',
      inputmode: opts.inputmode,
      placeholder: opts.placeholder,
      required: opts.required,
      readOnly: opts.readonly,
      disabled: opts.disabled,
    });
    if (type === 'checkbox') input.checked = Boolean(opts.value);
    else if (opts.value !== undefined && opts.value !== null) input.value = String(opts.value);
  }
  if (opts.disabled) input.disabled = true;
  const help = opts.help ? h('small', { id: `${id}-help`, text: opts.help }) : null;
  if (help) input.setAttribute('aria-describedby', help.id);
  return h('div', { class: `field ${type === 'checkbox' ? 'check' : ''}` },
    type === 'checkbox' ? [input, h('label', { for: id, text: label })]
      : [h('label', { for: id, text: label }), input], help);
}

/** The value of each named input of `form`: text as a string, checkboxes as booleans. */
export function values(form) {
  const out = {};
  for (const e of form.elements) {
    if (!e.name || e.disabled) continue;
    out[e.name] = e.type === 'checkbox' ? e.checked
      : e.type === 'number' ? (e.value === '' ? null : Number(e.value)) : e.value;
  }
  return out;
}

/** Only the fields whose value differs from `before` (what a PATCH sends). */
export function changed(now, before) {
  const out = {};
  for (const [k, v] of Object.entries(now)) {
    const was = before[k] === null || before[k] === undefined ? '' : before[k];
    if (v !== was) out[k] = v;
  }
  return out;
}

/** A table: `columns` = [[heading, row => text or node]]. */
export function table(caption, columns, rows, empty = 'Nothing found.') {
  if (!rows.length) return h('p', { class: 'empty', text: empty });
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { text: caption }),
    h('thead', {}, h('tr', {}, columns.map(([t]) => h('th', { scope: 'col', text: t })))),
    h('tbody', {}, rows.map((r) => h('tr', {}, columns.map(([, f]) => {
      const v = f(r);
      return h('td', {}, v === null || v === undefined ? '' : v);
    }))))));
}

/**
 * "1–50 of 100,000" with previous/next links that keep the other parameters. Next goes on with
 * the page's `next` cursor (`after`), carrying the position (`at`) only to show it; Previous and
 * a link from elsewhere use `offset`.
 */
export function pager(route, params, page) {
  const { total, limit } = page;
  const offset = Number(params.get('after') ? params.get('at') || 0 : page.offset || 0);
  const link = (set) => {
    const p = new URLSearchParams(params);
    for (const k of ['after', 'at', 'offset']) p.delete(k);
    for (const [k, v] of Object.entries(set)) if (v) p.set(k, String(v));
    return `#/${route}?${p}`;
  };
  const from = total ? offset + 1 : 0;
  const to = Math.min(offset + page.items.length, total);
  return h('nav', { class: 'pager', 'aria-label': 'Pages' },
    offset > 0 ? h('a', { href: link({ offset: Math.max(0, offset - limit) }), text: '← Previous' }) : null,
    h('span', { text: `${from.toLocaleString()}–${to.toLocaleString()} of ${total.toLocaleString()}` }),
    page.next ? h('a', { href: link({ after: page.next, at: offset + limit }), text: 'Next →' }) : null);
}

/** A search form that puts its values into the page's address (so paging and Back work). */
export function searchForm(route, params, fields) {
  const form = h('form', { class: 'search', role: 'search' }, fields,
    h('button', { type: 'submit', text: 'Search' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(values(form))) if (v !== '' && v !== false) p.set(k, v);
    const hash = `#/${route}?${p}`;
    if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = hash;
  });
  for (const e of form.elements) if (params.has(e.name)) e.value = params.get(e.name);
  return form;
}

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : '');

/** A button that runs `action`, shows its error, and is disabled while it runs. */
export function action(label, run, attrs = {}) {
  const b = h('button', { type: 'button', ...attrs, text: label });
  b.addEventListener('click', async () => {
    clearErrors();
    b.disabled = true;
    try { await run(); } catch (e) { showError(e); } finally { b.disabled = false; }
  });
  return b;
}

/** A form that runs `submit(values)`, shows errors beside their fields. */
export function form(children, submitLabel, submit, attrs = {}) {
  const f = h('form', attrs, children, h('div', { class: 'actions' },
    h('button', { type: 'submit', text: submitLabel })));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    const b = f.querySelector('button[type=submit]');
    b.disabled = true;
    try { await submit(values(f), f); } catch (e) { showError(e, f); } finally { b.disabled = false; }
  });
  return f;
}

/** Encode one path segment of an object's key. */
export const seg = (s) => encodeURIComponent(s);

/** Replace `parent`'s content, leaving out the parts a condition left empty (null, false). */
export function show(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}
