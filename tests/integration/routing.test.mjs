// Surfaces, request rewriting per backend kind, client authentication and the response headers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { http, mockText } from './lib/harness.mjs';
import { assertErrorBody, assertNoSecrets, authHeaders, requestsWith, secret, startStack } from './lib/stack.mjs';

describe('gateway routing and rewriting', () => {
  let stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const gw = () => stack.gateway.url;
  const chat = (marker, extra = {}) => ({
    messages: [{ role: 'user', content: `hello ${marker}` }],
    max_tokens: 3,
    ...extra,
  });

  // Sends `body` and returns {res, recs} where recs are the requests the mock recorded for this marker.
  async function send(path, mock, marker, body, headers = authHeaders(stack)) {
    const res = await http(`${gw()}${path}`, { headers, body });
    const recs = await requestsWith(mock, marker);
    return { res, recs };
  }

  test('Azure deployments surface -> azure backend: path, api-version, api-key, body unchanged', async () => {
    const marker = secret('m');
    // Unusual whitespace and a non-ASCII character: the body must arrive byte for byte.
    const body = `{ "messages" : [ {"role":"user","content":"héllo ${marker}"} ],\n  "max_tokens": 3, "temperature": 0.5 }`;
    const { res, recs } = await send(
      '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
      stack.az,
      marker,
      body,
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, mockText(3));
    assert.equal(res.headers['x-spillway-backend'], 'az');
    assert.ok(res.headers['x-request-id'], 'x-request-id present');
    assert.equal(recs.length, 1);
    assert.equal(recs[0].method, 'POST');
    assert.equal(recs[0].target, '/openai/deployments/gpt-4o-dep/chat/completions?api-version=2024-10-21');
    assert.equal(recs[0].headers['api-key'], stack.keys.AZ_KEY);
    assert.equal(recs[0].body, body);
    assertNoSecrets(res, stack.secrets);
  });

  test("the client's api-version is passed through to the azure backend", async () => {
    const marker = secret('m');
    const { res, recs } = await send(
      '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2025-01-01-preview',
      stack.az,
      marker,
      chat(marker),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(recs.length, 1);
    assert.equal(recs[0].target, '/openai/deployments/gpt-4o-dep/chat/completions?api-version=2025-01-01-preview');
  });

  test('OpenAI surface -> openai backend: /v1 path, model replaced, Bearer key, other bytes unchanged', async () => {
    const marker = secret('m');
    const body = `{"model": "gpt-mini", "messages": [{"role": "user", "content": "ünïcode ${marker}"}],  "max_tokens": 3, "user": "u1"}`;
    const { res, recs } = await send('/openai/v1/chat/completions', stack.oai, marker, body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.choices[0].message.content, mockText(3));
    assert.equal(res.headers['x-spillway-backend'], 'oai');
    assert.equal(recs.length, 1);
    assert.equal(recs[0].target, '/v1/chat/completions');
    assert.equal(recs[0].headers.authorization, `Bearer ${stack.keys.OAI_KEY}`);
    assert.equal(recs[0].body, body.replace('"gpt-mini"', '"gpt-4o-mini-2024"'));
    assertNoSecrets(res, stack.secrets);
  });

  test('OpenAI surface -> azure backend: deployment path with a default api-version', async () => {
    const marker = secret('m');
    const { res, recs } = await send(
      '/openai/v1/chat/completions',
      stack.az,
      marker,
      chat(marker, { model: 'gpt-4o' }),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'az');
    assert.equal(recs.length, 1);
    assert.match(recs[0].target, /^\/openai\/deployments\/gpt-4o-dep\/chat\/completions\?api-version=[^&=]+$/);
    assert.equal(recs[0].headers['api-key'], stack.keys.AZ_KEY);
    assert.equal(recs[0].headers.authorization, undefined, 'no Authorization header to an api-key backend');
  });

  test('Azure deployments surface -> openai backend: /v1 path with the member model in the body', async () => {
    const marker = secret('m');
    const { res, recs } = await send(
      '/foundry/openai/deployments/gpt-mini/chat/completions?api-version=2024-10-21',
      stack.oai,
      marker,
      chat(marker),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'oai');
    assert.equal(recs.length, 1);
    assert.equal(recs[0].target, '/v1/chat/completions');
    assert.equal(JSON.parse(recs[0].body).model, 'gpt-4o-mini-2024');
    assert.equal(recs[0].headers.authorization, `Bearer ${stack.keys.OAI_KEY}`);
    assert.equal(recs[0].headers['api-key'], undefined, 'no api-key header to a bearer backend');
  });

  test('Azure v1 surface (/foundry/openai/v1/chat/completions, model in body)', async () => {
    const marker = secret('m');
    const { res, recs } = await send(
      '/foundry/openai/v1/chat/completions',
      stack.az,
      marker,
      chat(marker, { model: 'gpt-4o' }),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'az');
    assert.equal(recs.length, 1);
    assert.match(recs[0].target, /^\/openai\/deployments\/gpt-4o-dep\/chat\/completions\?api-version=[^&=]+$/);
    assert.equal(recs[0].headers['api-key'], stack.keys.AZ_KEY);
  });

  test('Foundry models surface (/foundry/models/chat/completions, model in body)', async () => {
    const marker = secret('m');
    const { res, recs } = await send(
      '/foundry/models/chat/completions',
      stack.oai,
      marker,
      chat(marker, { model: 'gpt-mini' }),
    );
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'oai');
    assert.equal(recs.length, 1);
    assert.equal(recs[0].target, '/v1/chat/completions');
    assert.equal(JSON.parse(recs[0].body).model, 'gpt-4o-mini-2024');
  });

  test('embeddings on both surfaces', async () => {
    const m1 = secret('m');
    const a = await send('/openai/v1/embeddings', stack.oai, m1, { model: 'gpt-mini', input: `text ${m1}` });
    assert.equal(a.res.status, 200, a.res.text);
    assert.equal(a.res.json.object, 'list');
    assert.ok(Array.isArray(a.res.json.data[0].embedding));
    assert.equal(a.recs.length, 1);
    assert.equal(a.recs[0].target, '/v1/embeddings');
    assert.equal(JSON.parse(a.recs[0].body).model, 'gpt-4o-mini-2024');

    const m2 = secret('m');
    const b = await send(
      '/foundry/openai/deployments/gpt-4o/embeddings?api-version=2024-10-21',
      stack.az,
      m2,
      { input: `text ${m2}` },
    );
    assert.equal(b.res.status, 200, b.res.text);
    assert.equal(b.res.headers['x-spillway-backend'], 'az');
    assert.equal(b.recs.length, 1);
    assert.equal(b.recs[0].target, '/openai/deployments/gpt-4o-dep/embeddings?api-version=2024-10-21');
  });

  test('completions on both surfaces', async () => {
    const m1 = secret('m');
    const a = await send('/openai/v1/completions', stack.oai, m1, {
      model: 'gpt-mini',
      prompt: `say ${m1}`,
      max_tokens: 2,
    });
    assert.equal(a.res.status, 200, a.res.text);
    assert.equal(a.recs.length, 1);
    assert.equal(a.recs[0].target, '/v1/completions');
    assert.equal(JSON.parse(a.recs[0].body).model, 'gpt-4o-mini-2024');

    const m2 = secret('m');
    const b = await send(
      '/foundry/openai/deployments/gpt-4o/completions?api-version=2024-10-21',
      stack.az,
      m2,
      { prompt: `say ${m2}`, max_tokens: 2 },
    );
    assert.equal(b.res.status, 200, b.res.text);
    assert.equal(b.recs.length, 1);
    assert.equal(b.recs[0].target, '/openai/deployments/gpt-4o-dep/completions?api-version=2024-10-21');
  });

  test('responses (OpenAI surface) is forwarded to /v1/responses and relayed as the backend answers', async () => {
    const marker = secret('m');
    const body = { model: 'gpt-mini', input: `hi ${marker}` };
    const { res, recs } = await send('/openai/v1/responses', stack.oai, marker, body);
    assert.equal(recs.length, 1, 'the request reached the backend');
    assert.equal(recs[0].target, '/v1/responses');
    assert.equal(JSON.parse(recs[0].body).model, 'gpt-4o-mini-2024');
    assert.equal(res.headers['x-spillway-backend'], 'oai');
    // Whatever the mock answers to this request directly, the gateway relays.
    const direct = await http(`${stack.oai.url}/v1/responses`, {
      headers: { authorization: `Bearer ${stack.keys.OAI_KEY}` },
      body: { ...body, model: 'gpt-4o-mini-2024' },
    });
    assert.equal(res.status, direct.status, res.text);
  });

  test('client keys accepted as api-key, Ocp-Apim-Subscription-Key and Authorization: Bearer', async () => {
    const k = stack.keys.TEAM_A_KEY;
    for (const headers of [{ 'api-key': k }, { 'Ocp-Apim-Subscription-Key': k }, { authorization: `Bearer ${k}` }]) {
      const marker = secret('m');
      const { res, recs } = await send(
        '/openai/v1/chat/completions',
        stack.oai,
        marker,
        chat(marker, { model: 'gpt-mini' }),
        headers,
      );
      assert.equal(res.status, 200, `${Object.keys(headers)[0]}: ${res.text}`);
      assert.equal(recs.length, 1);
      const forwarded = JSON.stringify(recs[0].headers) + recs[0].body;
      assert.ok(!forwarded.includes(k), `client key not forwarded (${Object.keys(headers)[0]})`);
      assert.equal(recs[0].headers['ocp-apim-subscription-key'], undefined);
      assert.equal(recs[0].headers.authorization, `Bearer ${stack.keys.OAI_KEY}`);
    }
  });

  test('x-request-id is unique per request', async () => {
    const ids = new Set();
    for (let i = 0; i < 3; i++) {
      const res = await http(`${gw()}/openai/v1/chat/completions`, {
        headers: authHeaders(stack),
        body: chat('rid', { model: 'gpt-mini' }),
      });
      assert.equal(res.status, 200);
      ids.add(res.headers['x-request-id']);
    }
    assert.equal(ids.size, 3);
  });

  test('GET /openai/v1/models lists the pools, answered by the gateway', async () => {
    const before = (await stack.az.requests()).length + (await stack.oai.requests()).length;
    const res = await http(`${gw()}/openai/v1/models`, { method: 'GET', headers: authHeaders(stack) });
    assert.equal(res.status, 200, res.text);
    assert.ok(res.headers['x-request-id']);
    assert.equal(res.json.object, 'list');
    assert.deepEqual(res.json.data.map((m) => m.id).sort(), ['gpt-4o', 'gpt-mini']);
    for (const m of res.json.data) assert.equal(m.object, 'model');
    const afterCount = (await stack.az.requests()).length + (await stack.oai.requests()).length;
    assert.equal(afterCount, before, 'no backend was asked');
  });

  test('the client key never reached any backend in any header or body', async () => {
    const all = [...(await stack.az.requests()), ...(await stack.oai.requests())];
    assert.ok(all.length > 0);
    for (const r of all) {
      const text = JSON.stringify(r.headers) + r.body + r.target;
      assert.ok(!text.includes(stack.keys.TEAM_A_KEY), `client key leaked in ${r.target}`);
    }
  });
});

// Its own gateway, so that a failure here cannot take the other tests down with it.
describe('gateway client authentication failures', () => {
  let stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  const gw = () => stack.gateway.url;
  const chat = (marker, extra = {}) => ({ messages: [{ role: 'user', content: `hello ${marker}` }], ...extra });

  test('no key -> 401, wrong key -> 401, OpenAI error body, nothing reaches a backend', async () => {
    for (const headers of [{}, { 'api-key': 'wrong-key' }, { authorization: 'Bearer wrong-key' }]) {
      const marker = secret('m');
      const res = await http(`${gw()}/openai/v1/chat/completions`, {
        headers,
        body: chat(marker, { model: 'gpt-mini' }),
      });
      const recs = await requestsWith(stack.oai, marker);
      assertErrorBody(res, { status: 401 });
      assert.ok(res.headers['x-request-id'], 'x-request-id on a 401');
      assert.equal(res.headers['x-spillway-backend'], undefined);
      assert.equal(recs.length, 0);
      assertNoSecrets(res, stack.secrets);
    }
    const azure = await http(`${gw()}/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`, {
      headers: { 'api-key': 'wrong' },
      body: chat('x'),
    });
    assertErrorBody(azure, { status: 401 });
  });

  test('the gateway still serves a valid key after rejecting bad ones', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: chat('after', { model: 'gpt-mini', max_tokens: 1 }),
    });
    assert.equal(res.status, 200, res.text);
  });
});
