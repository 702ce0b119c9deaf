// The console's only way to the server: the JSON API under /api/v1, with the session cookie
// (sent by the browser) and the session's anti-CSRF token (kept in sessionStorage, never in a
// cookie) on every change.

const CSRF_KEY = 'selfprov.csrf';
const PREFIX = '/api/v1';

/** A problem+json answer (RFC 9457): `field` names the input to fix. */
export class Problem extends Error {
  constructor(status, p) {
    super(p.detail || p.title || `HTTP ${status}`);
    this.status = status;
    this.problem = p;
    this.field = p.field || null;
  }
}

let unauthenticated = () => {};
/** Called when a request answers 401: the session ended. */
export function onUnauthenticated(f) { unauthenticated = f; }

export function rememberSession(info) {
  if (info && info.csrf_token) sessionStorage.setItem(CSRF_KEY, info.csrf_token);
}
export function forgetSession() { sessionStorage.removeItem(CSRF_KEY); }

function headersFor(method, { json, csv, etag }) {
  const h = { Accept: 'application/json' };
  if (json !== undefined) h['Content-Type'] = 'application/json';
  if (csv !== undefined) h['Content-Type'] = 'text/csv';
  if (etag) h['If-Match'] = etag;
  const token = sessionStorage.getItem(CSRF_KEY);
  if (method !== 'GET' && method !== 'HEAD' && token) h['X-CSRF-Token'] = token;
  return h;
}

async function answer(r, path) {
  const type = r.headers.get('Content-Type') || '';
  const data = r.status === 204 ? null
    : type.includes('json') ? await r.json() : await r.text();
  if (!r.ok) {
    if (r.status === 401 && path !== '/session') unauthenticated();
    throw new Problem(r.status, typeof data === 'object' && data ? data : { detail: String(data) });
  }
  return { data, etag: r.headers.get('ETag'), status: r.status };
}

/** A request to the API: `{data, etag, status}`, or a thrown Problem. */
export async function request(method, path, opts = {}) {
  const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.csv;
  const r = await fetch(PREFIX + path, {
    method, body, headers: headersFor(method, opts), credentials: 'same-origin',
  });
  return answer(r, path);
}

export const get = async (path) => (await request('GET', path)).data;
export const send = async (method, path, json, etag) =>
  (await request(method, path, { json, etag })).data;

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * One page of a list (`/users`, `/devices`…) for the search and sort in `params`, from its
 * `after` cursor (the page after the one that gave it: a seek on the sort's index, however deep)
 * or else its `offset`.
 */
export function listPage(path, params, limit) {
  const after = params.get('after');
  return get(`${path}${query({
    search: params.get('search'), sort: params.get('sort'), after,
    offset: after ? null : Number(params.get('offset') || 0), limit,
  })}`);
}

/** The open status of the service (ready, active calls): `/status`, outside the API. */
export async function serviceStatus() {
  const r = await fetch('/status', { headers: { Accept: 'application/json' } });
  return r.json();
}

/**
 * Upload a CSV with progress (fetch reports none): `progress(sent, total)` while sending;
 * resolves to the answer like `request`.
 */
export function uploadCsv(path, file, progress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', PREFIX + path);
    for (const [k, v] of Object.entries(headersFor('POST', { csv: '' }))) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : 0);
    x.onerror = () => reject(new Problem(0, { detail: 'the service could not be reached' }));
    x.onload = () => {
      let data = null;
      try { data = JSON.parse(x.responseText); } catch { data = { detail: x.responseText }; }
      if (x.status >= 200 && x.status < 300) resolve({ data, status: x.status });
      else {
        if (x.status === 401) unauthenticated();
        reject(new Problem(x.status, data || {}));
      }
    };
    x.send(file);
  });
}
