// User profiles and the universal device and line templates (UDT, ULT): the named objects that
// self-provisioning builds phones and lines from. One page for the three: each kind is a list
// of its fields; list with search and paging, create, edit (If-Match), delete.

import { request, send, listPage } from './api.js';
import { h, field, form, table, pager, searchForm, action, announce, changed, seg, show } from './ui.js';

const PAGE = 50;
const text = (label, name, help) => [label, name, { help }];
const flag = (label, name) => [label, name, { type: 'checkbox' }];

const KINDS = {
  profiles: {
    title: 'User profiles', one: 'profile', api: '/profiles',
    fields: [
      text('Description', 'description'),
      flag('System default', 'system_default'),
      text('Desk phone template (UDT)', 'udt_desk_phone'),
      text('Mobile and desktop template (UDT)', 'udt_mobile_desktop'),
      text('Device profile template (UDT)', 'udt_profile'),
      text('Line template (ULT)', 'ult'),
      flag('Allow self-provisioning', 'allow_self_provisioning'),
      ['Device limit', 'device_limit', { type: 'number', help: 'Phones a user of this profile may self-provision.' }],
      ['Allow the self-care portal', 'allow_self_care', { type: 'checkbox', help: 'Users log in at /self-care/ with their self-service ID and PIN.' }],
    ],
    // A new profile's users may use self-care unless the box is cleared (as the API's default).
    defaults: { allow_self_care: true },
  },
  udts: {
    title: 'Universal device templates', one: 'UDT', api: '/udts',
    fields: [
      text('Description', 'description'),
      text('Device pool', 'device_pool'),
      text('Device security profile', 'device_security_profile'),
      flag('Secure', 'secure'),
      text('SIP profile', 'sip_profile'),
      text('Phone button template', 'phone_button_template'),
      text('Description pattern', 'description_pattern', 'e.g. #FirstName# #LastName# (#Product#)'),
    ],
  },
  ults: {
    title: 'Universal line templates', one: 'ULT', api: '/ults',
    fields: [
      text('Description', 'description'),
      text('Partition', 'partition'),
      text('Calling search space', 'calling_search_space'),
      text('Line text label', 'line_text_label'),
      text('Voicemail profile', 'voicemail_profile'),
    ],
  },
};

const inputs = (k, o, disabled) =>
  k.fields.map(([label, name, opts]) => field(label, name, { ...opts, value: o[name], disabled }));

function tabs(current) {
  return h('nav', { class: 'tabs', 'aria-label': 'Template kinds' },
    [['udts', 'Device templates (UDT)'], ['ults', 'Line templates (ULT)']].map(([kind, label]) =>
      h('a', { href: `#/templates?kind=${kind}`, 'aria-current': kind === current ? 'page' : null, text: label })));
}

async function list(main, route, kindName, params, ctx) {
  const k = KINDS[kindName];
  const page = await listPage(k.api, params, PAGE);
  const base = route === 'templates' ? `templates/${kindName}` : route;
  show(main,
    h('h1', { text: route === 'templates' ? 'Templates' : k.title }),
    route === 'templates' ? tabs(kindName) : null,
    searchForm(route, params, [
      route === 'templates' ? h('input', { type: 'hidden', name: 'kind', value: kindName }) : null,
      field(`Search ${k.title.toLowerCase()}`, 'search', { placeholder: 'a name prefix, or a pattern with *' }),
    ]),
    ctx.can('administrator') ? h('p', {}, h('a', { class: 'button', href: `#/${base}/+new`, text: `New ${k.one}` })) : null,
    table(k.title, [
      ['Name', (o) => h('a', { href: `#/${base}/${seg(o.name)}`, text: o.name })],
      ['Description', (o) => o.description],
      ...(kindName === 'profiles' ? [
        ['Self-provisioning', (o) => (o.allow_self_provisioning ? `yes, up to ${o.device_limit}` : 'no')],
        ['Self-care', (o) => (o.allow_self_care ? 'yes' : 'no')],
        ['Default', (o) => (o.system_default ? 'yes' : '')],
      ] : []),
    ], page.items),
    pager(route, params, page));
}

function create(main, base, k) {
  show(main,
    h('h1', { text: `New ${k.one}` }),
    form([field('Name', 'name', { required: true }), ...inputs(k, k.defaults || {}, false)], `Create ${k.one}`, async (v) => {
      const body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && x !== null));
      await send('POST', k.api, body);
      announce(`${k.one} ${v.name} created`);
      location.hash = `#/${base}/${seg(v.name)}`;
    }, { id: 'object-form' }));
}

async function detail(main, base, k, name, ctx) {
  const { data: o, etag } = await request('GET', `${k.api}/${seg(name)}`);
  const admin = ctx.can('administrator');
  show(main,
    h('h1', { text: `${k.one} ${o.name}` }),
    form(inputs(k, o, !admin), 'Save changes', async (v) => {
      const diff = changed(v, o);
      if (!Object.keys(diff).length) { announce('Nothing changed'); return; }
      await send('PATCH', `${k.api}/${seg(name)}`, diff, etag);
      announce(`${k.one} ${name} saved`);
      await detail(main, base, k, name, ctx);
    }, { id: 'object-form', class: admin ? '' : 'readonly' }),
    admin ? action(`Delete ${k.one} ${name}`, async () => {
      if (!window.confirm(`Delete ${k.one} ${name}?`)) return;
      await send('DELETE', `${k.api}/${seg(name)}`, undefined, etag);
      announce(`${k.one} ${name} deleted`);
      location.hash = `#/${base.split('/')[0]}`;
    }, { class: 'danger' }) : null);
}

export async function render(main, ctx) {
  const { path, params } = ctx;
  const route = path[0];
  // #/profiles[/name] or #/templates[/udts|ults[/name]]
  const kindName = route === 'profiles' ? 'profiles'
    : (path[1] || params.get('kind') || 'udts');
  if (!KINDS[kindName]) throw new Error(`no such kind of template: ${kindName}`);
  const rest = route === 'profiles' ? path.slice(1) : path.slice(2);
  const base = route === 'profiles' ? 'profiles' : `templates/${kindName}`;
  if (rest[0] === '+new') return create(main, base, KINDS[kindName]);
  if (rest[0]) return detail(main, base, KINDS[kindName], rest[0], ctx);
  return list(main, route, kindName, params, ctx);
}
