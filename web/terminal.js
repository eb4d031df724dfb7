// The terminal protocol over one WebSocket to the exchange (docs/protocol.md), with reconnection.
//
// A Terminal says `hello` with its token and device id on every (re)connection, reports frames to
// its owner, and reconnects after a loss with exponential backoff. It never reconnects while the
// browser reports itself offline: it waits for the `online` event instead. When the browser goes
// offline it closes the socket at once, because a socket on a lost network may otherwise linger
// half-open for minutes.
//
// What must survive a reconnection (unaccepted sends, unacked messages) is the owner's business:
// `onWelcome` runs after every successful hello, and is where the owner re-sends.

const kFirstDelayMs = 500;
const kMaxDelayMs = 15000;
// Error codes after which reconnecting with the same token cannot help.
const kFatalCodes = new Set(['unauthenticated', 'token_expired', 'bad_token', 'platform_not_registered']);

export class Terminal {
  // url: ws://HOST:PORT/v1/terminal; handlers: onWelcome(frame), onFrame(frame),
  // onStatus(status: 'connecting' | 'online' | 'offline' | 'waiting-for-network'), onFatal(frame).
  constructor({ url, token, device, handlers }) {
    this.url = url;
    this.token = token;
    this.device = device;
    this.handlers = handlers;
    this.socket = null;
    this.welcomed = false;
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.onOnline = () => this.reconnectNow();
    this.onOffline = () => this.dropForOffline();
  }

  start() {
    this.stopped = false;
    window.addEventListener('online', this.onOnline);
    window.addEventListener('offline', this.onOffline);
    this.connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener('online', this.onOnline);
    window.removeEventListener('offline', this.onOffline);
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, 'bye');
    this.socket = null;
  }

  // Sends a frame when the session is up; returns false (nothing sent) otherwise.
  send(frame) {
    if (!this.welcomed || this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  isOnline() {
    return this.welcomed;
  }

  connect() {
    if (this.stopped) return;
    if (!navigator.onLine) {
      this.setStatus('waiting-for-network');
      return;
    }
    this.setStatus('connecting');
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this.welcomed = false;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: 'hello', token: this.token, device: this.device }));
    };
    socket.onmessage = (event) => this.receive(socket, event.data);
    socket.onclose = () => this.lost(socket);
  }

  receive(socket, text) {
    if (socket !== this.socket) return;
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === 'welcome') {
      this.welcomed = true;
      this.attempt = 0;
      this.setStatus('online');
      this.handlers.onWelcome(frame);
      return;
    }
    if (frame.type === 'error' && kFatalCodes.has(frame.code)) {
      this.stop();
      this.handlers.onFatal(frame);
      return;
    }
    this.handlers.onFrame(frame);
  }

  lost(socket) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.welcomed = false;
    if (this.stopped) return;
    this.setStatus(navigator.onLine ? 'offline' : 'waiting-for-network');
    if (!navigator.onLine) return;  // the `online` event reconnects
    const delay = Math.min(kMaxDelayMs, kFirstDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    // Jitter spreads the reconnections of many terminals after an exchange restart.
    this.retryTimer = setTimeout(() => this.connect(), delay / 2 + Math.random() * (delay / 2));
  }

  reconnectNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.connect();
  }

  dropForOffline() {
    if (this.stopped) return;
    const socket = this.socket;
    this.socket = null;
    this.welcomed = false;
    clearTimeout(this.retryTimer);
    if (socket) socket.close(1000, 'offline');
    this.setStatus('waiting-for-network');
  }

  setStatus(status) {
    this.handlers.onStatus(status);
  }
}
