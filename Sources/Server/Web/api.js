// Calls to the service's own API, with the key the user gave kept in this browser session only.
const KEY = 'wick.key';

export const key = () => sessionStorage.getItem(KEY) || '';
export const setKey = (value) => value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY);

/** Raised when the service wants a key; the page shows its login field. */
export class KeyRequired extends Error {}

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (key()) h.Authorization = 'Bearer ' + key();
  return h;
}

async function failure(response) {
  if (response.status === 401) {
    document.dispatchEvent(new CustomEvent('wick:key-required'));
    return new KeyRequired('This service needs an API key.');
  }
  let message = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    message = typeof body.error === 'string' ? body.error : body.error?.message || message;
  } catch { /* not JSON */ }
  const error = new Error(message);
  error.status = response.status;
  return error;
}

/** JSON in, JSON out (an empty reply gives null); a failure throws its error message. */
export async function call(path, { method = 'GET', body } = {}) {
  const response = await fetch(path, { method, headers: headers(body !== undefined), body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

/** The data objects of a server-sent event stream, as they come. */
export async function* events(path, body, signal) {
  const response = await fetch(path, { method: 'POST', headers: headers(true), body: JSON.stringify(body), signal });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    let end;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const event = pending.slice(0, end);
      pending = pending.slice(end + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        yield JSON.parse(data);
      }
    }
  }
}

export function bytes(n) {
  if (!Number.isFinite(n)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/** A table row of text cells (never HTML: names come from files and the hub). */
export function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell); else td.textContent = cell ?? '';
    tr.append(td);
  }
  return tr;
}

/** The one row of a table with nothing to list, saying why. */
export function emptyRow(text, columns) {
  const tr = row([text]);
  tr.firstChild.colSpan = columns;
  tr.firstChild.className = 'empty';
  return tr;
}

export function button(label, onClick, accessibleName) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (accessibleName) b.setAttribute('aria-label', accessibleName);
  b.addEventListener('click', onClick);
  return b;
}

export function notify(message, isError = false) {
  const notice = document.getElementById('notice');
  notice.textContent = message;
  notice.classList.toggle('error', isError);
}
