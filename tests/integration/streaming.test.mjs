// SSE streaming through the gateway: chunk-by-chunk forwarding and the usage chunk.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { http, mockText, parseSse, rawStream, sseChunks } from './lib/harness.mjs';
import { assertNoSecrets, authHeaders, requestsWith, secret, startStack } from './lib/stack.mjs';

describe('gateway streaming', () => {
  let stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const gw = () => stack.gateway.url;
  const surfaces = [
    { name: 'openai', path: '/openai/v1/chat/completions', model: 'gpt-mini', backend: 'oai' },
    {
      name: 'azure',
      path: '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      model: undefined,
      backend: 'az',
    },
  ];

  for (const s of surfaces) {
    test(`${s.name}: stream returns text/event-stream, all chunks, no usage chunk, [DONE]`, async () => {
      const res = await http(`${gw()}${s.path}`, {
        headers: authHeaders(stack, { 'x-mock-prompt-tokens': '9' }),
        body: { model: s.model, stream: true, max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(res.status, 200, res.text);
      assert.match(res.headers['content-type'], /^text\/event-stream/);
      assert.equal(res.headers['x-spillway-backend'], s.backend);
      assert.ok(res.headers['x-request-id']);
      const { data, rest } = parseSse(res.text);
      assert.equal(rest.trim(), '', 'the stream ends with a complete event');
      assert.equal(data.at(-1), '[DONE]');
      assert.equal(data.filter((d) => d === '[DONE]').length, 1);
      const chunks = sseChunks(data);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, mockText(5));
      assert.equal(chunks.length, 7, 'role + 5 tokens + finish, and no usage-only chunk');
      assert.ok(
        chunks.every((c) => !(Array.isArray(c.choices) && c.choices.length === 0)),
        'usage-only chunk hidden from a client that did not ask for it',
      );
      assert.ok(chunks.every((c) => c.usage === undefined || c.usage === null), 'no usage shown');
      assertNoSecrets(res, stack.secrets);
    });

    test(`${s.name}: stream_options.include_usage shows the usage chunk, then [DONE]`, async () => {
      const res = await http(`${gw()}${s.path}`, {
        headers: authHeaders(stack, { 'x-mock-prompt-tokens': '9' }),
        body: {
          model: s.model,
          stream: true,
          stream_options: { include_usage: true },
          max_tokens: 4,
          messages: [{ role: 'user', content: 'hi' }],
        },
      });
      assert.equal(res.status, 200, res.text);
      const { data } = parseSse(res.text);
      assert.equal(data.at(-1), '[DONE]');
      const chunks = sseChunks(data);
      assert.equal(chunks.length, 7, 'role + 4 tokens + finish + usage');
      const last = chunks.at(-1);
      assert.deepEqual(last.choices, []);
      assert.equal(last.usage.prompt_tokens, 9);
      assert.equal(last.usage.completion_tokens, 4);
      assert.equal(last.usage.total_tokens, 13);
      assert.equal(chunks.filter((c) => Array.isArray(c.choices) && c.choices.length === 0).length, 1);
    });

    test(`${s.name}: chunks are forwarded as they arrive (backend stalls after 3 tokens)`, async () => {
      const conn = await rawStream(stack.gateway.port, {
        path: s.path,
        headers: authHeaders(stack, { 'x-mock-stall-after': '3' }),
        body: { model: s.model, stream: true, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
      });
      try {
        await conn.waitFor((c) => c.sseData().length >= 4, 5000, 'role chunk + 3 token chunks');
        assert.equal(conn.parser.status, 200);
        assert.match(conn.parser.headers['content-type'], /^text\/event-stream/);
        const data = conn.sseData();
        assert.ok(!data.includes('[DONE]'), 'the stream has not ended');
        assert.equal(conn.parser.complete, false, 'the response has not completed');
        const chunks = sseChunks(data);
        assert.equal(chunks.length, 4);
        assert.equal(chunks[0].choices[0].delta.role, 'assistant');
        assert.deepEqual(
          chunks.slice(1).map((c) => c.choices[0].delta.content),
          ['w1 ', 'w2 ', 'w3 '],
        );
      } finally {
        conn.destroy(); // the client aborts
      }
    });
  }

  // A streamed chat completion from the OpenAI-shaped surface, the mock scripted by `mockHeaders`.
  const scriptedStream = (mockHeaders) =>
    rawStream(stack.gateway.port, {
      path: '/openai/v1/chat/completions',
      headers: authHeaders(stack, mockHeaders),
      body: { model: 'gpt-mini', stream: true, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    });

  test('backend stalls mid-stream: after the idle timeout (1s) the client gets an error event and the end', async () => {
    const conn = await scriptedStream({ 'x-mock-stall-after': '2' });
    try {
      await conn.waitFor((c) => c.sseData().length >= 3, 5000, 'role chunk + 2 token chunks');
      const stalled = Date.now();
      await conn.waitDone(5000);
      const ms = Date.now() - stalled;
      assert.ok(ms >= 800 && ms < 3000, `the stream ended ${ms} ms after the backend stalled; idle is 1s`);
      const events = parseSse(conn.parser.bodyText()).data.map((d) => JSON.parse(d));
      const last = events[events.length - 1];
      assert.equal(last.error?.code, 'backend_timeout', JSON.stringify(last));
      assert.match(last.error.message, /idle_timeout/);
    } finally {
      conn.destroy();
    }
  });

  test('backend closes mid-stream (x-mock-close-after: 2): the client sees the chunks and the response ends', async () => {
    const conn = await scriptedStream({ 'x-mock-close-after': '2' });
    try {
      // Well under the total timeout (10 s): the gateway must not leave the client hanging.
      await conn.waitDone(3000);
      assert.equal(conn.parser.status, 200);
      const data = conn.sseData();
      const chunks = sseChunks(data);
      // The gateway may end with an SSE error event ({"error":...}); the text chunks are the backend's.
      const text = chunks
        .filter((c) => Array.isArray(c.choices))
        .map((c) => c.choices[0]?.delta?.content ?? '')
        .join('');
      assert.equal(text, 'w1 w2 ');
      assert.ok(!data.includes('[DONE]'), 'no [DONE] the backend never sent');
      const id = conn.parser.headers['x-request-id'];
      const line = await stack.gateway.waitForLog((l) => l.request_id === id, 5000);
      assert.equal(line.stream, true);
    } finally {
      conn.destroy();
    }
  });

  // The mock writes its head with the first event and then holds the stream: that event is forwarded from
  // what arrived with the head (it goes out with the gateway's head), without waiting for another read.
  test('an event that came with the backend head reaches the client while the backend holds the stream', async () => {
    const conn = await scriptedStream({ 'x-mock-stall-after': '0' });
    try {
      await conn.waitFor((c) => c.sseData().length >= 1, 5000, 'the role chunk');
      assert.equal(conn.parser.status, 200);
      const chunks = sseChunks(conn.sseData());
      assert.equal(chunks.length, 1);
      assert.equal(chunks[0].choices[0].delta.role, 'assistant');
      assert.equal(conn.parser.complete, false, 'the backend still holds the stream');
    } finally {
      conn.destroy();
    }
  });

  // An unpaced 600-token stream (about 90 KB) comes in reads of many events, split anywhere: nothing may be
  // lost, reordered or cut at a read's edge, and the usage chunk near the end counts.
  test('a long unpaced stream arrives whole and in order, and its usage is recorded', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack, { 'x-mock-prompt-tokens': '7', 'x-mock-completion-tokens': '600' }),
      body: {
        model: 'gpt-mini',
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'a long one' }],
      },
    });
    assert.equal(res.status, 200, res.text);
    const { data, rest } = parseSse(res.text);
    assert.equal(rest.trim(), '');
    assert.equal(data.at(-1), '[DONE]');
    const chunks = sseChunks(data);
    assert.equal(chunks.length, 603, 'role + 600 tokens + finish + usage');
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), mockText(600));
    assert.equal(chunks.at(-1).usage.completion_tokens, 600);
    const line = await stack.gateway.waitForLog((l) => l.request_id === res.headers['x-request-id'], 5000);
    assert.equal(line.completion_tokens, 600);
    assert.equal(line.prompt_tokens, 7);
    assert.equal(line.usage_source, 'backend');
  });

  test('the gateway asks the backend for usage (stream_options.include_usage) on streamed requests', async () => {
    const marker = secret('m');
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', stream: true, max_tokens: 2, messages: [{ role: 'user', content: marker }] },
    });
    assert.equal(res.status, 200);
    const recs = await requestsWith(stack.oai, marker);
    assert.equal(recs.length, 1);
    const sent = JSON.parse(recs[0].body);
    assert.equal(sent.stream, true);
    assert.equal(sent.stream_options?.include_usage, true);
    assert.equal(sent.model, 'gpt-4o-mini-2024');
  });

  test('the gateway still serves normally after aborted streams', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.choices[0].message.content, mockText(2));
  });
});
