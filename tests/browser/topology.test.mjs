// The operator's topology page (GET /admin/topology) in Debian's chromium, driven by playwright-core,
// against `switchboard serve` with the sample topology: a platform with a `location` policy, one
// terminal (over `ws`) reported in a Shenzhen TAI and sending messages; the page must list the
// terminal under edge-sz and show a non-zero message rate there.
//
// Needs SWITCHBOARD_BIN, /usr/bin/chromium, and `npm ci` in tests/browser and tests/interop (for
// `ws`). The screenshot goes to docs/screenshots/topology.png only when
// SWITCHBOARD_UPDATE_SCREENSHOTS=1, else to a temporary folder, so test runs leave the tree clean.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from '../interop/node_modules/ws/wrapper.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const binary = process.env.SWITCHBOARD_BIN;
const sampleTopology = path.resolve(here, '../../config/topology.sample.json');
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const operatorToken = 'sbo_' + crypto.randomBytes(24).toString('hex');
const szTai = '460-00-001a01';
const szCell = '460-00-001a01001';

let dir;
let exchange;
let exchangeExit;
let base;
let browser;
const sockets = [];

// Starts the exchange and resolves with its base URL once it prints that it listens.
function startExchange() {
  const config = path.join(dir, 'exchange.toml');
  fs.writeFileSync(config, `topology = ${JSON.stringify(sampleTopology)}\n`);
  exchange = spawn(binary, ['serve', '--config', config, '--listen', '127.0.0.1:0',
                            '--data', path.join(dir, 'data')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SWITCHBOARD_OPERATOR_TOKEN: operatorToken },
  });
  exchangeExit = new Promise((resolve) => exchange.once('exit', resolve));
  return new Promise((resolve, reject) => {
    exchange.once('exit', (code) => reject(new Error(`the exchange exited (${code}) before listening`)));
    readline.createInterface({ input: exchange.stdout }).on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) resolve(match[1]);
    });
  });
}

async function call(method, url, token, body) {
  const response = await fetch(base + url, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function base64url(value) {
  return Buffer.from(value).toString('base64url');
}

// A platform with one Ed25519 key; returns its id, key and a token minter for its accounts.
async function registerPlatform(name, accounts) {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  const registered = await call('POST', '/v1/platforms', operatorToken,
                                { name, accounts, jwks: { keys: [jwk] } });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const { platform_id: id, api_key: key } = registered.body;
  const mint = (account) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'EdDSA', typ: 'JWT', kid: 'k1' }));
    const claims = base64url(JSON.stringify({ iss: id, sub: account, aud: 'switchboard', iat: now,
                                              exp: now + 600 }));
    const signature = crypto.sign(null, Buffer.from(`${header}.${claims}`), privateKey);
    return `${header}.${claims}.${signature.toString('base64url')}`;
  };
  return { id, key, mint };
}

// A terminal that has said hello; `next(type)` resolves with the next frame of that type.
async function connectTerminal(token, device) {
  const socket = new WebSocket(base.replace('http', 'ws') + '/v1/terminal');
  sockets.push(socket);
  const waiting = [];
  const frames = [];
  socket.on('message', (data) => {
    const frame = JSON.parse(String(data));
    const at = waiting.findIndex((w) => w.type === frame.type);
    if (at >= 0) waiting.splice(at, 1)[0].resolve(frame);
    else frames.push(frame);
  });
  const next = (type) => {
    const at = frames.findIndex((f) => f.type === type);
    if (at >= 0) return Promise.resolve(frames.splice(at, 1)[0]);
    return new Promise((resolve) => waiting.push({ type, resolve }));
  };
  await new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject); });
  socket.send(JSON.stringify({ type: 'hello', token, device }));
  const welcome = await next('welcome');
  assert.equal(welcome.type, 'welcome');
  return { socket, next };
}

before(async () => {
  assert.ok(binary, 'SWITCHBOARD_BIN must name the switchboard binary');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-topology-'));
  base = await startExchange();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
                                    args: chromiumArgs });
});

after(async () => {
  for (const socket of sockets) socket.terminate();
  if (browser) await browser.close().catch(() => {});
  if (exchange && exchange.exitCode === null) exchange.kill('SIGTERM');
  await exchangeExit;
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the state endpoint is the operator\'s only', async () => {
  const anonymous = await fetch(base + '/v1/network/topology-state');
  assert.equal(anonymous.status, 401);
  const platform = await registerPlatform('Peek', ['eve']);
  const refused = await call('GET', '/v1/network/topology-state', platform.key);
  assert.equal(refused.status, 403);
  const state = await call('GET', '/v1/network/topology-state', operatorToken);
  assert.equal(state.status, 200);
  assert.deepEqual(state.body.sites.map((s) => s.site), ['core-bj', 'edge-sz', 'edge-gz', 'edge-sh']);
  assert.equal(state.body.sites[1].latency_to_main_ms, 13);
});

test('the page shows a terminal under its edge site, with a message rate', async () => {
  // A platform whose terminals in Shenzhen egress at edge-sz.
  const meta = await registerPlatform('Meta', ['alice', 'bob']);
  const policy = await call('PUT', `/v1/platforms/${meta.id}/offload-policy`, meta.key,
                            { kind: 'location', params: { areas: [{ dnai: 'dnai-sz-nanshan' }] } });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));

  // The operator opens the page and gives the token.
  const page = await browser.newPage({ viewport: { width: 1180, height: 900 } });
  page.on('pageerror', (error) => console.error('page error:', error.message));
  await page.goto(base + '/admin/topology');
  await page.getByLabel('Operator token').fill(operatorToken);
  await page.getByRole('button', { name: 'Connect' }).click();
  await page.locator('article[data-site="edge-sz"]').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.operatorToken')),
               operatorToken);

  // alice's terminal connects and is reported in Nanshan: her path is inserted at edge-sz.
  const alice = await connectTerminal(meta.mint('alice'), 'alice-phone');
  const report = await call('POST', '/v1/network/location-reports', operatorToken,
                            { platform: meta.id, account: 'alice', tai: szTai, cell: szCell });
  assert.equal(report.status, 200, JSON.stringify(report.body));
  assert.equal(report.body.terminals[0].path.site, 'edge-sz');

  // She sends a few messages between each poll of the page until the page shows them.
  let sent = 0;
  const shown = async () => page.evaluate(() => {
    const card = document.querySelector('article[data-site="edge-sz"]');
    const rate = card && Number(card.querySelector('.rate-line').dataset.rate);
    return Boolean(card && card.querySelector('li[data-account="alice"]') && rate > 0);
  });
  for (let round = 0; !(await shown()); ++round) {
    assert.ok(round < 50, 'the page never showed alice under edge-sz with a rate');
    for (let i = 0; i < 3; ++i) {
      const id = `m${++sent}`;
      alice.socket.send(JSON.stringify({
        type: 'send', id, from: { platform: meta.id, account: 'alice' },
        to: { platform: meta.id, account: 'bob' }, content: { type: 'app', app: 'game', n: sent },
      }));
      const accepted = await alice.next('accepted');
      assert.equal(accepted.id, id);
    }
    // The page's next poll; its drawing may land after this, and then the next round sees it.
    await page.waitForResponse((r) => r.url().endsWith('/v1/network/topology-state'));
  }

  const card = page.locator('article[data-site="edge-sz"]');
  const entry = card.locator('li[data-account="alice"]');
  assert.match(await entry.textContent(), /alice@meta · alice-phone · 460-00-001a01 \/ 460-00-001a01001/);
  assert.match(await entry.textContent(), /ulcl-sz → psa-sz/);
  assert.ok(Number(await card.locator('.rate-line').getAttribute('data-total')) >= 3);
  assert.equal(await page.locator('article[data-site="core-bj"] li[data-account="alice"]').count(), 0);
  assert.match(await page.locator('#map-desc').textContent(), /edge edge-sz \(Shenzhen\).*1 terminal/);

  const folder = process.env.SWITCHBOARD_UPDATE_SCREENSHOTS === '1'
    ? path.resolve(here, '../../docs/screenshots') : path.join(dir, 'screenshots');
  fs.mkdirSync(folder, { recursive: true });
  await page.screenshot({ path: path.join(folder, 'topology.png'), fullPage: true });
});
