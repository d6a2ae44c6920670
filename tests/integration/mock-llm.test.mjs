// `spillway mock-llm` on its own: the scripted backend every other test relies on.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { http, mockText, rawStream, sseChunks, startMock } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

describe('mock-llm', () => {
  const key = secret('mock');
  let mock;

  before(async () => {
    mock = await startMock({ name: 'mock-x', apiKey: key });
  });
  after(async () => {
    await mock?.stop();
  });

  const bearer = () => ({ authorization: `Bearer ${key}` });

  test('ready file gives a port that serves a chat completion with the scripted usage', async () => {
    const res = await http(`${mock.url}/v1/chat/completions`, {
      headers: { ...bearer(), 'x-mock-prompt-tokens': '11', 'x-mock-completion-tokens': '4' },
      body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-mock-backend'], 'mock-x');
    assert.equal(res.json.object, 'chat.completion');
    assert.equal(res.json.choices.length, 1);
    assert.equal(res.json.choices[0].message.role, 'assistant');
    assert.equal(res.json.choices[0].message.content, mockText(4));
    assert.equal(res.json.usage.prompt_tokens, 11);
    assert.equal(res.json.usage.completion_tokens, 4);
    assert.equal(res.json.usage.total_tokens, 15);
  });

  test('default usage: prompt = body bytes / 4, completion = min(max_tokens, 16)', async () => {
    // Pad the body to a multiple of 4 bytes so the rounding rule does not matter.
    let body = JSON.stringify({ model: 'm', max_tokens: 7, messages: [{ role: 'user', content: 'hello' }] });
    while (body.length % 4 !== 0) body = body.replace('hello', 'hello ');
    const res = await http(`${mock.url}/v1/chat/completions`, { headers: bearer(), body });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.usage.prompt_tokens, body.length / 4);
    assert.equal(res.json.usage.completion_tokens, 7);
    assert.equal(res.json.choices[0].message.content, mockText(7));

    const big = await http(`${mock.url}/v1/chat/completions`, {
      headers: bearer(),
      body: { model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(big.json.usage.completion_tokens, 16);
    const none = await http(`${mock.url}/v1/chat/completions`, {
      headers: bearer(),
      body: { model: 'm', messages: [{ role: 'user', content: 'x' }] },
    });
    assert.equal(none.json.usage.completion_tokens, 16);
  });

  test('the backend key is required: none -> 401, wrong -> 401, api-key and Bearer accepted', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    const noKey = await http(`${mock.url}/v1/chat/completions`, { body });
    assert.equal(noKey.status, 401);
    const wrong = await http(`${mock.url}/v1/chat/completions`, {
      headers: { authorization: 'Bearer nope' },
      body,
    });
    assert.equal(wrong.status, 401);
    const apiKey = await http(`${mock.url}/openai/deployments/dep/chat/completions?api-version=2024-10-21`, {
      headers: { 'api-key': key },
      body,
    });
    assert.equal(apiKey.status, 200, apiKey.text);
  });

  test('cached tokens are reported in prompt_tokens_details', async () => {
    const res = await http(`${mock.url}/v1/chat/completions`, {
      headers: { ...bearer(), 'x-mock-prompt-tokens': '20', 'x-mock-cached-tokens': '8' },
      body: { model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200);
    assert.equal(res.json.usage.prompt_tokens_details.cached_tokens, 8);
  });

  test('x-mock-status and x-mock-usage: none script the response', async () => {
    const body = { model: 'm', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] };
    const s = await http(`${mock.url}/v1/chat/completions`, { headers: { ...bearer(), 'x-mock-status': '503' }, body });
    assert.equal(s.status, 503);
    const u = await http(`${mock.url}/v1/chat/completions`, { headers: { ...bearer(), 'x-mock-usage': 'none' }, body });
    assert.equal(u.status, 200);
    assert.ok(u.json.usage === undefined || u.json.usage === null, `no usage: ${u.text}`);
  });

  test('embeddings return vectors and usage', async () => {
    const res = await http(`${mock.url}/v1/embeddings`, {
      headers: { ...bearer(), 'x-mock-prompt-tokens': '3' },
      body: { model: 'e', input: 'hello world' },
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.object, 'list');
    assert.ok(Array.isArray(res.json.data[0].embedding) && res.json.data[0].embedding.length > 0);
    assert.equal(res.json.usage.prompt_tokens, 3);
  });

  test('stream: role chunk, one chunk per token, finish chunk, [DONE]; usage chunk only on request', async () => {
    const reqBody = { model: 'm', stream: true, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] };
    const plain = await http(`${mock.url}/v1/chat/completions`, {
      headers: { ...bearer(), 'x-mock-prompt-tokens': '5' },
      body: reqBody,
    });
    assert.equal(plain.status, 200);
    assert.match(plain.headers['content-type'], /^text\/event-stream/);
    const data = plain.text
      .split(/\r?\n\r?\n/)
      .filter((b) => b.startsWith('data:'))
      .map((b) => b.slice(5).trim());
    assert.equal(data.at(-1), '[DONE]');
    const chunks = sseChunks(data);
    assert.equal(chunks.length, 5, plain.text); // role + 3 tokens + finish
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.deepEqual(
      chunks.slice(1, 4).map((c) => c.choices[0].delta.content),
      ['w1 ', 'w2 ', 'w3 '],
    );
    assert.equal(chunks[4].choices[0].finish_reason, 'stop');
    assert.ok(chunks.every((c) => c.choices.length > 0), 'no usage-only chunk without include_usage');

    const withUsage = await http(`${mock.url}/v1/chat/completions`, {
      headers: { ...bearer(), 'x-mock-prompt-tokens': '5' },
      body: { ...reqBody, stream_options: { include_usage: true } },
    });
    const data2 = withUsage.text
      .split(/\r?\n\r?\n/)
      .filter((b) => b.startsWith('data:'))
      .map((b) => b.slice(5).trim());
    assert.equal(data2.at(-1), '[DONE]');
    const chunks2 = sseChunks(data2);
    assert.equal(chunks2.length, 6);
    assert.deepEqual(chunks2[5].choices, []);
    assert.deepEqual(
      [chunks2[5].usage.prompt_tokens, chunks2[5].usage.completion_tokens, chunks2[5].usage.total_tokens],
      [5, 3, 8],
    );
  });

  test('x-mock-stall-after: 3 sends role + 3 token chunks and then stalls', async () => {
    const conn = await rawStream(mock.port, {
      path: '/v1/chat/completions',
      headers: { ...bearer(), 'x-mock-stall-after': '3' },
      body: { model: 'm', stream: true, max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] },
    });
    try {
      await conn.waitFor((c) => c.sseData().length >= 4, 5000, '4 SSE events');
      const chunks = sseChunks(conn.sseData());
      assert.deepEqual(
        chunks.slice(1).map((c) => c.choices[0].delta.content),
        ['w1 ', 'w2 ', 'w3 '],
      );
      assert.equal(conn.parser.complete, false);
      assert.ok(!conn.sseData().includes('[DONE]'));
    } finally {
      conn.destroy();
    }
  });

  test('GET /mock/requests records method, target, lowercase headers and the raw body', async () => {
    const marker = secret('marker');
    const body = `{"model": "m",  "messages": [{"role":"user","content":"${marker}"}], "max_tokens": 1}`;
    const res = await http(`${mock.url}/openai/deployments/d1/chat/completions?api-version=2024-10-21`, {
      headers: { 'api-key': key, 'X-Custom-Thing': 'Value1' },
      body,
    });
    assert.equal(res.status, 200);
    const recs = (await mock.requests()).filter((r) => r.body.includes(marker));
    assert.equal(recs.length, 1);
    assert.equal(recs[0].method, 'POST');
    assert.equal(recs[0].target, '/openai/deployments/d1/chat/completions?api-version=2024-10-21');
    assert.equal(recs[0].headers['x-custom-thing'], 'Value1');
    assert.equal(recs[0].headers['api-key'], key);
    assert.equal(recs[0].body, body);
  });
});
