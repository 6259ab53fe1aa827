// Load: a model at a chosen context length (the memory estimate follows the slider), and the loaded instances.
import { bytes, button, call, notify, emptyRow, row } from './api.js';
import { downloadedModels } from './models.js';

const $ = (id) => document.getElementById(id);
let models = [];
let estimating = 0;

export async function showLoad() {
  models = await downloadedModels();
  const select = $('load-model');
  const chosen = select.value;
  select.replaceChildren(...models.map((m) => new Option(`${m.key} (${m.params}, ${m.quantization})`, m.key)));
  if (models.some((m) => m.key === chosen)) select.value = chosen;
  chooseModel();
  await showInstances();
}

function chooseModel() {
  const model = models.find((m) => m.key === $('load-model').value);
  const trained = model?.max_context_length || 131072;
  const range = $('load-context-range'), field = $('load-context');
  range.max = String(trained);
  field.max = String(trained);
  const value = Math.min(trained, 8192);
  range.value = String(value);
  field.value = String(value);
  $('load-button').disabled = !model;
  estimate();
}

/** The memory a load at this context would take, from the service's own planner. */
async function estimate() {
  const model = $('load-model').value, context = Number($('load-context').value);
  const out = $('load-estimate');
  if (!model || !(context >= 16)) { out.textContent = ''; return; }
  const ticket = ++estimating;
  try {
    const plan = await call('/api/v1/models/load', { method: 'POST', body: { model, context_length: context, estimate_only: true } });
    if (ticket !== estimating) return;
    const e = plan.estimate;
    const near = e.total_bytes > 0.9 * plan.available_bytes;
    out.textContent = `Needs ${bytes(e.total_bytes)} (weights ${bytes(e.weights_bytes)}, KV cache ${bytes(e.kv_cache_bytes)}, ` +
      `working memory ${bytes(e.scratch_bytes)}) of ${bytes(plan.available_bytes)} available` +
      (!plan.fits ? ' — too much: choose a shorter context.' : near ? ' — close to the limit.' : '.');
    out.classList.toggle('warn', !plan.fits || near);
  } catch (error) {
    if (ticket === estimating) { out.textContent = error.message; out.classList.add('warn'); }
  }
}

async function load(event) {
  event.preventDefault();
  const body = { model: $('load-model').value, context_length: Number($('load-context').value) };
  if ($('load-ttl').value) body.ttl = Number($('load-ttl').value);
  if ($('load-identifier').value.trim()) body.identifier = $('load-identifier').value.trim();
  $('load-button').disabled = true;
  notify(`Loading ${body.model}…`);
  try {
    const loaded = await call('/api/v1/models/load', { method: 'POST', body });
    notify(`Loaded ${loaded.instance_id} with a context of ${loaded.load_config.context_length} in ${loaded.load_time_seconds.toFixed(1)} s.`);
  } catch (error) {
    notify(`${body.model} was not loaded: ${error.message}`, true);
  }
  $('load-button').disabled = false;
  await showInstances();
}

export async function loadedInstances() {
  return (await call('/api/v1/instances')).instances;
}

export async function showInstances() {
  const instances = await loadedInstances();
  const rows = $('instance-rows');
  rows.replaceChildren(...instances.map((i) => row([
    i.identifier, i.model, i.context_length ?? '', i.status, i.queued ?? '', i.size_bytes ? bytes(i.size_bytes) : '',
    i.status === 'loading' ? '' : button('Unload', () => unload(i.identifier), `Unload ${i.identifier}`),
  ])));
  if (instances.length === 0) {
    rows.append(emptyRow('Nothing is loaded.', 7));
  }
}

async function unload(identifier) {
  try {
    await call('/api/v1/models/unload', { method: 'POST', body: { instance_id: identifier } });
    notify(`Unloaded ${identifier}.`);
  } catch (error) {
    notify(`${identifier} was not unloaded: ${error.message}`, true);
  }
  await showInstances();
}

export function wireLoad() {
  $('load-model').addEventListener('change', chooseModel);
  $('load-context-range').addEventListener('input', () => { $('load-context').value = $('load-context-range').value; estimate(); });
  $('load-context').addEventListener('input', () => { $('load-context-range').value = $('load-context').value; estimate(); });
  $('load-form').addEventListener('submit', load);
}
