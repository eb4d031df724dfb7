// The browser client: log-in and sign-up against this platform's /api, the user list grouped by
// platform, and conversations over the exchange's terminal WebSocket (terminal.js).
//
// Delivery rules kept here: every message is shown once (deduplicated by message_id) and acked
// after it is shown, also when it is a repeat; a send keeps its client id until `accepted`, and is
// re-sent with that id after every reconnection; read marks go out for the open conversation while
// the page is visible.
import { Terminal } from './terminal.js';
import { ConversationStore, addressKey } from './store.js';

const $ = (id) => document.getElementById(id);
const kSessionKey = 'switchboard.session';
const kDeviceKey = 'switchboard.device';
const kStatusText = {
  'signed-out': 'Signed out',
  connecting: 'Connecting…',
  online: 'Connected',
  offline: 'Connection lost, reconnecting…',
  'waiting-for-network': 'Offline: waiting for the network',
};
const kStateText = {
  sending: 'sending', accepted: 'accepted', delivered: 'delivered', read: 'read', rejected: 'not sent',
};

const app = {
  platform: null,     // {platform_id, platform_name, exchange_ws}
  session: null,      // the log-in answer
  store: null,
  terminal: null,
  directory: [],      // [{platform_id, platform_name, accounts}]
  current: null,      // the open conversation's peer {platform, platform_name, account}
  signingUp: false,
};

// --- Platform API ------------------------------------------------------------------------------

async function api(method, path, body, token) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(answer.error?.message || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return answer;
}

function deviceId() {
  let id = localStorage.getItem(kDeviceKey);
  if (!id) {
    id = `web-${crypto.randomUUID()}`;
    localStorage.setItem(kDeviceKey, id);
  }
  return id;
}

function newClientId() {
  return `c${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

// --- Log-in ------------------------------------------------------------------------------------

function showLogin(message = '') {
  $('chat-view').hidden = true;
  $('who').hidden = true;
  $('login-view').hidden = false;
  $('login-error').textContent = message;
  setStatus('signed-out');
  $('login-account').focus();
}

function setSignupMode(on) {
  app.signingUp = on;
  $('login-title').textContent = on ? 'Create an account' : 'Log in';
  $('login-submit').textContent = on ? 'Create account' : 'Log in';
  $('mode-toggle').textContent = on ? 'I have an account: log in' : 'Create an account instead';
  $('discoverable-row').hidden = !on;
  $('login-password').autocomplete = on ? 'new-password' : 'current-password';
  $('login-error').textContent = '';
}

async function submitLogin(event) {
  event.preventDefault();
  const account = $('login-account').value.trim();
  const password = $('login-password').value;
  if (!account || !password) {
    $('login-error').textContent = 'Enter an account and a password.';
    return;
  }
  $('login-submit').disabled = true;
  try {
    if (app.signingUp) {
      await api('POST', '/api/signup', {
        account, password, discoverable: $('signup-discoverable').checked,
      });
    }
    const session = await api('POST', '/api/login', { account, password });
    sessionStorage.setItem(kSessionKey, JSON.stringify(session));
    $('login-password').value = '';
    setSignupMode(false);
    enterChat(session);
  } catch (error) {
    $('login-error').textContent = error.message;
  } finally {
    $('login-submit').disabled = false;
  }
}

function logOut(message = '') {
  app.terminal?.stop();
  app.terminal = null;
  app.session = null;
  app.current = null;
  sessionStorage.removeItem(kSessionKey);
  $('messages').replaceChildren();
  showLogin(message);
}

// --- Chat --------------------------------------------------------------------------------------

function enterChat(session) {
  app.session = session;
  app.store = new ConversationStore(`switchboard.history.${session.platform_id}.${session.account}`);
  $('login-view').hidden = true;
  $('chat-view').hidden = false;
  $('who').hidden = false;
  $('who-name').textContent = `${session.account} · ${session.platform_name}`;

  app.terminal = new Terminal({
    url: session.exchange_ws,
    token: session.token,
    device: deviceId(),
    handlers: { onWelcome, onFrame, onStatus: setStatus, onFatal },
  });
  app.terminal.start();
  renderPeople();
  loadUsers();
  $('people-title').focus();
}

async function loadUsers() {
  try {
    const answer = await api('GET', '/api/users', undefined, app.session.token);
    app.directory = answer.platforms;
    renderPeople();
  } catch (error) {
    if (error.status === 401) logOut('Your session has ended. Please log in again.');
  }
}

function setStatus(status) {
  const element = $('connection');
  element.dataset.status = status;
  element.textContent = kStatusText[status] || status;
}

function onFatal(frame) {
  logOut(`The exchange ended the session (${frame.code}). Please log in again.`);
}

function onWelcome() {
  // Whatever was not accepted before the connection broke goes again, with the same client ids,
  // in the order written; the exchange answers a repeat with the first message_id.
  for (const m of app.store.pendingSends()) app.terminal.send(sendFrame(m));
  sendReads();
}

function onFrame(frame) {
  switch (frame.type) {
    case 'message': return onMessage(frame);
    case 'accepted':
      return updateOutgoing(app.store.advance(frame.id, frame.message_id, 'accepted'));
    case 'rejected':
      return updateOutgoing(app.store.advance(frame.id, null, 'rejected', { error: frame.code }));
    case 'receipt':
      return updateOutgoing(app.store.advance(frame.id, frame.message_id, frame.status));
    case 'error':
      console.warn('exchange error', frame.code, frame.message);
      return undefined;
    default:
      return undefined;
  }
}

function onMessage(frame) {
  const message = app.store.addIncoming(frame);
  if (message) {
    if (app.current && addressKey(app.current) === addressKey(frame.from)) {
      $('messages').append(renderMessage(message));
      scrollToEnd();
    } else {
      renderPeople();
    }
  }
  // Acked once shown, and acked again when it was a repeat: the earlier ack may have been lost.
  app.terminal.send({ type: 'ack', message_id: frame.message_id });
  sendReads();
}

function sendReads() {
  if (!app.current || document.visibilityState !== 'visible' || !app.terminal?.isOnline()) return;
  let sent = false;
  for (const m of app.store.unread(app.current)) {
    if (!app.terminal.send({ type: 'read', message_id: m.messageId })) break;
    m.readSent = true;
    sent = true;
  }
  if (sent) {
    app.store.save();
    renderPeople();
  }
}

function sendFrame(m) {
  return {
    type: 'send', id: m.clientId,
    from: { platform: app.session.platform_id, account: app.session.account },
    to: { platform: m.to.platform, account: m.to.account },
    content: m.content,
  };
}

function submitMessage(event) {
  event?.preventDefault();
  const input = $('compose-text');
  const text = input.value.trim();
  if (!text || !app.current) return;
  const message = app.store.addOutgoing({
    clientId: newClientId(),
    from: {
      platform: app.session.platform_id, platform_name: app.session.platform_name,
      account: app.session.account,
    },
    to: { platform: app.current.platform, account: app.current.account },
    content: { type: 'text', text },
  });
  input.value = '';
  $('messages').append(renderMessage(message));
  scrollToEnd();
  // When offline it stays `sending` and goes out after the next welcome.
  app.terminal.send(sendFrame(message));
}

function openConversation(peer) {
  app.current = peer;
  const conversation = app.store.conversation(peer);
  const name = peer.platform_name || conversation.peer.platform_name || peer.platform;
  $('conversation-title').textContent = `Conversation with ${peer.account} · ${name} (${peer.platform})`;
  $('messages').replaceChildren(...conversation.messages.map(renderMessage));
  $('compose').hidden = false;
  renderPeople();
  scrollToEnd();
  $('compose-text').focus();
  sendReads();
}

function openAddress(event) {
  event.preventDefault();
  const text = $('address-input').value.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) {
    $('address-error').textContent = 'Write an address as account@platform-id.';
    return;
  }
  $('address-error').textContent = '';
  const platform = text.slice(at + 1);
  const group = app.directory.find((g) => g.platform_id === platform);
  openConversation({ platform, account: text.slice(0, at), platform_name: group?.platform_name });
}

// --- Rendering ---------------------------------------------------------------------------------

function senderOf(m) {
  if (m.direction === 'out') {
    return { account: app.session.account, name: app.session.platform_name, id: app.session.platform_id };
  }
  return { account: m.from.account, name: m.from.platform_name || m.from.platform, id: m.from.platform };
}

function renderMessage(m) {
  const item = document.createElement('li');
  item.className = `msg ${m.direction}`;
  item.dataset.key = m.key;
  if (m.messageId) item.dataset.messageId = m.messageId;

  const sender = senderOf(m);
  const meta = document.createElement('p');
  meta.className = 'meta';
  const from = element('span', 'msg-from', sender.account);
  const platform = element('span', 'msg-platform', `${sender.name} (${sender.id})`);
  const time = element('time', 'msg-time', new Date(m.ts).toLocaleTimeString([], {
    hour: '2-digit', minute: '2-digit',
  }));
  time.dateTime = new Date(m.ts).toISOString();
  meta.append(from, ' · ', platform, ' ', time);

  const body = element('p', 'msg-text', contentText(m.content));
  item.append(meta, body);
  if (m.direction === 'out') item.append(element('p', 'msg-state', ''));
  updateState(item, m);
  return item;
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  node.className = className;
  node.textContent = text;
  return node;
}

function contentText(content) {
  if (content?.type === 'text') return content.text;
  return `[${content?.app || 'app'}] ${JSON.stringify(content)}`;
}

function updateState(item, m) {
  const state = item.querySelector('.msg-state');
  if (!state) return;
  state.dataset.state = m.state;
  state.textContent = m.state === 'rejected' ? `not sent: ${m.error}` : kStateText[m.state];
}

function updateOutgoing(m) {
  if (!m) return;
  const item = $('messages').querySelector(`[data-key="${CSS.escape(m.key)}"]`);
  if (!item) return;
  if (m.messageId) item.dataset.messageId = m.messageId;
  updateState(item, m);
}

function scrollToEnd() {
  const list = $('messages');
  list.scrollTop = list.scrollHeight;
}

// The directory's groups, with conversations whose peer is not listed added to their platform.
function peopleGroups() {
  const groups = app.directory.map((g) => ({ ...g, accounts: [...g.accounts] }));
  for (const c of app.store.conversations.values()) {
    let group = groups.find((g) => g.platform_id === c.peer.platform);
    if (!group) {
      group = { platform_id: c.peer.platform, platform_name: c.peer.platform_name || c.peer.platform, accounts: [] };
      groups.push(group);
    }
    if (!group.accounts.includes(c.peer.account)) group.accounts.push(c.peer.account);
  }
  return groups;
}

function renderPeople() {
  const container = $('user-list');
  const sections = [];
  for (const group of peopleGroups()) {
    const own = group.platform_id === app.session.platform_id;
    const accounts = group.accounts.filter((a) => !(own && a === app.session.account));
    if (accounts.length === 0) continue;
    const section = document.createElement('section');
    section.className = 'platform-group';
    section.dataset.platformId = group.platform_id;
    const heading = element('h3', '', group.platform_name);
    heading.append(' ', element('span', 'muted', group.platform_id));
    const list = document.createElement('ul');
    for (const account of accounts) list.append(personItem(group, account));
    section.append(heading, list);
    sections.push(section);
  }
  if (sections.length === 0) sections.push(element('p', 'muted', 'Nobody to list yet.'));
  container.replaceChildren(...sections);
}

function personItem(group, account) {
  const peer = { platform: group.platform_id, platform_name: group.platform_name, account };
  const unread = app.store.unread(peer).length;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'person';
  button.dataset.address = addressKey(peer);
  button.textContent = account;
  const current = app.current && addressKey(app.current) === addressKey(peer);
  if (current) button.setAttribute('aria-current', 'true');
  if (unread > 0) button.append(' ', element('span', 'badge', `${unread} new`));
  button.setAttribute('aria-label',
    `${account}, ${group.platform_name}${unread > 0 ? `, ${unread} new messages` : ''}`);
  button.addEventListener('click', () => openConversation(peer));
  const item = document.createElement('li');
  item.append(button);
  return item;
}

// --- Start -------------------------------------------------------------------------------------

async function boot() {
  $('login-form').addEventListener('submit', submitLogin);
  $('mode-toggle').addEventListener('click', () => setSignupMode(!app.signingUp));
  $('logout').addEventListener('click', () => logOut());
  $('refresh-users').addEventListener('click', loadUsers);
  $('address-form').addEventListener('submit', openAddress);
  $('compose').addEventListener('submit', submitMessage);
  $('compose-text').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) submitMessage(event);
  });
  document.addEventListener('visibilitychange', sendReads);

  try {
    app.platform = await api('GET', '/api/platform');
    $('platform-name').textContent = app.platform.platform_name;
    $('platform-id').textContent = app.platform.platform_id;
    document.title = `${app.platform.platform_name} · Switchboard`;
  } catch {
    $('login-error').textContent = 'This platform does not answer; try again shortly.';
  }

  const saved = JSON.parse(sessionStorage.getItem(kSessionKey) || 'null');
  if (saved && saved.expires_at > Date.now()) enterChat(saved);
  else showLogin();
}

boot();
