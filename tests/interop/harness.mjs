// What both interop tests share: starting and stopping the real exchange, HTTP calls, platform
// registration with jose-made keys, token minting, and a terminal over `ws`.
//
// Everything here follows docs/api.md and docs/protocol.md, not the exchange's source: a failure
// means the binary and the documents disagree.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import WebSocket from 'ws';

const STARTUP_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 15000;
const POLL_MS = 25;

// A running exchange in its own temporary data folder.
export class Exchange {
  constructor(child, dir, operatorToken) {
    this.child = child;
    this.dir = dir;
    this.operatorToken = operatorToken;
    this.output = '';
    this.exit = new Promise((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    this.exited = false;
    this.exit.then(() => {
      this.exited = true;
    });
    child.stdout.on('data', (chunk) => {
      this.output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      this.output += chunk;
    });
  }

  // Starts `switchboard serve` on a free loopback port and waits until /healthz answers 200.
  // `topology`: the path of a topology file to configure (docs/api.md, configuration file).
  static async start({ topology } = {}) {
    const bin = process.env.SWITCHBOARD_BIN;
    if (!bin) {
      throw new Error('SWITCHBOARD_BIN must name the switchboard binary');
    }
    const dir = await mkdtemp(join(tmpdir(), 'sb-interop-'));
    const operatorToken = `op_${randomBytes(24).toString('hex')}`;
    const portFile = join(dir, 'port');
    const args = ['serve', '--listen', '127.0.0.1:0', '--data', join(dir, 'data'), '--port-file', portFile];
    if (topology) {
      const config = join(dir, 'switchboard.toml');
      await writeFile(config, `topology = ${JSON.stringify(topology)}\n`);
      args.push('--config', config);
    }
    const child = spawn(
      bin,
      args,
      {
        env: { ...process.env, SWITCHBOARD_OPERATOR_TOKEN: operatorToken },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const exchange = new Exchange(child, dir, operatorToken);
    try {
      exchange.port = await exchange.#waitForPortFile(portFile);
      exchange.base = `http://127.0.0.1:${exchange.port}`;
      exchange.terminalUrl = `ws://127.0.0.1:${exchange.port}/v1/terminal`;
      await exchange.#waitForHealth();
    } catch (error) {
      await exchange.stop();
      throw new Error(`${error.message}\n--- exchange output ---\n${exchange.output}`);
    }
    return exchange;
  }

  async #waitForPortFile(portFile) {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.exited) {
        throw new Error('the exchange exited during start-up');
      }
      // The exchange writes the file whole (a rename), so a non-empty read is complete.
      const text = await readFile(portFile, 'utf8').catch(() => '');
      const port = Number.parseInt(text.trim(), 10);
      if (port > 0) {
        return port;
      }
      await delay(POLL_MS);
    }
    throw new Error('no port file within the start-up time');
  }

  async #waitForHealth() {
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const response = await fetch(`${this.base}/healthz`).catch(() => null);
      if (response?.status === 200) {
        return;
      }
      await delay(POLL_MS);
    }
    throw new Error('/healthz did not answer 200 within the start-up time');
  }

  // Sends SIGTERM and waits for the process to end; returns {code, signal}. Kills it if it hangs.
  async stop() {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await this.exit;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
    return this.exit;
  }

  // One HTTP call. `credential` is put in `Authorization: Bearer`; `body` is sent as JSON.
  // Returns {status, headers, text, json} (json is undefined when the body is not JSON).
  async call(method, path, { credential, body } = {}) {
    const headers = {};
    if (credential) {
      headers.authorization = `Bearer ${credential}`;
    }
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.base}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }
}

// An Ed25519 key pair made by jose, with its public JWK as the exchange wants it.
export async function makeKey(kid) {
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const jwk = await exportJWK(publicKey);
  return { kid, privateKey, jwk: { ...jwk, kid, use: 'sig', alg: 'EdDSA' } };
}

// Registers a platform (docs/api.md, POST /v1/platforms) with a fresh key. `credential` is the
// operator token or an enrollment token.
export async function registerPlatform(exchange, credential, name, accounts) {
  const key = await makeKey(`${name.toLowerCase().replace(/[^a-z0-9]/g, '')}-1`);
  const answer = await exchange.call('POST', '/v1/platforms', {
    credential,
    body: { name, accounts, jwks: { keys: [key.jwk] } },
  });
  if (answer.status !== 201) {
    throw new Error(`registering ${name} answered ${answer.status}: ${answer.text}`);
  }
  return {
    id: answer.json.platform_id,
    name,
    apiKey: answer.json.api_key,
    key,
    answer: answer.json,
  };
}

// A terminal token (docs/protocol.md, section 2) signed with the platform's key.
export async function mintToken(platform, account, { key = platform.key, expiresIn = '10m' } = {}) {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: 'JWT' })
    .setIssuer(platform.id)
    .setSubject(account)
    .setAudience('switchboard')
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(key.privateKey);
}

// One WebSocket to /v1/terminal. Frames from the exchange are queued until a test takes them.
export class Terminal {
  constructor(ws) {
    this.ws = ws;
    this.frames = [];
    this.waiters = [];
    this.closed = null;
    this.closeWaiters = [];
    ws.on('message', (data, isBinary) => {
      const frame = isBinary ? { binary: true } : JSON.parse(data.toString('utf8'));
      this.frames.push(frame);
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      for (const resolve of this.closeWaiters) {
        resolve(this.closed);
      }
      this.closeWaiters = [];
      this.#wake();
    });
  }

  static async open(url) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return new Terminal(ws);
  }

  // Opens a connection and says hello; resolves with the terminal and its welcome frame.
  static async connect(url, token, device) {
    const terminal = await Terminal.open(url);
    terminal.send({ type: 'hello', token, device });
    const welcome = await terminal.next((f) => f.type === 'welcome' || f.type === 'error');
    if (welcome.type !== 'welcome') {
      throw new Error(`hello refused: ${JSON.stringify(welcome)}`);
    }
    return { terminal, welcome };
  }

  send(frame) {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  // The first queued or coming frame that `match` accepts; it is taken off the queue.
  next(match = () => true, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const waiter = { match, resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(
          new Error(`no matching frame within ${timeoutMs} ms; queued: ${JSON.stringify(this.frames)}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
      this.#wake();
    });
  }

  // Resolves with {code, reason} once the exchange closed the connection.
  whenClosed(timeoutMs = 5000) {
    if (this.closed) {
      return Promise.resolve(this.closed);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the connection was not closed')), timeoutMs);
      this.closeWaiters.push((closed) => {
        clearTimeout(timer);
        resolve(closed);
      });
    });
  }

  close() {
    if (!this.closed) {
      this.ws.close(1000);
    }
    return this.whenClosed();
  }

  #wake() {
    for (const waiter of [...this.waiters]) {
      const index = this.frames.findIndex(waiter.match);
      if (index >= 0) {
        const [frame] = this.frames.splice(index, 1);
        clearTimeout(waiter.timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        waiter.resolve(frame);
      }
    }
  }
}
