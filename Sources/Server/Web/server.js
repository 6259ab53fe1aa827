// Server: what this service is, and the values Kibana's OpenAI connector needs.
import { call } from './api.js';
import { loadedInstances } from './load.js';

const $ = (id) => document.getElementById(id);

export async function showServer() {
  const status = await call('/api/v1/status');
  const instances = await loadedInstances();
  const facts = [
    ['Address', location.origin], ['OpenAI API', `${location.origin}/v1`], ['Version', status.version],
    ['Process', String(status.pid)], ['Loaded', status.loaded.join(', ') || 'nothing'], ['Requests queued', String(status.queued)],
  ];
  $('server-facts').replaceChildren(...facts.flatMap(([name, value]) => {
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = value;
    return [dt, dd];
  }));
  $('connector-url').textContent = `${location.origin}/v1/chat/completions`;
  $('connector-model').textContent = instances[0]?.identifier || 'load a model first';
}

async function copy(id) {
  const text = $(id).textContent;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without a secure context (plain HTTP to another machine) the clipboard API is missing.
    const range = document.createRange();
    range.selectNodeContents($(id));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.execCommand('copy');
  }
}

export function wireServer() {
  for (const b of document.querySelectorAll('[data-copy]')) b.addEventListener('click', () => copy(b.dataset.copy));
}
