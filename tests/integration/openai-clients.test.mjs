// The official `openai` npm client (OpenAI and AzureOpenAI) against the gateway, unchanged.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import OpenAI, { AuthenticationError, AzureOpenAI } from 'openai';

import { http, mockText } from './lib/harness.mjs';
import { startStack } from './lib/stack.mjs';

describe('official openai clients', () => {
  let stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const openai = (apiKey = stack.keys.TEAM_A_KEY) =>
    new OpenAI({ apiKey, baseURL: `${stack.gateway.url}/openai/v1`, maxRetries: 0, timeout: 10000 });
  const azure = (apiKey = stack.keys.TEAM_A_KEY) =>
    new AzureOpenAI({
      apiKey,
      endpoint: `${stack.gateway.url}/foundry`,
      apiVersion: '2024-10-21',
      deployment: 'gpt-4o',
      maxRetries: 0,
      timeout: 10000,
    });

  test('OpenAI: chat.completions.create (non-stream)', async () => {
    const { data, response } = await openai()
      .chat.completions.create(
        { model: 'gpt-mini', max_tokens: 6, messages: [{ role: 'user', content: 'hello' }] },
        { headers: { 'x-mock-prompt-tokens': '10' } },
      )
      .withResponse();
    assert.equal(data.choices[0].message.content, mockText(6));
    assert.equal(data.usage.prompt_tokens, 10);
    assert.equal(data.usage.completion_tokens, 6);
    assert.equal(data.usage.total_tokens, 16);
    assert.equal(response.headers.get('x-spillway-backend'), 'oai');
    assert.ok(response.headers.get('x-request-id'));
  });

  test('OpenAI: chat.completions.create stream: true assembles the mock text', async () => {
    const stream = await openai().chat.completions.create({
      model: 'gpt-mini',
      max_tokens: 6,
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
    });
    let text = '';
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      assert.ok(chunk.choices.length > 0, 'no usage-only chunk without include_usage');
    }
    assert.equal(text, mockText(6));
    assert.equal(chunks, 8); // role + 6 tokens + finish
    assert.equal(finish, 'stop');
  });

  test('OpenAI: stream with include_usage yields the usage chunk last', async () => {
    const stream = await openai().chat.completions.create(
      {
        model: 'gpt-mini',
        max_tokens: 3,
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'hello' }],
      },
      { headers: { 'x-mock-prompt-tokens': '4' } },
    );
    const all = [];
    for await (const chunk of stream) all.push(chunk);
    const last = all.at(-1);
    assert.deepEqual(last.choices, []);
    assert.deepEqual(
      [last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens],
      [4, 3, 7],
    );
  });

  // What the backend answers for an input, as floats.
  async function directEmbedding(input) {
    const direct = await http(`${stack.oai.url}/v1/embeddings`, {
      headers: { authorization: `Bearer ${stack.keys.OAI_KEY}` },
      body: { model: 'gpt-4o-mini-2024', input, encoding_format: 'float' },
    });
    assert.equal(direct.status, 200, direct.text);
    const v = direct.json.data[0].embedding;
    assert.ok(v.length > 0);
    return v;
  }

  test('OpenAI: embeddings.create with encoding_format float', async () => {
    const want = await directEmbedding('hello world');
    const res = await openai().embeddings.create({
      model: 'gpt-mini',
      input: 'hello world',
      encoding_format: 'float',
    });
    assert.equal(res.object, 'list');
    assert.equal(res.data.length, 1);
    assert.deepEqual(res.data[0].embedding, want, 'relayed unchanged');
  });

  test("OpenAI: embeddings.create with the SDK's default (it asks for base64 and decodes it)", async () => {
    const want = await directEmbedding('hello world');
    const res = await openai().embeddings.create({ model: 'gpt-mini', input: 'hello world' });
    assert.equal(res.data[0].embedding.length, want.length, 'dimension of the decoded vector');
    for (let i = 0; i < want.length; i++) {
      const w = Math.fround(want[i]);
      assert.ok(Math.abs(res.data[0].embedding[i] - w) <= 1e-6, `dimension ${i}: ${res.data[0].embedding[i]} vs ${w}`);
    }
  });

  test('AzureOpenAI: chat non-stream', async () => {
    const { data, response } = await azure()
      .chat.completions.create({ model: 'gpt-4o', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    assert.equal(data.choices[0].message.content, mockText(5));
    assert.equal(response.headers.get('x-spillway-backend'), 'az');
  });

  test('AzureOpenAI: chat stream', async () => {
    const stream = await azure().chat.completions.create({
      model: 'gpt-4o',
      max_tokens: 5,
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, mockText(5));
  });

  test('AzureOpenAI reaches the backend on the deployment path with the backend key', async () => {
    const recs = (await stack.az.requests()).filter((r) => r.target.includes('/chat/completions'));
    assert.ok(recs.length >= 2);
    for (const r of recs) {
      assert.equal(r.target, '/openai/deployments/gpt-4o-dep/chat/completions?api-version=2024-10-21');
      assert.equal(r.headers['api-key'], stack.keys.AZ_KEY);
    }
  });

  test('a wrong key makes both clients throw AuthenticationError (401)', async () => {
    for (const client of [openai('wrong-key'), azure('wrong-key')]) {
      await assert.rejects(
        client.chat.completions.create({ model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] }),
        (err) => {
          assert.ok(err instanceof AuthenticationError, `AuthenticationError, got ${err?.constructor?.name}`);
          assert.equal(err.status, 401);
          assert.equal(typeof err.error?.message, 'string');
          return true;
        },
      );
    }
  });
});
