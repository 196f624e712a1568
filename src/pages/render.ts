import { escapeAttribute as attr, escapeText as text } from '../ows/xml-writer.js';
import type { InputDescription, ProcessDefinition } from '../process/types.js';

/**
 * The pages for people, rendered here from the same declarations and documents as the
 * JSON (no front-end build): small, semantic HTML that reads without its script, which
 * only turns a form into an execute request and follows a job's event stream.
 */

export interface Site {
  title: string;
  base: string;
}

export function page(site: Site, title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${text(title)} – ${text(site.title)}</title><link rel="stylesheet" href="${attr(site.base)}/assets/style.css"><script src="${attr(site.base)}/assets/app.js" defer></script></head>
<body><header><nav aria-label="Main"><a href="${attr(site.base)}/?f=html">${text(site.title)}</a><a href="${attr(site.base)}/processes?f=html">Processes</a><a href="${attr(site.base)}/jobs?f=html">Jobs</a><a href="${attr(site.base)}/api?f=html">API</a></nav></header>
<main><h1>${text(title)}</h1>${body}</main></body></html>`;
}

export function landingPage(site: Site, abstract: string): string {
  return page(
    site,
    site.title,
    `<p>${text(abstract)}</p><ul>
<li><a href="${attr(site.base)}/processes?f=html">The processes</a>, each with a form that runs it</li>
<li><a href="${attr(site.base)}/jobs?f=html">Your jobs</a></li>
<li><a href="${attr(site.base)}/api?f=html">The API definition</a> (OGC API - Processes)</li>
<li><a href="${attr(site.base)}/wps?service=WPS&amp;request=GetCapabilities">WPS 1.0.0 capabilities</a></li></ul>`,
  );
}

export function processesPage(site: Site, processes: readonly ProcessDefinition[]): string {
  const rows = processes.map((p) => `<li><a href="${attr(site.base)}/processes/${attr(encodeURIComponent(p.identifier))}?f=html">${text(p.title)}</a> <code>${text(p.identifier)}</code>${p.abstract ? ` – ${text(p.abstract)}` : ''}</li>`);
  return page(site, 'Processes', `<ul>${rows.join('')}</ul>`);
}

function field(i: InputDescription): string {
  const id = `input-${i.identifier}`;
  const help = i.abstract ? `<small id="${attr(id)}-help">${text(i.abstract)}</small>` : '';
  const described = i.abstract ? ` aria-describedby="${attr(id)}-help"` : '';
  const required = i.minOccurs > 0 ? ' required' : '';
  const label = `<label for="${attr(id)}">${text(i.title)}${i.minOccurs > 0 ? '' : ' (optional)'}</label>`;
  const common = `id="${attr(id)}" name="${attr(i.identifier)}" data-input="${attr(i.identifier)}"${described}${required}`;
  if (i.type === 'literal') {
    const choices = (i.allowedValues ?? []).filter((v): v is string | number => typeof v !== 'object');
    if (choices.length > 0 && choices.length === (i.allowedValues ?? []).length) {
      const options = choices.map((v) => `<option${String(v) === String(i.default ?? '') ? ' selected' : ''}>${text(String(v))}</option>`).join('');
      return `${label}<select ${common}${typeof choices[0] === 'number' ? ' data-kind="number"' : ''}>${i.minOccurs > 0 ? '' : '<option value=""></option>'}${options}</select>${help}`;
    }
    if (i.dataType === 'boolean') return `${label}<input type="checkbox" ${common.replace(required, '')}${i.default === true ? ' checked' : ''}>${help}`;
    const numeric = ['integer', 'positiveInteger', 'nonNegativeInteger', 'float', 'double', 'decimal'].includes(i.dataType);
    const step = numeric && !i.dataType.toLowerCase().includes('integer') ? ' step="any"' : '';
    return `${label}<input type="${numeric ? 'number' : 'text'}"${step} ${common}${numeric ? ' data-kind="number"' : ''}${i.default !== undefined ? ` value="${attr(String(i.default))}"` : ''}>${help}`;
  }
  if (i.type === 'complex') return `${label}<textarea ${common} data-kind="complex" data-media-type="${attr(i.formats[0]!.mimeType)}"></textarea>${help}`;
  return `${label}<input type="text" ${common} data-kind="bbox" data-crs="${attr(i.crss[0]!)}" placeholder="minx,miny,maxx,maxy">${help}`;
}

export function processPage(site: Site, p: ProcessDefinition): string {
  const outputs = p.outputs.map((o) => `<li>${text(o.title)} <code>${text(o.identifier)}</code></li>`).join('');
  const action = `${site.base}/processes/${encodeURIComponent(p.identifier)}/execution`;
  return page(
    site,
    p.title,
    `${p.abstract ? `<p>${text(p.abstract)}</p>` : ''}<p>Identifier <code>${text(p.identifier)}</code>, version ${text(p.version)}.</p>
<form data-execute method="post" action="${attr(action)}"><h2>Run it</h2>${p.inputs.map(field).join('')}
<button type="submit">Run ${text(p.title)}</button><p role="status" aria-live="polite"></p></form>
<h2>Outputs</h2><ul>${outputs}</ul>`,
  );
}

export interface JobRow {
  id: string;
  processId: string;
  status: string;
  progress: number;
  message: string | undefined;
  created: string;
}

export function jobsPage(site: Site, jobs: readonly JobRow[], filters: { status: string; processes: readonly string[]; process: string }, pages: { prev?: string; next?: string }): string {
  const rows = jobs.map((j) => `<tr><td><a href="${attr(site.base)}/jobs/${attr(j.id)}?f=html">${text(j.id.slice(0, 8))}</a></td><td>${text(j.processId)}</td><td>${text(j.status)}</td><td>${j.progress}%</td><td><time datetime="${attr(j.created)}">${text(j.created.replace('T', ' ').slice(0, 19))}</time></td></tr>`);
  const statusOptions = ['', 'accepted', 'running', 'successful', 'failed', 'dismissed'].map((s) => `<option value="${s}"${s === filters.status ? ' selected' : ''}>${s || 'any'}</option>`).join('');
  const processOptions = ['', ...filters.processes].map((p) => `<option value="${attr(p)}"${p === filters.process ? ' selected' : ''}>${text(p || 'any')}</option>`).join('');
  const paging = [pages.prev ? `<a rel="prev" href="${attr(pages.prev)}">Newer</a>` : '', pages.next ? `<a rel="next" href="${attr(pages.next)}">Older</a>` : ''].join(' ');
  return page(
    site,
    'Jobs',
    `<form method="get" action="${attr(site.base)}/jobs"><input type="hidden" name="f" value="html">
<label for="status">Status</label><select id="status" name="status">${statusOptions}</select>
<label for="process">Process</label><select id="process" name="processID">${processOptions}</select>
<button type="submit">Filter</button></form>
<table><caption>Newest first</caption><thead><tr><th scope="col">Job</th><th scope="col">Process</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Created</th></tr></thead><tbody>${rows.join('') || '<tr><td colspan="5">No jobs.</td></tr>'}</tbody></table>
<nav aria-label="Pages">${paging}</nav>`,
  );
}

export interface JobView extends JobRow {
  final: boolean;
  results: Record<string, unknown> | undefined;
  session: string | undefined;
  failure: string | undefined;
}

export function jobPage(site: Site, j: JobView): string {
  const self = `${site.base}/jobs/${j.id}`;
  const results = j.results
    ? `<h2>Outputs</h2><dl>${Object.entries(j.results)
        .map(([id, v]) => {
          const link = typeof v === 'object' && v !== null && 'href' in v ? String((v as { href: string }).href) : undefined;
          const shown = link ? `<a href="${attr(link)}">${text(link)}</a>` : `<pre>${text(typeof v === 'string' ? v : JSON.stringify(v, null, 1))}</pre>`;
          return `<dt>${text(id)}</dt><dd>${shown}</dd>`;
        })
        .join('')}</dl>`
    : '';
  return page(
    site,
    `Job ${j.id.slice(0, 8)} (${j.processId})`,
    `<section data-job="${attr(self)}" data-final="${j.final}" aria-live="polite">
<p>Status: <strong data-status>${text(j.status)}</strong></p><progress max="100" value="${j.progress}">${j.progress}%</progress>
<p data-message>${text(j.message ?? '')}</p></section>
${j.failure ? `<p class="error">${text(j.failure)}</p>` : ''}${j.session ? `<p><a href="${attr(j.session)}">Open the session</a></p>` : ''}${results}
<p><a href="${attr(self)}/logs">Logs</a> · <a href="${attr(self)}">statusInfo (JSON)</a></p>
${j.final ? '' : `<button type="button" data-dismiss="${attr(self)}">Dismiss this job</button>`}`,
  );
}

export function conformancePage(site: Site, classes: readonly string[]): string {
  return page(site, 'Conformance', `<p>This server implements these conformance classes of OGC API - Processes - Part 1:</p><ul>${classes.map((c) => `<li><a href="${attr(c)}">${text(c.replace(/^.*\/conf\//, ''))}</a></li>`).join('')}</ul>`);
}
