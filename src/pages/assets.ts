/**
 * The pages' only script and style sheet, served from memory (no build step). The script
 * turns a process form into an execute request, follows a job page's event stream and
 * sends a dismissal; without it the pages still read.
 */
export const STYLE = `body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.5;color:#1b1b1b}
nav a{margin-right:1rem}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ccc}
label{display:block;margin-top:.8rem;font-weight:600}input,select,textarea{font:inherit;padding:.3rem;max-width:100%}textarea{width:100%;min-height:5rem}
button{font:inherit;margin-top:1rem;padding:.4rem 1rem}progress{width:100%}.error{color:#a00}pre{background:#f4f4f4;padding:.5rem;overflow:auto}`;

export const SCRIPT = `'use strict';
const form = document.querySelector('form[data-execute]');
if (form) form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const inputs = {};
  for (const field of form.querySelectorAll('[data-input]')) {
    const id = field.dataset.input;
    let value;
    if (field.type === 'checkbox') value = field.checked;
    else if (field.value === '') continue;
    else if (field.dataset.kind === 'number') value = Number(field.value);
    else if (field.dataset.kind === 'bbox') value = { bbox: field.value.split(',').map(Number), crs: field.dataset.crs };
    else if (field.dataset.kind === 'complex') value = { value: field.value, mediaType: field.dataset.mediaType };
    else value = field.value;
    inputs[id] = value;
  }
  const status = form.querySelector('[role=status]');
  status.textContent = 'Submitting…';
  const res = await fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/json', prefer: 'respond-async', accept: 'application/json' }, body: JSON.stringify({ inputs }) });
  const body = await res.json().catch(() => ({}));
  if (res.status === 201) { location.href = res.headers.get('location'); return; }
  status.textContent = body.detail || ('The server answered ' + res.status);
  status.className = 'error';
});
const job = document.querySelector('[data-job]');
if (job && job.dataset.final !== 'true') {
  const events = new EventSource(job.dataset.job);
  const show = (e) => {
    const info = JSON.parse(e.data);
    job.querySelector('[data-status]').textContent = info.status;
    job.querySelector('progress').value = info.progress || 0;
    job.querySelector('[data-message]').textContent = info.message || '';
    if (['successful', 'failed', 'dismissed'].includes(info.status)) { events.close(); location.reload(); }
  };
  for (const name of ['accepted', 'running', 'successful', 'failed', 'dismissed']) events.addEventListener(name, show);
}
const dismiss = document.querySelector('[data-dismiss]');
if (dismiss) dismiss.addEventListener('click', async () => {
  await fetch(dismiss.dataset.dismiss, { method: 'DELETE', headers: { accept: 'application/json' } });
  location.reload();
});
`;
