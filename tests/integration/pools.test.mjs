// Backend pools: provisioned (PTU) capacity first, spill-over to pay-as-you-go members, weights, circuit
// breakers that honour Retry-After, members that are down or hang, and no retry once a stream started.
// The PTU is a mock-llm with a small simulated capacity in a short window (--tpm-window) so that its
// Retry-After is a couple of seconds.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { closedPort, delay, http, rawStream, startGateway, startMock } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const PTU_WINDOW_MS = 2000;

describe('backend pools', () => {
  const keys = { BK: secret('backend'), CK: secret('client') };
  const mocks = {};
  let gateway;
  let hangServer;
  const hangSockets = new Set();

  before(async () => {
    // capacity 300 tokens per 2 s: three 100-token requests, then 429 with retry-after <= 2 s
    mocks.ptu = await startMock({ name: 'ptu', apiKey: keys.BK, tpmCapacity: 300, tpmWindow: `${PTU_WINDOW_MS}ms` });
    mocks.small = await startMock({ name: 'small', apiKey: keys.BK, tpmCapacity: 100, tpmWindow: '30s' });
    mocks.paygA = await startMock({ name: 'payg-a', apiKey: keys.BK });
    mocks.paygB = await startMock({ name: 'payg-b', apiKey: keys.BK });
    // A backend that accepts connections and never answers.
    hangServer = net.createServer((s) => {
      hangSockets.add(s);
      s.on('close', () => hangSockets.delete(s));
      s.on('error', () => {});
    });
    await new Promise((resolve) => hangServer.listen(0, '127.0.0.1', resolve));
    const dead = await closedPort();
    const backend = (name, url) => `  ${name}: { url: "${url}", kind: openai, auth: { bearer_env: BK } }\n`;
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0,
          timeouts: { connect: 1s, first_byte: 700ms, idle: 2s, total: 10s, drain: 2s } }
backends:
${backend('ptu', mocks.ptu.url)}${backend('small', mocks.small.url)}${backend('payg-a', mocks.paygA.url)}${backend(
      'payg-b', mocks.paygB.url)}${backend('dead', `http://127.0.0.1:${dead}`)}${backend(
      'hang', `http://127.0.0.1:${hangServer.address().port}`)}pools:
  gpt-4o:
    members:
      - { backend: ptu,    priority: 1 }
      - { backend: payg-a, priority: 2, weight: 3 }
      - { backend: payg-b, priority: 2, weight: 1 }
    retry: { on: [429, "500-599"], max_attempts: 3 }
    circuit_breaker: { failures: 3, within: 10s, open_for: 30s, honor_retry_after: true }
  weighted:
    members:
      - { backend: payg-a, weight: 3 }
      - { backend: payg-b, weight: 1 }
  down-first:
    members:
      - { backend: dead,   priority: 1 }
      - { backend: payg-a, priority: 2 }
  hang-first:
    members:
      - { backend: hang,   priority: 1 }
      - { backend: payg-b, priority: 2 }
  pair:
    members:
      - { backend: payg-a, priority: 1 }
      - { backend: payg-b, priority: 2 }
  small-only:
    members:
      - { backend: small }
subscriptions:
  t: { key_env: CK }
`;
    gateway = await startGateway({ config, env: keys });
  });

  after(async () => {
    if (gateway) await gateway.stop();
    for (const m of Object.values(mocks)) await m.stop();
    for (const s of hangSockets) s.destroy();
    if (hangServer) await new Promise((resolve) => hangServer.close(resolve));
  });

  let counter = 0;
  const chat = (model, headers = {}, extra = {}) => {
    const marker = `req-${++counter}-${model}`;
    return http(`${gateway.url}/v1/chat/completions`, {
      headers: {
        'api-key': keys.CK,
        'x-mock-prompt-tokens': '50',
        'x-mock-completion-tokens': '50',
        ...headers,
      },
      body: { model, messages: [{ role: 'user', content: marker }], ...extra },
    }).then((res) => ({ ...res, marker }));
  };
  const received = async (mock, marker) => (await mock.requests()).filter((r) => r.body.includes(marker)).length;

  test('traffic above the PTU capacity spills over; the open PTU gets no traffic; it is used again after Retry-After', async () => {
    const served = [];
    for (let i = 0; i < 3; i++) {
      const res = await chat('gpt-4o');
      assert.equal(res.status, 200, res.text);
      served.push(res.headers['x-spillway-backend']);
    }
    assert.deepEqual(served, ['ptu', 'ptu', 'ptu']);

    // The 4th exceeds the PTU's capacity: the PTU answers 429 and the request succeeds on PAYG.
    const overflow = await chat('gpt-4o');
    const overflowAt = Date.now();
    assert.equal(overflow.status, 200, overflow.text);
    assert.match(overflow.headers['x-spillway-backend'], /^payg-[ab]$/);
    assert.match(overflow.headers['x-spillway-attempts'], /^ptu:429, payg-[ab]:200$/);
    assert.equal(await received(mocks.ptu, overflow.marker), 1, 'the PTU was tried first');

    // While open, the PTU is not called at all.
    const ptuSeenBefore = (await mocks.ptu.requests()).length;
    for (let i = 0; i < 4; i++) {
      const res = await chat('gpt-4o');
      assert.equal(res.status, 200);
      assert.match(res.headers['x-spillway-backend'], /^payg-[ab]$/);
      assert.match(res.headers['x-spillway-attempts'], /^payg-[ab]:200$/);
    }
    assert.equal((await mocks.ptu.requests()).length, ptuSeenBefore, 'no request reached the open PTU');

    // The mock's Retry-After is at most its window; once that has passed the PTU is used again.
    const wait = PTU_WINDOW_MS + 300 - (Date.now() - overflowAt);
    if (wait > 0) await delay(wait);
    const back = await chat('gpt-4o');
    assert.equal(back.status, 200, back.text);
    assert.equal(back.headers['x-spillway-backend'], 'ptu');
    assert.equal(back.headers['x-spillway-attempts'], 'ptu:200');
  });

  test('weights hold within a priority (3:1 over 200 requests)', async () => {
    const counts = { 'payg-a': 0, 'payg-b': 0 };
    for (let i = 0; i < 200; i++) {
      const res = await chat('weighted');
      assert.equal(res.status, 200);
      counts[res.headers['x-spillway-backend']]++;
    }
    assert.ok(Math.abs(counts['payg-a'] - 150) <= 10, JSON.stringify(counts));
    assert.ok(Math.abs(counts['payg-b'] - 50) <= 10, JSON.stringify(counts));
  });

  test('a member that is down (connection refused) is skipped', async () => {
    const res = await chat('down-first');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'payg-a');
    assert.equal(res.headers['x-spillway-attempts'], 'dead:connect_refused, payg-a:200');
  });

  test('a member that hangs is skipped after the first-byte timeout', async () => {
    const res = await chat('hang-first');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'payg-b');
    assert.equal(res.headers['x-spillway-attempts'], 'hang:first_byte_timeout, payg-b:200');
    assert.ok(res.ms >= 600, `waited for the timeout (${res.ms} ms)`);
  });

  test('a streaming request that already started is not retried', async () => {
    // Both members would close the stream after 2 chunks; the first one starts relaying, so no retry.
    const marker = `stream-${++counter}`;
    const conn = await rawStream(gateway.port, {
      path: '/v1/chat/completions',
      headers: { 'api-key': keys.CK, 'x-mock-close-after': '2' },
      body: { model: 'pair', stream: true, messages: [{ role: 'user', content: marker }] },
    });
    try {
      await conn.waitDone(5000);
      assert.equal(conn.parser.status, 200);
      assert.equal(conn.parser.headers['x-spillway-backend'], 'payg-a');
      assert.ok(!conn.sseData().includes('[DONE]'), 'no [DONE] the backend never sent');
    } finally {
      conn.destroy();
    }
    assert.equal(await received(mocks.paygA, marker), 1);
    assert.equal(await received(mocks.paygB, marker), 0, 'the second member never saw the request');
  });

  test('retryable answers from every member: the last one reaches the client, with the attempts', async () => {
    const res = await chat('pair', { 'x-mock-status': '500' });
    assert.equal(res.status, 500);
    assert.equal(res.headers['x-spillway-attempts'], 'payg-a:500, payg-b:500');
    assert.equal(res.headers['x-spillway-backend'], 'payg-b');
    assert.ok(res.json.error, 'the backend error body');
  });

  test('every member rate limited: 429 with the soonest Retry-After, then no call while open', async () => {
    const first = await chat('small-only');
    assert.equal(first.status, 200);
    const limited = await chat('small-only');
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.json.error.code, 'rate_limit_exceeded');
    assert.equal(limited.headers['x-spillway-attempts'], 'small:429');
    const retryAfter = Number(limited.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 30, `retry-after ${limited.headers['retry-after']}`);

    const seen = (await mocks.small.requests()).length;
    const again = await chat('small-only');
    assert.equal(again.status, 429);
    assert.equal(again.headers['x-spillway-attempts'], 'none_available');
    assert.ok(Number(again.headers['retry-after']) >= 1);
    assert.equal((await mocks.small.requests()).length, seen, 'the open member was not called');
  });
});
