// Usage recording: one access-log JSON line on the gateway's stdout per request.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { http as fetchHttp, rawStream, startMock, waitFor } from './lib/harness.mjs';
import { authHeaders, startStack } from './lib/stack.mjs';

const FIELDS = [
  'request_id',
  'api',
  'operation',
  'pool',
  'backend',
  'status',
  'stream',
  'prompt_tokens',
  'completion_tokens',
  'total_tokens',
  'cached_tokens',
  'usage_source',
  'client_disconnected',
  'duration_ms',
];

describe('gateway usage log', () => {
  let stack;

  before(async () => {
    stack = await startStack({
      setup: async (st) => {
        st.slow = await startMock({ name: 'mock-slow', apiKey: st.keys.OAI_KEY, tokensPerSecond: 50 });
        st.mocks.push(st.slow);
        return {
          extraBackends: `  slow: { url: ${st.slow.url}, kind: openai, auth: { bearer_env: OAI_KEY } }\n`,
          extraPools: '  slow-pool: { members: [ { backend: slow, model: slow-model } ] }\n',
        };
      },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  const gw = () => stack.gateway.url;
  let sent = 0; // requests this file sent to the gateway
  const http = (...args) => {
    sent++;
    return fetchHttp(...args);
  };

  async function logFor(res, timeoutMs = 5000) {
    const id = res.headers['x-request-id'];
    assert.ok(id, 'x-request-id present');
    const line = await stack.gateway.waitForLog((l) => l.request_id === id, timeoutMs);
    for (const f of FIELDS) assert.ok(f in line, `access log has ${f}: ${JSON.stringify(line)}`);
    assert.equal(typeof line.duration_ms, 'number');
    assert.ok(line.duration_ms >= 0);
    return line;
  }

  function pick(line, keys) {
    return Object.fromEntries(keys.map((k) => [k, line[k]]));
  }
  const K = [
    'api',
    'operation',
    'pool',
    'backend',
    'status',
    'stream',
    'prompt_tokens',
    'completion_tokens',
    'total_tokens',
    'cached_tokens',
    'usage_source',
    'client_disconnected',
  ];

  test('non-streamed chat (OpenAI surface): tokens equal what the backend reported', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack, {
        'x-mock-prompt-tokens': '11',
        'x-mock-completion-tokens': '7',
        'x-mock-cached-tokens': '3',
      }),
      body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    const line = await logFor(res);
    assert.deepEqual(pick(line, K), {
      api: 'openai',
      operation: 'chat.completions',
      pool: 'gpt-mini',
      backend: 'oai',
      status: 200,
      stream: false,
      prompt_tokens: 11,
      completion_tokens: 7,
      total_tokens: 18,
      cached_tokens: 3,
      usage_source: 'backend',
      client_disconnected: false,
    });
  });

  test('streamed chat (Azure surface, client did not ask for usage): backend usage recorded', async () => {
    const res = await http(`${gw()}/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`, {
      headers: authHeaders(stack, { 'x-mock-prompt-tokens': '21', 'x-mock-completion-tokens': '5' }),
      body: { stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    const line = await logFor(res);
    assert.deepEqual(pick(line, K), {
      api: 'foundry',
      operation: 'chat.completions',
      pool: 'gpt-4o',
      backend: 'az',
      status: 200,
      stream: true,
      prompt_tokens: 21,
      completion_tokens: 5,
      total_tokens: 26,
      cached_tokens: 0,
      usage_source: 'backend',
      client_disconnected: false,
    });
  });

  test('embeddings: operation "embeddings"', async () => {
    const res = await http(`${gw()}/openai/v1/embeddings`, {
      headers: authHeaders(stack, { 'x-mock-prompt-tokens': '6' }),
      body: { model: 'gpt-mini', input: 'hello' },
    });
    assert.equal(res.status, 200, res.text);
    const line = await logFor(res);
    assert.deepEqual(pick(line, K), {
      api: 'openai',
      operation: 'embeddings',
      pool: 'gpt-mini',
      backend: 'oai',
      status: 200,
      stream: false,
      prompt_tokens: 6,
      completion_tokens: 0,
      total_tokens: 6,
      cached_tokens: 0,
      usage_source: 'backend',
      client_disconnected: false,
    });
  });

  test('backend without usage: usage_source "none"', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack, { 'x-mock-usage': 'none' }),
      body: { model: 'gpt-mini', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    const line = await logFor(res);
    assert.deepEqual(pick(line, ['pool', 'backend', 'status', 'stream', 'usage_source']), {
      pool: 'gpt-mini',
      backend: 'oai',
      status: 200,
      stream: false,
      usage_source: 'none',
    });
  });

  test('an error response is logged too (404 unknown model)', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 404);
    const line = await logFor(res);
    assert.deepEqual(
      pick(line, ['api', 'operation', 'status', 'stream', 'total_tokens', 'usage_source', 'client_disconnected']),
      {
        api: 'openai',
        operation: 'chat.completions',
        status: 404,
        stream: false,
        total_tokens: 0,
        usage_source: 'none',
        client_disconnected: false,
      },
    );
  });

  test('client disconnect mid-stream: the log line has the backend usage and client_disconnected', async () => {
    sent++;
    const conn = await rawStream(stack.gateway.port, {
      path: '/openai/v1/chat/completions',
      headers: authHeaders(stack, { 'x-mock-completion-tokens': '40', 'x-mock-prompt-tokens': '12' }),
      body: { model: 'slow-pool', stream: true, messages: [{ role: 'user', content: 'hi' }] },
    });
    let id;
    try {
      await conn.waitFor((c) => c.sseData().length >= 2, 5000, '2 SSE chunks');
      id = conn.parser.headers['x-request-id'];
      assert.ok(id, 'x-request-id on the streamed response');
      assert.ok(!conn.sseData().includes('[DONE]'), 'still streaming when the client leaves');
    } finally {
      conn.destroy();
    }
    // 40 tokens at 50/s take about 0.8 s; the gateway keeps reading the backend for its usage.
    const line = await stack.gateway.waitForLog((l) => l.request_id === id, 5000);
    assert.deepEqual(pick(line, K), {
      api: 'openai',
      operation: 'chat.completions',
      pool: 'slow-pool',
      backend: 'slow',
      status: 200,
      stream: true,
      prompt_tokens: 12,
      completion_tokens: 40,
      total_tokens: 52,
      cached_tokens: 0,
      usage_source: 'backend',
      client_disconnected: true,
    });
  });

  // A worker writes the lines of several requests in one write(2) (kAccessLogDelay in proxy_handler.cpp):
  // each line whole and once, with its own request's figures, also when many finish together.
  test('requests that finish together: each line whole, once, with its own tokens', async () => {
    const n = 48;
    const res = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        http(`${gw()}/openai/v1/chat/completions`, {
          headers: authHeaders(stack, { 'x-mock-prompt-tokens': String(100 + i), 'x-mock-completion-tokens': '5' }),
          body: { model: 'gpt-mini', messages: [{ role: 'user', content: `burst ${i}` }] },
        }),
      ),
    );
    const want = new Map(res.map((r, i) => [r.headers['x-request-id'], 100 + i]));
    for (const r of res) assert.equal(r.status, 200, r.text);
    assert.equal(want.size, n, 'distinct request ids');
    const lines = await waitFor(
      () => {
        const l = stack.gateway.accessLog().filter((x) => want.has(x.request_id));
        return l.length >= n ? l : null;
      },
      { timeoutMs: 5000, what: `${n} access-log lines` },
    );
    assert.equal(lines.length, n, 'one line per request');
    for (const l of lines) assert.equal(l.prompt_tokens, want.get(l.request_id), JSON.stringify(l));
    assert.deepEqual(stack.gateway.nonJsonStdout(), []);
  });

  test('exactly one line per request, and only JSON on stdout', async () => {
    const expected = sent;
    const log = await waitFor(
      () => {
        const l = stack.gateway.accessLog();
        return l.length >= expected ? l : null;
      },
      { timeoutMs: 5000, what: `${expected} access-log lines` },
    );
    assert.equal(log.length, expected, JSON.stringify(log.map((l) => [l.request_id, l.status])));
    const ids = log.map((l) => l.request_id);
    assert.equal(new Set(ids).size, ids.length, `duplicate request_id in ${JSON.stringify(ids)}`);
    assert.deepEqual(stack.gateway.nonJsonStdout(), []);
    const everything = JSON.stringify(log) + stack.gateway.stderr();
    assert.deepEqual(
      stack.secrets.filter((k) => everything.includes(k)),
      [],
      'no configured secret in the access log or on stderr',
    );
  });

  test('a rejected key (401) is logged too', async () => {
    const bad = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: { 'api-key': 'wrong' },
      body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(bad.status, 401);
    const line = await logFor(bad);
    assert.deepEqual(pick(line, ['api', 'operation', 'status', 'usage_source']), {
      api: 'openai',
      operation: 'chat.completions',
      status: 401,
      usage_source: 'none',
    });
  });
});
