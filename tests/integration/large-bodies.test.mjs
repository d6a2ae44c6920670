// Bodies larger than a socket's send buffer, both ways. The gateway writes a response (and an upstream
// request) directly while the socket takes the bytes and finishes asynchronously with what is left
// (src/http/write_now.h): tens of MiB never fit loopback's socket buffers, so these exchanges always take
// the partial-write path. Every byte must arrive once, in order, and the connections stay usable.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import nodeHttp from 'node:http';
import { after, before, describe, test } from 'node:test';

import { startGateway } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

// Deterministic text of `n` bytes that is not one repeated block (so a duplicated or skipped piece changes
// the hash at any offset).
function text(n, seed) {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
  const parts = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    const w = `${words[(i * 7 + seed) % words.length]}${i} `;
    parts.push(w);
    size += w.length;
  }
  return parts.join('').slice(0, n);
}

const RESPONSE_CONTENT_BYTES = 24 * 1024 * 1024;
const REQUEST_CONTENT_BYTES = 6 * 1024 * 1024;

describe('bodies larger than the socket buffers', () => {
  const keys = { BK: secret('backend'), CK: secret('client') };
  const completion = Buffer.from(
    JSON.stringify({
      id: 'chatcmpl-large',
      object: 'chat.completion',
      created: 1735689600,
      model: 'gpt-4o',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: text(RESPONSE_CONTENT_BYTES, 3) },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 11, total_tokens: 18 },
    }),
  );
  let server;
  let gateway;
  const received = []; // {length, contentHash} of each request body the backend got

  before(async () => {
    server = nodeHttp.createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let content = '';
        try {
          content = JSON.parse(body.toString('utf8')).messages[0].content;
        } catch {
          content = '<unparseable>';
        }
        received.push({ length: body.length, contentHash: sha256(content), contentLength: content.length });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
        res.end(completion);
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 1, max_body: 8MiB,
          timeouts: { connect: 2s, first_byte: 20s, idle: 20s, total: 60s, drain: 2s } }
backends:
  big: { url: "http://127.0.0.1:${server.address().port}", kind: openai, auth: { bearer_env: BK } }
pools:
  gpt-4o: { members: [ { backend: big } ] }
subscriptions:
  team: { key_env: CK }
`;
    gateway = await startGateway({ config, env: keys });
  });

  after(async () => {
    if (gateway) await gateway.stop();
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // One request on `agent`; resolves {status, body (Buffer), reused (the connection was kept alive)}.
  function post(agent, payload) {
    return new Promise((resolve, reject) => {
      const data = Buffer.from(JSON.stringify(payload));
      const req = nodeHttp.request(
        `${gateway.url}/v1/chat/completions`,
        {
          method: 'POST',
          agent,
          headers: { 'api-key': keys.CK, 'content-type': 'application/json', 'content-length': data.length },
          signal: AbortSignal.timeout(60000),
        },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode, body: Buffer.concat(chunks), reused: req.reusedSocket }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  test('a 24 MiB response and a 6 MiB request arrive whole, twice on one kept-alive connection', async () => {
    const agent = new nodeHttp.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const content = text(REQUEST_CONTENT_BYTES, 5);
      for (let round = 0; round < 2; round++) {
        received.length = 0;
        const r = await post(agent, { model: 'gpt-4o', messages: [{ role: 'user', content }] });
        assert.equal(r.status, 200, r.body.subarray(0, 300).toString());
        assert.equal(r.body.length, completion.length, `round ${round}: response length`);
        assert.equal(sha256(r.body), sha256(completion), `round ${round}: response bytes`);
        assert.equal(received.length, 1);
        assert.equal(received[0].contentLength, content.length, `round ${round}: request content length`);
        assert.equal(received[0].contentHash, sha256(content), `round ${round}: request content bytes`);
        if (round === 1) assert.equal(r.reused, true, 'the second request reused the client connection');
      }
    } finally {
      agent.destroy();
    }
  });
});
