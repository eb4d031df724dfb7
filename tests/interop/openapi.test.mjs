// docs/openapi.json against the real binary: every documented operation exists and answers one of
// its documented statuses, and every documented path refuses an undocumented method with 405.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { Exchange, registerPlatform } from './harness.mjs';

const DOC_PATH = fileURLToPath(new URL('../../docs/openapi.json', import.meta.url));
// The examples of the offload operations name DNAIs, TAIs and cells of the sample topology.
const TOPOLOGY_PATH = fileURLToPath(new URL('../../config/topology.sample.json', import.meta.url));
const doc = JSON.parse(readFileSync(DOC_PATH, 'utf8'));
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

// Operations that need others before them run in this order, after every other operation: a
// policy is set before it is read, a traffic-influence request is created before it is read and
// deleted, and the platform is deregistered last.
const LATE = [
  'putOffloadPolicy',
  'getOffloadPolicy',
  'createTrafficInfluence',
  'listTrafficInfluence',
  'getTrafficInfluence',
  'deleteTrafficInfluence',
  'deleteOffloadPolicy',
  'deregisterPlatform',
];
const rank = (op) => LATE.indexOf(op.operationId) + 1;

const operations = Object.entries(doc.paths)
  .flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ path, method, op: item[method] })),
  )
  .sort((a, b) => rank(a.op) - rank(b.op));

function resolve(ref) {
  return ref.split('/').slice(1).reduce((node, key) => node[key], doc);
}

function schemaOf(response, status) {
  let entry = response.responses[status];
  if (entry?.$ref) {
    entry = resolve(entry.$ref);
  }
  let schema = entry?.content?.['application/json']?.schema;
  if (schema?.$ref) {
    schema = resolve(schema.$ref);
  }
  return schema;
}

describe('docs/openapi.json', () => {
  it('is an OpenAPI 3.0 document with a bearer scheme and an error envelope', () => {
    assert.match(doc.openapi, /^3\.0\./);
    assert.equal(doc.components.securitySchemes.bearerAuth.type, 'http');
    assert.equal(doc.components.securitySchemes.bearerAuth.scheme, 'bearer');
    const envelope = doc.components.schemas.ErrorEnvelope;
    assert.deepEqual(envelope.required, ['error']);
    assert.deepEqual(envelope.properties.error.required, ['code', 'message']);
    assert.ok(operations.length > 0);
    for (const { path, method, op } of operations) {
      assert.ok(Object.keys(op.responses).length > 0, `${method} ${path} documents responses`);
      assert.ok(Array.isArray(op['x-switchboard-callers']), `${method} ${path} names its callers`);
    }
  });
});

describe('the binary implements docs/openapi.json', () => {
  let exchange;
  let platform; // fills {platform_id} and opens platform operations
  let doomed; // fills {platform_id} of the deregistration

  let requestId = 'ti1'; // fills {request_id}; replaced by the id the exchange gives

  before(async () => {
    exchange = await Exchange.start({ topology: TOPOLOGY_PATH });
    platform = await registerPlatform(exchange, exchange.operatorToken, 'Openapi Main', ['alice', 'carol']);
    doomed = await registerPlatform(exchange, exchange.operatorToken, 'Openapi Doomed', ['zed']);
  });

  after(async () => {
    if (exchange) {
      await exchange.stop();
    }
  });

  function fill(path, target) {
    return path
      .replace('{platform_id}', target.id)
      .replace('{account}', 'alice')
      .replace('{request_id}', requestId);
  }

  // What an operation needs that the document's example cannot know.
  async function prepare(op, body) {
    if (op.operationId === 'createTrafficInfluence') {
      // Traffic-influence requests need the policy kind `exposure` (docs/api.md).
      const exposure = await exchange.call('PUT', `/v1/platforms/${platform.id}/offload-policy`, {
        credential: platform.apiKey,
        body: { kind: 'exposure' },
      });
      assert.equal(exposure.status, 200, exposure.text);
    }
    if (op.operationId === 'reportLocation') {
      return { ...body, platform: platform.id, account: 'alice' };
    }
    return body;
  }

  // The credential that fits who may call the operation.
  async function credentialFor(op) {
    const callers = op['x-switchboard-callers'];
    if (callers.includes('platform')) {
      return platform.apiKey;
    }
    if (callers.includes('operator')) {
      return exchange.operatorToken;
    }
    if (callers.includes('enrollment')) {
      const enrollment = await exchange.call('POST', '/v1/enrollments', {
        credential: exchange.operatorToken,
      });
      return enrollment.json.enrollment_token;
    }
    return undefined;
  }

  for (const { path, method, op } of operations) {
    it(`${method.toUpperCase()} ${path} exists and answers a documented status`, async () => {
      // Deregistration gets a platform of its own, so that it removes nothing the others use.
      const target = method === 'delete' && path === '/v1/platforms/{platform_id}' ? doomed : platform;
      const body = await prepare(op, op.requestBody?.content?.['application/json']?.example);
      const answer = await exchange.call(method.toUpperCase(), fill(path, target), {
        credential: await credentialFor(op),
        body,
      });

      const routerMiss =
        answer.status === 404 &&
        answer.json?.error?.code === 'not_found' &&
        answer.json?.error?.message === 'no such endpoint';
      assert.ok(!routerMiss, `the router does not know it: ${answer.text}`);
      assert.notEqual(answer.status, 405, answer.text);
      const documented = Object.keys(op.responses);
      assert.ok(
        documented.includes(String(answer.status)),
        `status ${answer.status} is not among ${documented.join(', ')}: ${answer.text}`,
      );

      if (answer.status >= 400) {
        assert.equal(typeof answer.json?.error?.code, 'string', answer.text);
        assert.equal(typeof answer.json?.error?.message, 'string', answer.text);
      }
      // With the credential that fits and the documented example body, the call succeeds.
      assert.ok(answer.status < 300, `not a success: ${answer.status} ${answer.text}`);
      if (op.operationId === 'createTrafficInfluence') {
        requestId = answer.json.id;
      }
      const schema = schemaOf(op, String(answer.status));
      for (const member of schema?.required ?? []) {
        assert.ok(member in (answer.json ?? {}), `the answer has '${member}': ${answer.text}`);
      }
    });
  }

  for (const [path, item] of Object.entries(doc.paths)) {
    const other = METHODS.find((m) => !item[m]);
    it(`${path} answers an undocumented method (${other.toUpperCase()}) with 405`, async () => {
      const answer = await exchange.call(other.toUpperCase(), fill(path, platform), {
        credential: exchange.operatorToken,
        body: other === 'post' || other === 'put' || other === 'patch' ? {} : undefined,
      });
      assert.equal(answer.status, 405, answer.text);
      assert.equal(answer.json?.error?.code, 'method_not_allowed', answer.text);
    });
  }
});
