// Server: what this service is, where it listens, the keys it issued (created and revoked here), and
// the values Kibana's OpenAI connector needs.
import { button, call, key, notify, emptyRow, row, setKey } from './api.js';
import { loadedInstances } from './load.js';

const $ = (id) => document.getElementById(id);
const LOOPBACK = ['127.0.0.1', '::1', 'localhost'];

function facts(id, pairs) {
  $(id).replaceChildren(...pairs.flatMap(([name, value]) => {
    const dt = document.createElement('dt'), dd = document.createElement('dd');
    dt.textContent = name;
    dd.textContent = value;
    return [dt, dd];
  }));
}

export async function showServer() {
  const status = await call('/api/v1/status');
  const instances = await loadedInstances();
  facts('server-facts', [
    ['Address', location.origin], ['OpenAI API', `${location.origin}/v1`], ['Version', status.version],
    ['Process', String(status.pid)], ['Loaded', status.loaded.join(', ') || 'nothing'], ['Requests queued', String(status.queued)],
  ]);
  const everywhere = !LOOPBACK.includes(status.bind);
  $('network-local').checked = everywhere;
  $('network-cors').checked = status.cors;
  facts('server-network', [
    ['Serves', everywhere ? `the local network (${status.bind}, port ${status.port})` : `this machine only (${status.bind}, port ${status.port})`],
    ['Other web origins (CORS)', status.cors ? 'answered' : 'not answered'],
  ]);
  const keysRequired = await showKeys();
  $('network-warning').hidden = !(everywhere && keysRequired === false);
  $('connector-url').textContent = `${location.origin}/v1/chat/completions`;
  $('connector-model').textContent = instances[0]?.identifier || 'load a model first';
}

/** The issued keys; whether any key is required (undefined where the service issues none). */
async function showKeys() {
  let listing;
  try {
    listing = await call('/api/v1/keys');
  } catch (error) {
    if (error.status === 404) { $('keys-section').hidden = true; return undefined; }
    throw error;
  }
  $('keys-section').hidden = false;
  const required = listing.keys.length + listing.configured > 0;
  $('keys-state').textContent = !required ? 'No key is set: anyone who reaches this service can use it. The first key created turns keys on.'
    : `Requests need a key: one of these${listing.configured ? ` or one of the ${listing.configured} the service was started with` : ''}.`;
  $('key-rows').replaceChildren(...listing.keys.map((k) => row([
    k.name, new Date(k.created).toLocaleString(),
    button('Revoke', () => revokeKey(k.name).catch((error) => notify(error.message, true)), `Revoke ${k.name}`),
  ])));
  if (!listing.keys.length) {
    $('key-rows').append(emptyRow('No key issued.', 3));
  }
  return required;
}

async function createKey(event) {
  event.preventDefault();
  const created = await call('/api/v1/keys', { method: 'POST', body: { name: $('key-name').value.trim() } });
  // Keys turn on with the first one: this page goes on with the new key when it had none.
  if (!key()) setKey(created.key);
  $('key-name').value = '';
  $('key-value').textContent = created.key;
  $('key-new').hidden = false;
  notify(`Key “${created.name}” created.`);
  await showServer();
}

async function revokeKey(name) {
  if (!confirm(`Revoke the key “${name}”? Clients using it are refused from now on.`)) return;
  await call('/api/v1/keys/' + encodeURIComponent(name), { method: 'DELETE' });
  $('key-new').hidden = true;
  notify(`Key “${name}” revoked.`);
  await showServer();
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

async function changeNetwork() {
  const change = { local_network: $('network-local').checked, cors: $('network-cors').checked };
  // A page that reaches the service over the network loses it when the service stops serving there.
  if (!change.local_network && !LOOPBACK.includes(location.hostname.replace(/^\[|\]$/g, ''))
      && !confirm('This page reaches the service over the network, which it will no longer serve. Go on?')) {
    $('network-local').checked = true;
    return;
  }
  for (const box of document.querySelectorAll('#network-form input')) box.disabled = true;
  try {
    const served = await call('/api/v1/server', { method: 'PUT', body: change });
    notify(`Serving on ${served.bind}:${served.port}${served.cors ? ', answering other origins' : ''}.`);
  } finally {
    for (const box of document.querySelectorAll('#network-form input')) box.disabled = false;
    await showServer();
  }
}

export function wireServer() {
  $('network-form').addEventListener('change', () => changeNetwork().catch((error) => notify(error.message, true)));
  $('key-form').addEventListener('submit', (event) => createKey(event).catch((error) => notify(error.message, true)));
  for (const b of document.querySelectorAll('[data-copy]')) b.addEventListener('click', () => copy(b.dataset.copy));
}
