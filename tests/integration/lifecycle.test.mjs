// The admin listener, and the process lifecycle: SIGTERM drains in-flight requests, then exits 0.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { http, mockText, waitFor } from './lib/harness.mjs';
import { authHeaders, requestsWith, secret, startStack } from './lib/stack.mjs';

describe('admin listener', () => {
  let stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  test('GET /healthz -> 200 and GET /readyz -> 200 on the admin port', async () => {
    assert.notEqual(stack.gateway.adminPort, stack.gateway.port);
    const h = await http(`${stack.gateway.adminUrl}/healthz`, { method: 'GET' });
    assert.equal(h.status, 200, h.text);
    const r = await http(`${stack.gateway.adminUrl}/readyz`, { method: 'GET' });
    assert.equal(r.status, 200, r.text);
    for (const res of [h, r]) {
      const text = JSON.stringify(res.headers) + res.text;
      for (const s of stack.secrets) assert.ok(!text.includes(s), 'no secret on the admin listener');
    }
  });
});

describe('SIGTERM', () => {
  test('an idle gateway exits with code 0 on SIGTERM', async () => {
    const stack = await startStack();
    try {
      process.kill(stack.gateway.pid, 'SIGTERM');
      await waitFor(() => stack.gateway.exited(), { timeoutMs: 5000, what: 'the gateway to exit' });
      const r = await stack.gateway.exitPromise;
      assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null });
    } finally {
      await stack.stop();
    }
  });

  test('drain: a request in flight at SIGTERM completes with 200, then the process exits 0', async () => {
    const stack = await startStack();
    try {
      const marker = secret('m');
      let done = false;
      const pending = http(`${stack.gateway.url}/openai/v1/chat/completions`, {
        headers: authHeaders(stack, { 'x-mock-latency': '700ms' }),
        body: { model: 'gpt-mini', max_tokens: 3, messages: [{ role: 'user', content: marker }] },
      }).finally(() => {
        done = true;
      });
      // In flight: the backend has received it (and delays its answer by 700 ms).
      await waitFor(async () => (await requestsWith(stack.oai, marker)).length === 1, {
        timeoutMs: 5000,
        what: 'the request to reach the backend',
      });
      assert.equal(done, false, 'the request is still in flight at SIGTERM');
      const t0 = Date.now();
      process.kill(stack.gateway.pid, 'SIGTERM');

      const res = await pending;
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.choices[0].message.content, mockText(3));

      await waitFor(() => stack.gateway.exited(), { timeoutMs: 5000, what: 'the gateway to exit after draining' });
      const r = await stack.gateway.exitPromise;
      assert.deepEqual({ code: r.code, signal: r.signal }, { code: 0, signal: null });
      assert.ok(Date.now() - t0 < 5000, 'exited within the drain time (5s)');
      // The usage log was flushed before exit.
      const id = res.headers['x-request-id'];
      assert.ok(stack.gateway.accessLog().some((l) => l.request_id === id), 'access-log line written before exit');
    } finally {
      await stack.stop();
    }
  });
});
