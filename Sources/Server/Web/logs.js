// Logs: the service's log as it grows (loads, each request's templated prompt, timings, warnings).
// An entry's further lines (a prompt) are folded under its first line.
import { call } from './api.js';

const $ = (id) => document.getElementById(id);
const MAX_ENTRIES = 1000;
// swift-log's stream format: `2026-12-01T04:08:34+0000 info wick.model: message`.
const STREAM_ENTRY = /^(\d{4}-\d\d-\d\dT\S+) (\S+) (\S+): (.*)$/;

let offset = null;
let last = null;  // the entry that further lines continue

function entryOf(line) {
  const stream = STREAM_ENTRY.exec(line);
  if (stream) return { time: stream[1], level: stream[2], label: stream[3], message: stream[4] };
  if (line.startsWith('{')) {  // --log-format json
    try {
      const o = JSON.parse(line);
      if (typeof o.message === 'string') return { time: o.time || '', level: o.level || '', label: o.logger || '', message: o.message };
    } catch { /* not an entry */ }
  }
  return null;
}

function render(entry) {
  const li = document.createElement('li');
  li.className = 'level-' + entry.level;
  const [first, ...rest] = entry.message.split('\n');
  const head = document.createElement('div');
  for (const [cls, value] of [['time', entry.time], ['level', entry.level], ['label', entry.label], ['message', first]]) {
    if (!value) continue;
    const span = document.createElement('span');
    span.className = cls;
    span.textContent = value;
    head.append(span, ' ');
  }
  li.append(head);
  entry.element = li;
  if (rest.length) more(entry, rest);
  return li;
}

/** Lines that continue an entry, folded in its <details>. */
function more(entry, lines) {
  if (!entry.pre) {
    const details = document.createElement('details');
    entry.summary = document.createElement('summary');
    entry.pre = document.createElement('pre');
    entry.lines = 0;
    details.append(entry.summary, entry.pre);
    entry.element.append(details);
  }
  entry.pre.textContent += (entry.lines ? '\n' : '') + lines.join('\n');
  entry.lines += lines.length;
  entry.summary.textContent = `${entry.lines} more line${entry.lines === 1 ? '' : 's'}`;
}

function matches(li) {
  const filter = $('log-filter').value.trim().toLowerCase();
  return !filter || li.textContent.toLowerCase().includes(filter);
}

function add(text) {
  const list = $('log-entries');
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  const added = [];
  for (const line of text.split('\n').slice(0, -1)) {
    const entry = entryOf(line);
    if (entry) {
      last = entry;
      added.push(render(entry));
    } else if (last) {
      more(last, [line]);
    } else {
      last = { time: '', level: '', label: '', message: line };
      added.push(render(last));
    }
  }
  for (const li of added) li.hidden = !matches(li);
  list.append(...added);
  while (list.children.length > MAX_ENTRIES) list.firstElementChild.remove();
  if (atBottom && added.length) list.scrollTop = list.scrollHeight;
}

export async function showLogs() {
  const chunk = await call('/api/v1/logs' + (offset === null ? '' : `?after=${offset}`));
  // The log was truncated or replaced: the service started again from its tail.
  if (offset !== null && chunk.offset < offset) { $('log-entries').replaceChildren(); last = null; }
  offset = chunk.offset;
  add(chunk.text);
  $('log-empty').hidden = $('log-entries').children.length > 0;
}

export function wireLogs() {
  $('log-form').addEventListener('submit', (event) => event.preventDefault());
  $('log-filter').addEventListener('input', () => {
    for (const li of $('log-entries').children) li.hidden = !matches(li);
  });
}
