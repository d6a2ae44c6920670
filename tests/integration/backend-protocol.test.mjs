// What a backend's odd HTTP becomes: interim 1xx responses are skipped, a status HTTP does not define or a
// protocol switch is a 502, a 204 reaches the client without a body or framing, bytes a backend sends
// behind a whole response never reach the next request on that connection, and the fields a Connection
// header names for its own hop go no further, in either direction.

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { buildRequest, rawExchange, startGateway } from './lib/harness.mjs';
import { assertErrorBody, secret } from './lib/stack.mjs';

const JSON_BODY = '{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}';
const ok = (body = JSON_BODY) =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;

// The answer for the marker in the request's message.
const ANSWERS = {
  continue: `HTTP/1.1 100 Continue\r\n\r\n${ok()}`,
  'early-hints': `HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n${ok()}`,
  'status-999': `HTTP/1.1 999 Odd\r\ncontent-type: application/json\r\ncontent-length: ${JSON_BODY.length}\r\n\r\n${JSON_BODY}`,
  'status-099': `HTTP/1.1 099 Odd\r\ncontent-length: 0\r\n\r\n`,
  switch: `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n${JSON_BODY}`,
  'only-interim': 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(12),
  // A 204 has no body whatever its content-length says; these bytes would be the next response's start.
  'no-content': `HTTP/1.1 204 No Content\r\ncontent-length: ${JSON_BODY.length}\r\n\r\n${JSON_BODY}`,
  plain: ok(),
  // Fields named by Connection are for this hop only (RFC 9110 7.6.1).
  'hop-fields': ok().replace(
    '\r\n\r\n',
    '\r\nconnection: keep-alive, X-Backend-Hop\r\nx-backend-hop: 1\r\nx-backend-kept: 1\r\n\r\n',
  ),
  'hop-fields-500':
    'HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: 2\r\n' +
    'connection: X-BACKEND-HOP\r\nx-backend-hop: 1\r\nx-backend-kept: 1\r\n\r\n{}',
};

describe('odd HTTP from a backend', () => {
  const keys = { ODD_KEY: secret('odd'), TEAM_A_KEY: secret('team-a') };
  let server;
  let gw;
  const connections = new Set();
  const heads = new Map(); // marker -> the request head the backend got, lower case

  before(async () => {
    server = net.createServer((socket) => {
      connections.add(socket);
      socket.on('error', () => {});
      let buf = Buffer.alloc(0);
      socket.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const headEnd = buf.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const length = Number(
          /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, headEnd).toString('latin1'))?.[1] || 0,
        );
        if (buf.length < headEnd + 4 + length) return;
        const head = buf.subarray(0, headEnd).toString('latin1').toLowerCase();
        const body = buf.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
        buf = buf.subarray(headEnd + 4 + length);
        const marker = /"content":"([a-z0-9-]+)"/.exec(body)?.[1];
        heads.set(marker, head);
        socket.write(ANSWERS[marker] ?? ok());
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 1,
          timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 10s } }
backends:
  odd: { url: http://127.0.0.1:${server.address().port}, kind: openai, auth: { bearer_env: ODD_KEY } }
pools:
  odd: { members: [ { backend: odd } ], retry: { max_attempts: 1 }, circuit_breaker: { enabled: false } }
apis:
  - { name: openai, prefix: /openai, shape: openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY }
`;
    gw = await startGateway({ config, env: keys });
  });
  after(async () => {
    await gw?.stop();
    for (const s of connections) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  const call = (marker, headers = {}) =>
    rawExchange(
      gw.port,
      buildRequest({
        port: gw.port,
        path: '/openai/v1/chat/completions',
        headers: { 'api-key': keys.TEAM_A_KEY, ...headers },
        body: { model: 'odd', messages: [{ role: 'user', content: marker }] },
      }),
    );

  test('interim responses (100 Continue, 103 Early Hints) are skipped: the client gets the final 200', async () => {
    for (const marker of ['continue', 'early-hints']) {
      const res = await call(marker);
      assert.equal(res.status, 200, `${marker}: ${res.raw.slice(0, 300)}`);
      assert.doesNotMatch(res.raw, /^HTTP\/1\.1 1\d\d/, `${marker}: no 1xx relayed`);
      assert.equal(res.json.usage.total_tokens, 3);
      assert.equal(res.headers['x-spillway-attempts'], 'odd:200');
      assert.equal(res.headers.link, undefined, `${marker}: the 103's fields are not the answer's`);
    }
  });

  test('a status HTTP does not define, a protocol switch, or only interim answers: 502 in the OpenAI shape', async () => {
    for (const marker of ['status-999', 'status-099', 'switch', 'only-interim']) {
      const res = await call(marker);
      assert.equal(res.status, 502, `${marker}: ${res.raw.slice(0, 300)}`);
      assertErrorBody({ status: res.status, json: res.json, body: res.body });
      assert.equal(res.headers['x-spillway-attempts'], 'odd:bad_response', marker);
    }
    const line = await gw.waitForLog((l) => l.attempt_log === 'odd:bad_response' && l.status === 502);
    assert.equal(line.status, 502);
  });

  test('a 204 reaches the client with no body or framing, and the bytes behind it do not reach the next request', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await call('no-content');
      assert.equal(res.status, 204, res.raw.slice(0, 300));
      assert.equal(res.headers['transfer-encoding'], undefined, 'no transfer-encoding on a 204');
      assert.equal(res.headers['content-length'], undefined, 'no content-length on a 204');
      assert.equal(res.body, '');
      // The next request goes to the same backend: it must get its own answer, not the 204's leftovers.
      const next = await call('plain');
      assert.equal(next.status, 200, next.raw.slice(0, 300));
      assert.equal(next.json.usage.total_tokens, 3);
    }
  });

  test("fields a Connection header names are not forwarded: not the client's upstream, not the backend's back", async () => {
    for (const marker of ['hop-fields', 'hop-fields-500']) {
      const res = await call(marker, {
        connection: 'keep-alive, X-Client-Hop ,te',
        'x-client-hop': 'only-for-the-gateway',
        'x-client-kept': '1',
      });
      assert.equal(res.status, marker === 'hop-fields' ? 200 : 500, `${marker}: ${res.raw.slice(0, 300)}`);
      const head = heads.get(marker);
      assert.ok(head, `${marker}: the backend got the request`);
      assert.match(head, /\r\nx-client-kept: 1/, `${marker}: an ordinary field goes upstream`);
      assert.doesNotMatch(head, /x-client-hop/, `${marker}: the field Connection names does not`);
      assert.equal(res.headers['x-backend-kept'], '1', `${marker}: an ordinary field comes back`);
      assert.equal(res.headers['x-backend-hop'], undefined, `${marker}: the field Connection names does not`);
    }
  });
});
