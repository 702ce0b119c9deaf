// CSV import of users: choose a file → preview (every row checked against the database, the bad
// ones listed with their line; nothing written) → import (all rows in one transaction, or none),
// with the upload's progress. Also the export, which re-imports.

import { request, uploadCsv } from './api.js';
import { h, field, form, table, announce, clearErrors, showError, show } from './ui.js';

const HEADER = 'user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile';

export async function render(main) {
  const result = h('section', { id: 'import-result', 'aria-live': 'polite' });
  const progress = h('progress', { id: 'import-progress', max: 100, hidden: true });
  const progressLabel = h('span', { id: 'import-progress-label' });
  let file = null; let mode = 'refuse';

  const commit = async () => {
    clearErrors();
    progress.hidden = false;
    progress.value = 0;
    const b = document.getElementById('import-commit');
    b.disabled = true;
    try {
      const r = await uploadCsv(`/import/users?existing=${mode}`, file, (sent, total) => {
        if (total) {
          progress.value = Math.round((100 * sent) / total);
          progressLabel.textContent = sent < total ? `Sending ${progress.value} %` : 'Writing…';
        }
        if (total && sent >= total) progress.removeAttribute('value'); // now the server writes
      });
      progress.value = 100;
      progressLabel.textContent = 'Done';
      const d = r.data;
      show(result, h('h2', { text: 'Imported' }),
        h('p', { id: 'import-done', text: `${d.created} created, ${d.updated} updated, ${d.unchanged} unchanged.` }),
        h('div', { class: 'actions' }, progress, progressLabel));
      announce(`Import done: ${d.created} created, ${d.updated} updated`);
    } catch (e) {
      progress.hidden = true;
      progressLabel.textContent = '';
      if (e.problem && e.problem.errors) showPreview({ rows: 0, create: 0, update: 0, errors: e.problem.errors }, false);
      showError(e);
    } finally { b.disabled = false; }
  };

  const showPreview = (p, ok) => {
    show(result,
      h('h2', { text: 'Preview' }),
      h('p', { id: 'import-summary', text: `${p.rows} rows: ${p.create} to create, ${p.update} to update, ${p.errors.length} with errors.` }),
      table('Rows with errors (nothing is imported while there are any)', [
        ['Line', (e) => String(e.line)], ['What is wrong', (e) => e.reason],
      ], p.errors, 'No errors.'),
      ok ? h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'import-commit', text: `Import ${p.rows} rows`, onclick: commit }),
        progress, progressLabel) : null);
    if (p.errors.length) result.querySelector('table').id = 'import-errors';
  };

  show(main,
    h('h1', { text: 'Import users' }),
    h('p', {}, 'A CSV file with the header ', h('code', { text: HEADER }),
      '. The preview checks every row and writes nothing; the import writes all rows or none. ',
      h('a', { href: '/api/v1/export/users', download: 'users.csv', text: 'Export every user' }),
      ' (the PIN column empty) to get a file to edit.'),
    form([
      field('CSV file', 'file', { type: 'file', required: true }),
      field('Users who exist already', 'existing', { type: 'select', options: [['refuse', 'are an error'], ['update', 'are updated (an empty PIN keeps theirs)']] }),
    ], 'Preview', async (v, f) => {
      file = f.querySelector('input[type=file]').files[0];
      mode = v.existing;
      const { data: p } = await request('POST', `/import/users/preview?existing=${mode}`, { csv: file });
      showPreview(p, p.errors.length === 0 && p.rows > 0);
      announce(`Preview: ${p.rows} rows, ${p.errors.length} with errors`);
    }, { id: 'import-form' }),
    result);
}
