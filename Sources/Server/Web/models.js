// My models: the store's models, with delete.
import { bytes, button, call, notify, emptyRow, row } from './api.js';

export async function downloadedModels() {
  return (await call('/api/v1/models')).models;
}

export async function showModels() {
  const rows = document.getElementById('model-rows');
  const models = await downloadedModels();
  rows.replaceChildren(...models.map((m) => row([
    m.key, m.params, m.architecture, m.quantization, bytes(m.size_bytes), m.max_context_length ?? '?',
    m.loaded ? m.loaded_instances.map((i) => `${i.id} (${i.config.context_length})`).join(', ') : 'no',
    button('Delete', () => remove(m.key), `Delete ${m.key}`),
  ])));
  if (models.length === 0) {
    rows.append(emptyRow('No model is downloaded yet: `wick get OWNER/REPO` downloads one.', 8));
  }
}

async function remove(modelKey) {
  if (!confirm(`Delete ${modelKey} from this machine?`)) return;
  try {
    await call('/api/delete', { method: 'DELETE', body: { model: modelKey } });
    notify(`Deleted ${modelKey}.`);
  } catch (error) {
    notify(`${modelKey} was not deleted: ${error.message}`, true);
  }
  await showModels();
}
