// The conversations of one logged-in account, kept in localStorage so that a reload shows what was
// already received (the exchange forgets a message once every device acked it).
//
// Each message: { key, direction: 'in' | 'out', clientId, messageId, from: {platform,
// platform_name, account}, to: {platform, account}, content, ts, state, readSent }.
// Outgoing states only move forward: sending -> accepted -> delivered -> read; or rejected.

const kMaxMessagesPerConversation = 500;
const kMaxSeenIds = 5000;
const kRank = { sending: 0, accepted: 1, delivered: 2, read: 3 };

export function addressKey(address) {
  return `${address.account}@${address.platform}`;
}

export class ConversationStore {
  constructor(storageKey) {
    this.storageKey = storageKey;
    this.conversations = new Map();  // peer key -> { peer, messages: [] }
    this.seen = new Set();           // message ids of incoming messages already shown
    this.saveTimer = null;
    this.load();
  }

  load() {
    try {
      const saved = JSON.parse(localStorage.getItem(this.storageKey) || 'null');
      if (!saved) return;
      for (const c of saved.conversations || []) this.conversations.set(addressKey(c.peer), c);
      this.seen = new Set(saved.seen || []);
    } catch {
      // A corrupt entry is dropped rather than blocking the client.
      localStorage.removeItem(this.storageKey);
    }
  }

  save() {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      const seen = [...this.seen].slice(-kMaxSeenIds);
      const conversations = [...this.conversations.values()];
      localStorage.setItem(this.storageKey, JSON.stringify({ conversations, seen }));
    }, 50);
  }

  conversation(peer) {
    const key = addressKey(peer);
    let c = this.conversations.get(key);
    if (!c) {
      c = { peer: { ...peer }, messages: [] };
      this.conversations.set(key, c);
    }
    if (peer.platform_name && !c.peer.platform_name) c.peer.platform_name = peer.platform_name;
    return c;
  }

  append(peer, message) {
    const c = this.conversation(peer);
    c.messages.push(message);
    if (c.messages.length > kMaxMessagesPerConversation) c.messages.shift();
    this.save();
    return message;
  }

  addOutgoing({ clientId, from, to, content }) {
    return this.append(to, {
      key: `out:${clientId}`, direction: 'out', clientId, messageId: null, from, to, content,
      ts: Date.now(), state: 'sending', readSent: true,
    });
  }

  // Returns the new message, or null when this message id was shown before.
  addIncoming(frame) {
    if (this.seen.has(frame.message_id)) return null;
    this.seen.add(frame.message_id);
    return this.append(frame.from, {
      key: `in:${frame.message_id}`, direction: 'in', clientId: null,
      messageId: frame.message_id, from: frame.from, to: frame.to, content: frame.content,
      ts: frame.ts, state: 'received', readSent: false,
    });
  }

  findOutgoing(clientId, messageId) {
    for (const c of this.conversations.values()) {
      for (const m of c.messages) {
        if (m.direction !== 'out') continue;
        if (m.clientId === clientId || (messageId && m.messageId === messageId)) return m;
      }
    }
    return null;
  }

  // Sends still waiting for `accepted`, oldest first: re-sent with the same client id.
  pendingSends() {
    const pending = [];
    for (const c of this.conversations.values()) {
      for (const m of c.messages) if (m.direction === 'out' && m.state === 'sending') pending.push(m);
    }
    return pending.sort((a, b) => a.ts - b.ts);
  }

  // Moves an outgoing message forward; returns it when it changed.
  advance(clientId, messageId, state, extra = {}) {
    const m = this.findOutgoing(clientId, messageId);
    if (!m || m.state === 'rejected') return null;
    if (state !== 'rejected' && (kRank[state] ?? -1) <= (kRank[m.state] ?? -1)) return null;
    Object.assign(m, extra, { state });
    if (messageId) m.messageId = messageId;
    this.save();
    return m;
  }

  unread(peer) {
    const c = this.conversations.get(addressKey(peer));
    return c ? c.messages.filter((m) => m.direction === 'in' && !m.readSent) : [];
  }
}
