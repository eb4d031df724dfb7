// Interoperability: a client written from docs/api.md and docs/protocol.md alone, with jose for
// keys and tokens and ws for the terminal protocol, against the real exchange binary.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Exchange, Terminal, makeKey, mintToken, registerPlatform } from './harness.mjs';

describe('two platforms exchange messages through the real binary', () => {
  let exchange;
  let chirp; // registered by the operator
  let parley; // registered with an enrollment token
  let alice; // a terminal of alice@chirp
  let bob; // a terminal of bob@parley
  const terminals = [];

  before(async () => {
    exchange = await Exchange.start();
  });

  after(async () => {
    for (const terminal of terminals) {
      await terminal.close().catch(() => {});
    }
    if (exchange && !exchange.exited) {
      await exchange.stop();
    }
  });

  async function connect(platform, account, device) {
    const token = await mintToken(platform, account);
    const connected = await Terminal.connect(exchange.terminalUrl, token, device);
    terminals.push(connected.terminal);
    return connected;
  }

  // Sends one text message and checks every step the protocol promises: accepted, delivery with
  // the sender's identity, ack, and the delivered receipt. Returns the accepted frame.
  async function exchangeText(sender, from, recipient, to, clientId, text) {
    sender.send({ type: 'send', id: clientId, from, to, content: { type: 'text', text } });

    const accepted = await sender.next((f) => f.id === clientId);
    assert.equal(accepted.type, 'accepted', JSON.stringify(accepted));
    assert.equal(typeof accepted.message_id, 'string');
    assert.ok(accepted.message_id.length > 0);
    assert.equal(typeof accepted.ts, 'number');
    assert.ok(Math.abs(accepted.ts - Date.now()) < 60000, 'ts is milliseconds since the epoch');
    assert.equal(accepted.duplicate, undefined);

    const message = await recipient.next(
      (f) => f.type === 'message' && f.message_id === accepted.message_id,
    );
    assert.equal(message.ts, accepted.ts);
    assert.equal(message.from.platform, from.platform);
    assert.equal(message.from.account, from.account);
    assert.equal(message.from.platform_name, from.platform === chirp.id ? 'Chirp' : 'Parley');
    assert.deepEqual(message.to, to);
    assert.deepEqual(message.content, { type: 'text', text });
    assert.equal(typeof message.route, 'object');
    for (const part of ['site', 'dnai', 'ulcl', 'psa']) {
      assert.equal(typeof message.route[part], 'string', `route.${part}`);
    }

    recipient.send({ type: 'ack', message_id: message.message_id });
    const receipt = await sender.next(
      (f) => f.type === 'receipt' && f.message_id === accepted.message_id,
    );
    assert.deepEqual(receipt, {
      type: 'receipt',
      id: clientId,
      message_id: accepted.message_id,
      status: 'delivered',
    });
    return accepted;
  }

  let aliceAddress;
  let bobAddress;

  it('registers one platform as the operator and one with an enrollment token', async () => {
    chirp = await registerPlatform(exchange, exchange.operatorToken, 'Chirp', [
      'alice',
      { account: 'hidden', discoverable: false },
    ]);
    assert.match(chirp.id, /^[a-z0-9]{3,32}$/);
    assert.equal(chirp.answer.accounts, 2);
    assert.equal(typeof chirp.apiKey, 'string');

    const enrollment = await exchange.call('POST', '/v1/enrollments', {
      credential: exchange.operatorToken,
      body: { name: 'Parley onboarding', expires_in: 600 },
    });
    assert.equal(enrollment.status, 201, enrollment.text);
    assert.equal(typeof enrollment.json.enrollment_token, 'string');
    assert.ok(enrollment.json.expires_at > Date.now());

    parley = await registerPlatform(exchange, enrollment.json.enrollment_token, 'Parley', ['bob']);
    assert.match(parley.id, /^[a-z0-9]{3,32}$/);
    assert.notEqual(parley.id, chirp.id);

    // The enrollment token is spent.
    const again = await exchange.call('POST', '/v1/platforms', {
      credential: enrollment.json.enrollment_token,
      body: { name: 'Parley again', accounts: [], jwks: { keys: [parley.key.jwk] } },
    });
    assert.equal(again.status, 401, again.text);
    assert.equal(again.json.error.code, 'unauthenticated');

    aliceAddress = { platform: chirp.id, account: 'alice' };
    bobAddress = { platform: parley.id, account: 'bob' };
  });

  it('opens each platform\'s own resources with its key, and only those', async () => {
    const own = await exchange.call('GET', `/v1/platforms/${parley.id}`, { credential: parley.apiKey });
    assert.equal(own.status, 200, own.text);
    assert.equal(own.json.platform_id, parley.id);
    assert.equal(own.json.name, 'Parley');
    assert.equal(own.json.accounts, 1);

    const other = await exchange.call('GET', `/v1/platforms/${chirp.id}`, { credential: parley.apiKey });
    assert.equal(other.status, 403, other.text);
    assert.equal(other.json.error.code, 'forbidden');

    const directory = await exchange.call('GET', `/v1/directory?platform=${chirp.id}`, {
      credential: parley.apiKey,
    });
    assert.equal(directory.status, 200, directory.text);
    assert.deepEqual(directory.json.entries, [
      { platform_id: chirp.id, platform_name: 'Chirp', account: 'alice' },
    ]);
  });

  it('authenticates terminals with tokens minted by jose', async () => {
    let welcome;
    ({ terminal: alice, welcome } = await connect(chirp, 'alice', 'phone'));
    assert.deepEqual(welcome.platform, { id: chirp.id, name: 'Chirp' });
    assert.equal(welcome.account, 'alice');
    assert.equal(typeof welcome.session, 'string');

    ({ terminal: bob, welcome } = await connect(parley, 'bob', 'laptop'));
    assert.deepEqual(welcome.platform, { id: parley.id, name: 'Parley' });
    assert.equal(welcome.account, 'bob');

    const listed = await exchange.call('GET', `/v1/terminals/${parley.id}/bob`, {
      credential: parley.apiKey,
    });
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.terminals.length, 1);
    assert.equal(listed.json.terminals[0].device, 'laptop');
    assert.equal(listed.json.terminals[0].session, welcome.session);
  });

  it('sends a message from alice@chirp to bob@parley', async () => {
    assert.ok(alice && bob, 'both terminals are connected');
    const accepted = await exchangeText(alice, aliceAddress, bob, bobAddress, 'a-1', 'hi Bob');
    assert.ok(accepted);
  });

  it('sends a message from bob@parley to alice@chirp', async () => {
    assert.ok(alice && bob, 'both terminals are connected');
    await exchangeText(bob, bobAddress, alice, aliceAddress, 'b-1', 'hi Alice');
  });

  it('answers a repeated client id with the same message id and duplicate:true', async () => {
    assert.ok(alice && bob, 'both terminals are connected');
    const frame = {
      type: 'send',
      id: 'a-dup',
      from: aliceAddress,
      to: bobAddress,
      content: { type: 'app', app: 'com.example.poll', question: 'lunch?' },
    };
    alice.send(frame);
    const first = await alice.next((f) => f.id === 'a-dup');
    assert.equal(first.type, 'accepted', JSON.stringify(first));
    const message = await bob.next((f) => f.type === 'message' && f.message_id === first.message_id);
    assert.deepEqual(message.content, frame.content);

    alice.send(frame);
    const second = await alice.next((f) => f.id === 'a-dup');
    assert.equal(second.type, 'accepted');
    assert.equal(second.message_id, first.message_id);
    assert.equal(second.ts, first.ts);
    assert.equal(second.duplicate, true);
    bob.send({ type: 'ack', message_id: message.message_id });
    await alice.next((f) => f.type === 'receipt' && f.message_id === first.message_id);
  });

  it('turns a read mark into a read receipt', async () => {
    assert.ok(alice && bob, 'both terminals are connected');
    const accepted = await exchangeText(alice, aliceAddress, bob, bobAddress, 'a-read', 'seen?');
    bob.send({ type: 'read', message_id: accepted.message_id });
    const receipt = await alice.next(
      (f) => f.type === 'receipt' && f.message_id === accepted.message_id,
    );
    assert.equal(receipt.status, 'read');
    assert.equal(receipt.id, 'a-read');
  });

  it('delivers again, after a reconnect, what a device has not acknowledged', async () => {
    assert.ok(alice && bob, 'both terminals are connected');
    alice.send({
      type: 'send',
      id: 'a-unacked',
      from: aliceAddress,
      to: bobAddress,
      content: { type: 'text', text: 'ack me later' },
    });
    const accepted = await alice.next((f) => f.id === 'a-unacked');
    assert.equal(accepted.type, 'accepted', JSON.stringify(accepted));
    await bob.next((f) => f.type === 'message' && f.message_id === accepted.message_id);
    await bob.close();

    ({ terminal: bob } = await connect(parley, 'bob', 'laptop'));
    const again = await bob.next((f) => f.type === 'message' && f.message_id === accepted.message_id);
    assert.deepEqual(again.content, { type: 'text', text: 'ack me later' });
    bob.send({ type: 'ack', message_id: again.message_id });
    await alice.next((f) => f.type === 'receipt' && f.message_id === accepted.message_id);
  });

  it('rejects a send whose from is not the terminal\'s own identity', async () => {
    assert.ok(alice, 'alice is connected');
    alice.send({
      type: 'send',
      id: 'a-spoof',
      from: { platform: chirp.id, account: 'hidden' },
      to: bobAddress,
      content: { type: 'text', text: 'x' },
    });
    const rejected = await alice.next((f) => f.id === 'a-spoof');
    assert.equal(rejected.type, 'rejected');
    assert.equal(rejected.code, 'sender_mismatch');
  });

  it('answers a frame it cannot read with an error and keeps the connection', async () => {
    assert.ok(alice, 'alice is connected');
    alice.send('not json');
    const error = await alice.next((f) => f.type === 'error');
    assert.equal(error.code, 'bad_frame');
    alice.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const binary = await alice.next((f) => f.type === 'error');
    assert.equal(binary.code, 'bad_frame');
    alice.send({ type: 'ack', message_id: 'nothing-waiting' }); // ignored
    await exchangeText(alice, aliceAddress, bob, bobAddress, 'a-after-error', 'still here');
  });

  it('refuses a token signed with a key the platform did not register: error, then close 1008', async () => {
    const stranger = await makeKey(chirp.key.kid);
    const token = await mintToken(chirp, 'alice', { key: stranger });
    const terminal = await Terminal.open(exchange.terminalUrl);
    terminals.push(terminal);
    terminal.send({ type: 'hello', token, device: 'phone' });
    const error = await terminal.next();
    assert.equal(error.type, 'error');
    assert.equal(error.code, 'bad_token');
    const closed = await terminal.whenClosed();
    assert.equal(closed.code, 1008);
  });

  it('counts accepted messages in /metrics', async () => {
    const metrics = await exchange.call('GET', '/metrics');
    assert.equal(metrics.status, 200);
    const line = metrics.text.split('\n').find((l) => l.startsWith('switchboard_messages_accepted_total'));
    assert.ok(line, 'switchboard_messages_accepted_total is exposed');
    assert.ok(Number(line.split(' ').pop()) >= 2, line);
  });

  it('stops on SIGTERM with exit status 0, closing terminals with 1001', async () => {
    const open = terminals.filter((t) => !t.closed);
    const { code, signal } = await exchange.stop();
    assert.equal(signal, null, 'exited by itself, not killed');
    assert.equal(code, 0, exchange.output);
    for (const terminal of open) {
      const closed = await terminal.whenClosed();
      assert.equal(closed.code, 1001);
    }
  });
});
