// Chat: a streamed conversation with a loaded model; reasoning folded, tool calls shown as such,
// time to first token and tokens per second under each reply.
import { events, notify } from './api.js';
import { loadedInstances } from './load.js';

const $ = (id) => document.getElementById(id);
let messages = [];
let running = null;

export async function showChat() {
  const select = $('chat-model');
  const chosen = select.value;
  const instances = (await loadedInstances()).filter((i) => i.status !== 'loading');
  select.replaceChildren(...instances.map((i) => new Option(i.identifier, i.identifier)));
  if (instances.some((i) => i.identifier === chosen)) select.value = chosen;
  $('chat-send').disabled = instances.length === 0 || running !== null;
  if (instances.length === 0) notify('Load a model to chat with it.');
}

function entry(role, text) {
  const li = document.createElement('li');
  li.className = role;
  const body = document.createElement('span');
  body.className = 'content';
  body.textContent = text;
  li.append(body);
  $('chat-log').append(li);
  return li;
}

/** The tools the model may call (an OpenAI `tools` array in the field), or undefined when none. */
function tools() {
  const text = $('chat-tools').value.trim();
  if (!text) return undefined;
  let parsed;
  try { parsed = JSON.parse(text); } catch (error) { throw new Error(`The tools are not JSON: ${error.message}`); }
  if (!Array.isArray(parsed)) throw new Error('The tools must be a JSON array of {"type": "function", "function": {...}} objects.');
  return parsed;
}

async function send(event) {
  event.preventDefault();
  const text = $('chat-input').value.trim();
  if (!text || running) return;
  let offered;
  try { offered = tools(); } catch (error) { notify(error.message, true); return; }
  messages.push({ role: 'user', content: text });
  entry('user', text);
  $('chat-input').value = '';
  const reply = entry('assistant', '');
  const content = reply.querySelector('.content');
  const system = $('chat-system').value.trim();
  const body = {
    model: $('chat-model').value, stream: true, stream_options: { include_usage: true },
    messages: system ? [{ role: 'system', content: system }, ...messages] : messages,
    temperature: Number($('chat-temperature').value), max_tokens: Number($('chat-max-tokens').value),
  };
  if (offered) { body.tools = offered; body.tool_choice = $('chat-tool-choice').value; }
  running = new AbortController();
  $('chat-send').disabled = true;
  $('chat-stop').disabled = false;
  const started = performance.now();
  let first = null, answer = '', reasoning = null, usage = null, finish = null;
  const calls = [];
  try {
    for await (const chunk of events('/v1/chat/completions', body, running.signal)) {
      if (chunk.error) throw new Error(chunk.error.message || 'the generation failed');
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      if (!choice) continue;
      const delta = choice.delta || {};
      if (first === null && (delta.content || delta.reasoning_content || delta.tool_calls)) first = performance.now();
      if (delta.reasoning_content) {
        if (!reasoning) {
          const details = document.createElement('details');
          details.innerHTML = '<summary>Reasoning</summary>';
          reasoning = document.createElement('span');
          details.append(reasoning);
          reply.prepend(details);
        }
        reasoning.textContent += delta.reasoning_content;
      }
      if (delta.content) { answer += delta.content; content.textContent = answer; }
      for (const call of delta.tool_calls || []) {
        let shown = calls[call.index];
        if (!shown) {
          shown = calls[call.index] = document.createElement('code');
          shown.className = 'tool-call';
          shown.dataset.name = call.function?.name || '';
          shown.textContent = `call ${shown.dataset.name}(`;
          reply.append(shown);
        }
        shown.textContent += call.function?.arguments || '';
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  } catch (error) {
    if (error.name !== 'AbortError') notify(`The reply failed: ${error.message}`, true);
    finish = finish || (error.name === 'AbortError' ? 'stopped' : 'error');
  }
  for (const shown of calls) if (shown) shown.textContent += ')';
  messages.push({ role: 'assistant', content: answer });
  const meta = document.createElement('span');
  meta.className = 'meta';
  const ended = performance.now();
  const parts = [];
  if (first !== null) parts.push(`first token after ${((first - started) / 1000).toFixed(2)} s`);
  if (usage && first !== null && ended > first) {
    parts.push(`${usage.completion_tokens} tokens, ${(Math.max(usage.completion_tokens - 1, 0) / ((ended - first) / 1000)).toFixed(1)} tokens/s`);
  }
  if (finish) parts.push(`finished: ${finish}`);
  meta.textContent = parts.join(' · ');
  reply.append(meta);
  running = null;
  $('chat-send').disabled = false;
  $('chat-stop').disabled = true;
}

export function wireChat() {
  $('chat-form').addEventListener('submit', send);
  $('chat-input').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) $('chat-form').requestSubmit(); });
  $('chat-stop').addEventListener('click', () => running?.abort());
  $('chat-clear').addEventListener('click', () => { running?.abort(); messages = []; $('chat-log').replaceChildren(); });
}
