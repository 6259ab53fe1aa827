// Discover: search the hub, a repository's models with their sizes and whether they fit in this
// machine's memory, downloads with live progress (a failed one resumes where it stopped).
import { bytes, button, call, notify, row } from './api.js';

const $ = (id) => document.getElementById(id);

export async function showDiscover() {
  $('discover-query').focus();
}

function badge(trusted) {
  const b = document.createElement('span');
  b.className = trusted ? 'badge trusted' : 'badge';
  b.textContent = trusted ? 'trusted publisher' : 'unverified publisher';
  return b;
}

async function search(event) {
  event.preventDefault();
  const q = $('discover-query').value.trim();
  if (!q) return;
  const results = $('discover-results');
  results.replaceChildren();
  $('discover-models').hidden = true;
  notify(`Searching for “${q}”…`);
  try {
    const found = (await call('/api/v1/hub/search?q=' + encodeURIComponent(q))).results;
    notify(found.length ? '' : `Nothing on the hub matches “${q}”.`);
    results.replaceChildren(...found.map((r) => {
      const li = document.createElement('li');
      const name = button(r.repo, () => showRepo(r.repo), `Models of ${r.repo}`);
      name.className = 'link';
      const downloads = document.createElement('span');
      downloads.className = 'muted';
      downloads.textContent = r.downloads != null ? `${r.downloads.toLocaleString()} downloads` : '';
      li.append(name, ' ', badge(r.trusted), ' ', downloads);
      return li;
    }));
  } catch (error) {
    notify(`The hub could not be searched: ${error.message}`, true);
  }
}

async function showRepo(repo) {
  const listing = await call('/api/v1/hub/models?repo=' + encodeURIComponent(repo)).catch((error) => {
    notify(`${repo}: ${error.message}`, true);
    return null;
  });
  if (!listing) return;
  $('discover-repo').replaceChildren(listing.repo, ' ', badge(listing.trusted));
  $('discover-rows').replaceChildren(...listing.models.map((m) => row([
    m.quantization + (m.default ? ' (suggested)' : ''), bytes(m.size_bytes), m.files > 1 ? `${m.files} parts` : '1 file',
    m.fits ? 'fits' : `too large for ${bytes(listing.memory_bytes)}`,
    button('Download', () => download(m.model, listing.trusted, listing.publisher), `Download ${m.model}`),
  ])));
  $('discover-models').hidden = false;
}

async function download(model, trusted, publisher, confirmed = false) {
  if (!trusted && !confirmed && !confirm(`${publisher} is not a trusted publisher. Download ${model} anyway?`)) return;
  let job;
  try {
    job = await call('/api/v1/models/download', { method: 'POST', body: { model, allow_untrusted: !trusted } });
  } catch (error) {
    notify(`${model} was not downloaded: ${error.message}`, true);
    return;
  }
  const li = document.createElement('li');
  const label = document.createElement('label');
  const bar = document.createElement('progress');
  const status = document.createElement('span');
  label.textContent = job.model;
  label.htmlFor = bar.id = 'download-' + job.job_id;
  bar.max = job.total_size_bytes || 1;
  bar.value = 0;
  li.append(label, bar, status);
  $('downloads').prepend(li);
  for (;;) {
    job = await call('/api/v1/models/download/status/' + job.job_id).catch(() => job);
    bar.value = job.downloaded_bytes;
    const rate = job.bytes_per_second ? `, ${bytes(job.bytes_per_second)}/s` : '';
    const eta = job.eta_seconds != null ? `, ${Math.ceil(job.eta_seconds)} s left` : '';
    status.textContent = `${bytes(job.downloaded_bytes)} of ${bytes(job.total_size_bytes)}${rate}${eta}`;
    if (job.status !== 'downloading') break;
    await new Promise((resolve) => setTimeout(resolve, 400));
  }
  if (job.status === 'completed') {
    status.textContent = `downloaded as ${job.key}`;
    notify(`Downloaded ${job.key}: load it on the Load screen.`);
  } else {
    status.textContent = `failed: ${job.error}`;
    li.append(button('Resume', () => { li.remove(); download(model, trusted, publisher, true); }, `Resume ${model}`));
    notify(`${model} failed: ${job.error}`, true);
  }
}

export function wireDiscover() {
  $('discover-form').addEventListener('submit', search);
}
