// Errors the gateway produces itself: status, OpenAI error body, x-request-id, no secrets.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';

import { buildRequest, closedPort, http, rawConnect, rawExchange } from './lib/harness.mjs';
import { assertErrorBody, assertNoSecrets, authHeaders, requestsWith, secret, startStack } from './lib/stack.mjs';

describe('gateway errors', () => {
  let stack;

  before(async () => {
    stack = await startStack({
      maxBody: '64KiB',
      timeouts: '{ connect: 1s, first_byte: 1s, idle: 1s, total: 10s, client_idle: 1s, drain: 5s }',
      setup: async () => {
        const dead = await closedPort();
        return {
          extraBackends: `  dead: { url: http://127.0.0.1:${dead}, kind: openai, auth: { bearer_env: OAI_KEY } }\n`,
          extraPools: '  down: { members: [ { backend: dead, model: some-model } ] }\n',
        };
      },
    });
  });
  after(async () => {
    await stack?.stop();
  });

  const gw = () => stack.gateway.url;
  const ok = (res) => {
    assert.ok(res.headers['x-request-id'], `x-request-id on ${res.status}`);
    assertNoSecrets(res, stack.secrets);
  };

  test('bad JSON -> 400', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: '{"model": "gpt-mini", "messages": [',
    });
    assertErrorBody(res, { status: 400 });
    ok(res);
  });

  test('a compressed body (content-encoding) -> 415 after authentication; identity is plain', async () => {
    const marker = `ce-${Date.now()}`;
    const body = { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content: marker }] };
    for (const coding of ['gzip', 'br', 'GZIP']) {
      const res = await http(`${gw()}/openai/v1/chat/completions`, {
        headers: authHeaders(stack, { 'content-encoding': coding }),
        body: zlib.gzipSync(JSON.stringify(body)),
      });
      assertErrorBody(res, { status: 415, code: 'unsupported_content_encoding' });
      ok(res);
    }
    assert.equal((await requestsWith(stack.oai, marker)).length, 0, 'nothing compressed reached the backend');
    const anon = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: { 'content-encoding': 'gzip' },
      body: zlib.gzipSync(JSON.stringify(body)),
    });
    assertErrorBody(anon, { status: 401 });
    const plain = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack, { 'content-encoding': 'identity' }),
      body,
    });
    assert.equal(plain.status, 200, plain.text);
  });

  test('missing model (OpenAI shape) -> 400', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { messages: [{ role: 'user', content: 'hi' }] },
    });
    assertErrorBody(res, { status: 400 });
    ok(res);
  });

  test('missing messages -> 400', async () => {
    const marker = secret('m');
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', user: marker },
    });
    assertErrorBody(res, { status: 400 });
    ok(res);
    assert.equal((await requestsWith(stack.oai, marker)).length, 0);

    const azure = await http(`${gw()}/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`, {
      headers: authHeaders(stack),
      body: { max_tokens: 2 },
    });
    assertErrorBody(azure, { status: 400 });
    ok(azure);
  });

  test('unknown model -> 404, unknown deployment -> 404', async () => {
    const a = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] },
    });
    assertErrorBody(a, { status: 404 });
    ok(a);
    const b = await http(`${gw()}/foundry/openai/deployments/no-such-dep/chat/completions?api-version=2024-10-21`, {
      headers: authHeaders(stack),
      body: { messages: [{ role: 'user', content: 'hi' }] },
    });
    assertErrorBody(b, { status: 404 });
    ok(b);
  });

  test('unknown path -> 404', async () => {
    for (const path of ['/nope', '/openai/v1/nope', '/foundry/openai/deployments/gpt-4o/nope?api-version=2024-10-21']) {
      const res = await http(`${gw()}${path}`, { headers: authHeaders(stack), body: { model: 'gpt-mini' } });
      assertErrorBody(res, { status: 404 });
      ok(res);
    }
  });

  test('GET on chat/completions -> 405', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, { method: 'GET', headers: authHeaders(stack) });
    assertErrorBody(res, { status: 405 });
    ok(res);
  });

  test('body over max_body -> 413; a body under it is accepted', async () => {
    const big = JSON.stringify({
      model: 'gpt-mini',
      messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }],
    });
    const res = await http(`${gw()}/openai/v1/chat/completions`, { headers: authHeaders(stack), body: big });
    assertErrorBody(res, { status: 413 });
    ok(res);

    const fits = JSON.stringify({
      model: 'gpt-mini',
      max_tokens: 1,
      messages: [{ role: 'user', content: 'x'.repeat(60 * 1024) }],
    });
    const res2 = await http(`${gw()}/openai/v1/chat/completions`, { headers: authHeaders(stack), body: fits });
    assert.equal(res2.status, 200, res2.text);
  });

  test('backend down (closed port) -> 502 with x-spillway-attempts naming the backend', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'down', messages: [{ role: 'user', content: 'hi' }] },
    });
    assertErrorBody(res, { status: 502 });
    ok(res);
    assert.ok(res.headers['x-spillway-attempts'], 'x-spillway-attempts present');
    assert.match(res.headers['x-spillway-attempts'], /\bdead\b/);
  });

  test('backend hang -> 504 after the first_byte timeout (1s)', async () => {
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack, { 'x-mock-hang': 'true' }),
      body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] },
    });
    assertErrorBody(res, { status: 504 });
    ok(res);
    assert.ok(res.ms >= 900, `waited for the first_byte timeout (took ${res.ms} ms)`);
    assert.ok(res.ms < 5000, `did not wait for the total timeout (took ${res.ms} ms)`);
    assert.match(res.headers['x-spillway-attempts'] || '', /\boai\b/);
  });

  test('pipelined requests and a body sent after its head, on one connection: each answered whole, in order', async () => {
    // The gateway parses a body from what it already read with the head and reads only for the rest: two
    // requests in one write share its read buffer (the first body must stop where it ends), and a body
    // that comes in a later write must still be read. The mock's prompt_tokens is the body's length / 4.
    const port = stack.gateway.port;
    const request = (content) =>
      buildRequest({
        port,
        path: '/openai/v1/chat/completions',
        headers: authHeaders(stack),
        body: { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content }] },
      });
    // Splits `bytes` into complete responses (every one has a content-length here).
    const responses = (bytes) => {
      const out = [];
      let at = 0;
      for (;;) {
        const end = bytes.indexOf('\r\n\r\n', at);
        if (end < 0) return out;
        const head = bytes.subarray(at, end).toString('latin1');
        const length = Number((head.match(/\r\ncontent-length: *(\d+)/i) || [])[1]);
        if (!(length >= 0) || bytes.length < end + 4 + length) return out;
        out.push({ status: Number(head.split(' ')[1]), json: JSON.parse(bytes.subarray(end + 4, end + 4 + length)) });
        at = end + 4 + length;
      }
    };
    const conn = await rawConnect(port);
    try {
      await conn.write(Buffer.concat([request('a'.repeat(10)), request('b'.repeat(200))]));
      await conn.waitFor((c) => responses(c.received).length >= 2, 5000, 'two pipelined responses');
      const third = request('c'.repeat(400));
      const headEnd = third.indexOf('\r\n\r\n') + 4;
      await conn.write(third.subarray(0, headEnd + 7)); // the head and the first bytes of the body
      await new Promise((resolve) => setTimeout(resolve, 50)); // so that the rest comes in a later read
      await conn.write(third.subarray(headEnd + 7));
      await conn.waitFor((c) => responses(c.received).length >= 3, 5000, 'the third response');
      const all = responses(conn.received);
      assert.equal(all.length, 3, conn.received.toString('latin1').slice(0, 500));
      assert.deepEqual(
        all.map((r) => r.status),
        [200, 200, 200],
      );
      const prompts = all.map((r) => r.json.usage.prompt_tokens);
      assert.ok(prompts[0] < prompts[1] && prompts[1] < prompts[2], `answered out of order: ${prompts}`);
      assert.equal(conn.closed, false);
    } finally {
      conn.destroy();
    }
  });

  test('client_idle (1s) closes a connection whose head or body stalls, and one idle after a response', async () => {
    const port = stack.gateway.port;
    const request = buildRequest({
      port,
      path: '/openai/v1/chat/completions',
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
    });
    const headEnd = request.indexOf('\r\n\r\n') + 4;
    const cases = [
      ['a head that stops half-way', request.subarray(0, 40)],
      ['a body that stops half-way', request.subarray(0, headEnd + 5)],
      ['a kept-alive connection after its response', request],
    ];
    for (const [what, bytes] of cases) {
      const conn = await rawConnect(port);
      try {
        const started = Date.now();
        await conn.write(bytes);
        await conn.waitFor((c) => c.closed, 5000, `${what}: the gateway closing the connection`);
        const ms = Date.now() - started;
        assert.ok(ms >= 900 && ms < 2500, `${what}: closed after ${ms} ms, client_idle is 1s`);
        if (bytes === request) {
          assert.equal(
            conn.parser.status,
            200,
            `${what}: answered before (${conn.received.toString('latin1').slice(0, 200)})`,
          );
        } else {
          assert.equal(conn.received.length, 0, `${what}: nothing is answered`);
        }
      } finally {
        conn.destroy();
      }
    }
    // Still serving.
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200);
  });

  test('an answer to HEAD has no content: the next answer on the connection starts right after its head', async () => {
    for (const [port, first, second] of [
      [stack.gateway.port, 'HEAD /openai/v1/chat/completions', 'GET /openai/v1/models'],
      [stack.gateway.adminPort, 'HEAD /metrics', 'GET /healthz'],
    ]) {
      const conn = await rawConnect(port);
      try {
        const key = `api-key: ${stack.keys.TEAM_A_KEY}\r\n`;
        await conn.write(`${first} HTTP/1.1\r\nhost: x\r\n${key}\r\n${second} HTTP/1.1\r\nhost: x\r\n${key}\r\n`);
        await conn.waitFor(
          (c) => (c.received.toString('latin1').match(/HTTP\/1\.1 \d{3}/g) || []).length >= 2,
          5000,
          'two answers',
        );
        const text = conn.received.toString('latin1');
        const headEnd = text.indexOf('\r\n\r\n') + 4;
        assert.match(
          text.slice(0, headEnd),
          /^HTTP\/1\.1 (200|405) [^\r]*\r\n[\s\S]*content-length: \d+\r\n/,
          `${first}: ${text.slice(0, 300)}`,
        );
        assert.match(
          text.slice(headEnd),
          /^HTTP\/1\.1 200 /,
          `${first}: no content before the next answer: ${text.slice(headEnd, headEnd + 80)}`,
        );
      } finally {
        conn.destroy();
      }
    }
  });

  test('malformed HTTP on a raw socket -> 400 or closed, and the gateway keeps serving', async () => {
    const port = stack.gateway.port;
    const payloads = [
      'GARBAGE\r\n\r\n',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      'GET / HTTP/9.9\r\nhost: x\r\n\r\n',
      'GET /openai/v1/models HTTP/1.1\r\n\r\n', // HTTP/1.1 without a Host field
      // A transfer coding the gateway cannot undo: the body's end is unknown, so the bytes after the head
      // must not be read as a next request (a GET of the model list here).
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip\r\n\r\nGET /openai/v1/models HTTP/1.1\r\nhost: x\r\n\r\n',
      'POST /openai/v1/chat/completions HTTP/1.1\r\nhost: x\r\ntransfer-encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
    ];
    for (const p of payloads) {
      const r = await rawExchange(port, Buffer.from(p, 'latin1'), { timeoutMs: 5000 });
      assert.ok(
        r.status === 400 || (r.status === null && r.closed),
        `malformed request ${JSON.stringify(p.slice(0, 60))} -> ${r.status} (${r.raw.slice(0, 200)})`,
      );
      if (r.status === 400) {
        assertErrorBody({ status: r.status, json: r.json, body: r.body });
      }
      // The connection closes after such an answer (client_idle is 1 s here: a connection left open would
      // close later, after answering whatever followed the malformed head).
      const conn = await rawConnect(port);
      try {
        await conn.write(Buffer.from(p, 'latin1'));
        await conn.waitFor((c) => c.closed, 5000, 'the close');
        const answers = conn.received.toString('latin1').match(/HTTP\/1\.1 \d{3}/g) || [];
        assert.ok(answers.length <= 1, `one answer at most to ${JSON.stringify(p.slice(0, 60))}: ${answers}`);
      } finally {
        conn.destroy();
      }
    }
    // Still serving, on a raw connection and via fetch.
    const good = await rawExchange(
      port,
      buildRequest({
        port,
        path: '/openai/v1/chat/completions',
        headers: authHeaders(stack),
        body: { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
      }),
    );
    assert.equal(good.status, 200, good.raw.slice(0, 300));
    const res = await http(`${gw()}/openai/v1/chat/completions`, {
      headers: authHeaders(stack),
      body: { model: 'gpt-mini', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200);
  });
});
