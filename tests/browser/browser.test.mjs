// The browser client in Debian's chromium (driven by playwright-core) against `switchboard demo`:
// users of two platforms talk both ways, each page shows the other's platform and account, and
// messages sent to a page while its network is down arrive once each, in order, when it returns.
//
// Needs SWITCHBOARD_BIN (the binary) and /usr/bin/chromium. Screenshots go to a temporary folder,
// or to docs/screenshots/ when SWITCHBOARD_UPDATE_SCREENSHOTS=1 (to refresh the documentation).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const screenshots =
  process.env.SWITCHBOARD_UPDATE_SCREENSHOTS === '1'
    ? path.resolve(here, '../../docs/screenshots')
    : fs.mkdtempSync(path.join(os.tmpdir(), 'sb-screenshots-'));
const binary = process.env.SWITCHBOARD_BIN;
const chromiumArgs = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

let demo;
let demoExit;
let dataDir;
let info;
const browsers = [];

async function waitForFile(file, child) {
  let exited = false;
  child.once('exit', () => { exited = true; });
  while (!fs.existsSync(file)) {
    if (exited) throw new Error('the demo exited before it was ready');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

before(async () => {
  assert.ok(binary, 'SWITCHBOARD_BIN must name the switchboard binary');
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-browser-'));
  demo = spawn(binary, ['demo', '--data', path.join(dataDir, 'demo'), '--base-port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  demoExit = new Promise((resolve) => demo.once('exit', resolve));
  demo.stdout.on('data', () => {});
  await waitForFile(path.join(dataDir, 'demo', 'demo.json'), demo);
  info = JSON.parse(fs.readFileSync(path.join(dataDir, 'demo', 'demo.json'), 'utf8'));
  fs.mkdirSync(screenshots, { recursive: true });
});

after(async () => {
  for (const context of browsers) await context.close().catch(() => {});
  if (demo && demo.exitCode === null) demo.kill('SIGTERM');
  await demoExit;
  fs.rmSync(dataDir, { recursive: true, force: true });
});

// A fresh browser (its own profile folder, so its own localStorage and device id).
async function newBrowser() {
  const profile = fs.mkdtempSync(path.join(dataDir, 'profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1100, height: 720 },
  });
  browsers.push(context);
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => console.error('page error:', error.message));
  return { context, page };
}

function platform(name) {
  return info.platforms.find((p) => p.name === name);
}

async function logIn(page, platformInfo, account, screenshot) {
  const user = platformInfo.users.find((u) => u.account === account);
  await page.goto(platformInfo.url);
  await page.getByLabel('Account', { exact: true }).fill(user.account);
  await page.getByLabel('Password', { exact: true }).fill(user.password);
  if (screenshot) await page.screenshot({ path: path.join(screenshots, screenshot) });
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#connection[data-status="online"]').waitFor();
}

async function openConversation(page, address) {
  await page.locator(`button.person[data-address="${address}"]`).click();
  await page.getByLabel('Message', { exact: true }).waitFor();
}

async function send(page, text) {
  await page.getByLabel('Message', { exact: true }).fill(text);
  await page.getByLabel('Message', { exact: true }).press('Enter');
}

// Waits until the open conversation's outgoing message with `text` reaches one of `states`.
async function waitForState(page, text, ...states) {
  await page.waitForFunction(([t, s]) => [...document.querySelectorAll('#messages li.msg.out')]
    .some((li) => li.querySelector('.msg-text').textContent === t &&
                  s.includes(li.querySelector('.msg-state').dataset.state)), [text, states]);
}

// The incoming messages of the open conversation: [{from, platform, text}].
async function incoming(page) {
  return page.$$eval('#messages li.msg.in', (items) => items.map((li) => ({
    from: li.querySelector('.msg-from').textContent,
    platform: li.querySelector('.msg-platform').textContent,
    text: li.querySelector('.msg-text').textContent,
  })));
}

async function waitForIncomingCount(page, prefix, count) {
  await page.waitForFunction(([p, n]) => [...document.querySelectorAll('#messages li.msg.in')]
    .filter((li) => li.querySelector('.msg-text').textContent.startsWith(p)).length >= n,
  [prefix, count]);
}

test('users of two platforms message each other and see each other\'s platform', async () => {
  const meta = platform('Meta World');
  const shop = platform('Shop');
  const a = await newBrowser();
  const b = await newBrowser();
  await logIn(a.page, meta, 'alice', 'login.png');
  await logIn(b.page, shop, 'dave');

  // The user list is grouped by platform, with the other platform's discoverable accounts only.
  const shopGroup = a.page.locator(`.platform-group[data-platform-id="${shop.platform_id}"]`);
  await shopGroup.locator('button.person[data-address="dave@shop"]').waitFor();
  assert.match(await shopGroup.locator('h3').textContent(), /Shop\s+shop/);
  const metaGroup = b.page.locator(`.platform-group[data-platform-id="${meta.platform_id}"]`);
  await metaGroup.locator('button.person[data-address="alice@metaworld"]').waitFor();
  assert.equal(await b.page.locator('button.person[data-address="carol@metaworld"]').count(), 0);

  // Alice writes first; the message is delivered before Dave opens the conversation.
  await openConversation(a.page, `dave@${shop.platform_id}`);
  await send(a.page, 'Hello Dave, from Meta World');
  await waitForState(a.page, 'Hello Dave, from Meta World', 'delivered');

  await b.page.locator('button.person[data-address="alice@metaworld"] .badge').waitFor();
  await openConversation(b.page, `alice@${meta.platform_id}`);
  assert.deepEqual(await incoming(b.page), [
    { from: 'alice', platform: `Meta World (${meta.platform_id})`, text: 'Hello Dave, from Meta World' },
  ]);
  // Dave has seen it: Alice's page says so.
  await waitForState(a.page, 'Hello Dave, from Meta World', 'read');

  await send(b.page, 'Hi Alice, Shop here');
  await waitForIncomingCount(a.page, 'Hi Alice', 1);
  assert.deepEqual(await incoming(a.page), [
    { from: 'dave', platform: `Shop (${shop.platform_id})`, text: 'Hi Alice, Shop here' },
  ]);
  await waitForState(b.page, 'Hi Alice, Shop here', 'read');

  await a.page.screenshot({ path: path.join(screenshots, 'conversation-meta-world.png') });
  await b.page.screenshot({ path: path.join(screenshots, 'conversation-shop.png') });
});

test('messages sent while a page is offline arrive once each, in order', async () => {
  const meta = platform('Meta World');
  const shop = platform('Shop');
  const a = await newBrowser();
  const b = await newBrowser();
  // Erin's WebSocket passes through the test, which can drop her acks (as a lost network would).
  let dropAcks = false;
  await b.page.routeWebSocket(/\/v1\/terminal$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((frame) => {
      if (dropAcks && JSON.parse(frame).type === 'ack') return;
      server.send(frame);
    });
    server.onMessage((frame) => ws.send(frame));
  });
  await logIn(a.page, meta, 'bob');
  await logIn(b.page, shop, 'erin');
  await openConversation(a.page, `erin@${shop.platform_id}`);
  await openConversation(b.page, `bob@${meta.platform_id}`);

  // Erin's network goes; Bob writes five messages, each accepted (stored) by the exchange.
  await b.context.setOffline(true);
  await b.page.locator('#connection[data-status="waiting-for-network"]').waitFor();
  const texts = [1, 2, 3, 4, 5].map((i) => `while you were away ${i}`);
  for (const text of texts) await send(a.page, text);
  for (const text of texts) await waitForState(a.page, text, 'accepted');
  await b.page.screenshot({ path: path.join(screenshots, 'offline.png') });

  // Back online: each shown exactly once, in the order sent, and each read.
  await b.context.setOffline(false);
  await b.page.locator('#connection[data-status="online"]').waitFor();
  await waitForIncomingCount(b.page, 'while you were away', texts.length);
  for (const text of texts) await waitForState(a.page, text, 'read');
  assert.deepEqual((await incoming(b.page)).map((m) => m.text), texts);

  // The sender's side: written while offline, sent after the reconnection with the same ids.
  await a.context.setOffline(true);
  await a.page.locator('#connection[data-status="waiting-for-network"]').waitFor();
  const queued = ['queued 1', 'queued 2', 'queued 3'];
  for (const text of queued) await send(a.page, text);
  for (const text of queued) await waitForState(a.page, text, 'sending');
  await a.context.setOffline(false);
  for (const text of queued) await waitForState(a.page, text, 'read');
  assert.deepEqual((await incoming(b.page)).map((m) => m.text), [...texts, ...queued]);

  // Acks lost: the exchange offers the messages again after the reconnection, and the page shows
  // each once (deduplicated by message_id) and acks the repeats.
  dropAcks = true;
  const unacked = ['unacked 1', 'unacked 2', 'unacked 3'];
  for (const text of unacked) await send(a.page, text);
  await waitForIncomingCount(b.page, 'unacked', unacked.length);
  await b.context.setOffline(true);
  await b.page.locator('#connection[data-status="waiting-for-network"]').waitFor();
  dropAcks = false;
  await b.context.setOffline(false);
  for (const text of unacked) await waitForState(a.page, text, 'delivered', 'read');
  const all = [...texts, ...queued, ...unacked];
  assert.deepEqual((await incoming(b.page)).map((m) => m.text), all);

  // A reload keeps the history and shows nothing twice.
  await b.page.reload();
  await b.page.locator('#connection[data-status="online"]').waitFor();
  await openConversation(b.page, `bob@${meta.platform_id}`);
  assert.deepEqual((await incoming(b.page)).map((m) => m.text), all);
});
