// The page: its screens as tabs (the address's #hash names the screen), and the key field shown
// when the service asks for a key.
import { KeyRequired, key, notify, setKey } from './api.js';
import { showModels } from './models.js';
import { showDiscover, wireDiscover } from './discover.js';
import { showLoad, showInstances, wireLoad } from './load.js';
import { showChat, wireChat } from './chat.js';
import { showLogs, wireLogs } from './logs.js';
import { showServer, wireServer } from './server.js';

const screens = { models: showModels, discover: showDiscover, load: showLoad, chat: showChat, logs: showLogs, server: showServer };
const tabs = [...document.querySelectorAll('[role="tab"]')];
let current = null;

async function show(name) {
  if (!(name in screens)) name = 'models';
  current = name;
  for (const tab of tabs) {
    const selected = tab.getAttribute('aria-controls') === name;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(tab.getAttribute('aria-controls')).hidden = !selected;
  }
  if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
  if (!document.getElementById('login').hidden) return;  // waiting for a key
  notify('');
  await refresh();
}

async function refresh() {
  try {
    await screens[current]();
    document.body.dataset.ready = current;
  } catch (error) {
    if (!(error instanceof KeyRequired)) notify(error.message, true);
  }
}

function showKeyState() {
  document.getElementById('login').hidden = true;
  document.getElementById('logout').hidden = !key();
}

document.addEventListener('wick:key-required', () => {
  document.getElementById('login').hidden = false;
  document.getElementById('logout').hidden = true;
  notify(key() ? 'The service refused this key: enter another.' : 'This service needs an API key.', true);
  document.getElementById('login-key').focus();
});
document.getElementById('login').addEventListener('submit', (event) => {
  event.preventDefault();
  setKey(document.getElementById('login-key').value.trim());
  document.getElementById('login-key').value = '';
  showKeyState();
  notify('');
  refresh();
});
document.getElementById('logout').addEventListener('click', () => { setKey(''); showKeyState(); notify('The key is forgotten.'); refresh(); });

tabs.forEach((tab, i) => {
  tab.addEventListener('click', () => show(tab.getAttribute('aria-controls')));
  tab.addEventListener('keydown', (event) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0;
    if (!step) return;
    const next = tabs[(i + step + tabs.length) % tabs.length];
    next.focus();
    show(next.getAttribute('aria-controls'));
  });
});
window.addEventListener('hashchange', () => show(location.hash.slice(1)));
wireDiscover();
wireLoad();
wireChat();
wireLogs();
wireServer();
showKeyState();
// Loaded instances change under the page (TTL, other clients): the Load screen keeps up.
setInterval(() => { if (current === 'load' && !document.hidden) showInstances().catch(() => {}); }, 3000);
// The log grows as the service works: its screen follows.
setInterval(() => { if (current === 'logs' && !document.hidden) showLogs().catch(() => {}); }, 1000);
show(location.hash.slice(1));
