// Upstream keep-alive connections that the backend closes while they sit idle in the gateway's pool (every
// HTTP server has a keep-alive timeout: nginx 75 s, Node 5 s, uvicorn 5 s). The next requests must not see
// them: no 502 connection_closed, no retry on another member, and no circuit breaker opened by them.
// First backend: Node's own HTTP server with a short keep-alive timeout (it closes idle sockets about 1 s
// after their last response); the test waits until the server has closed every connection the gateway
// pooled (watched from the server side), then sends again: the gateway notices the close before sending.
// Second backend: a raw server that closes each connection 20 ms after answering on it, although it
// answered with keep-alive: the next request is sent on the closed connection (the gateway checks only
// connections idle for 500 ms or more), fails, and must be retried on a fresh connection.

import assert from 'node:assert/strict';
import nodeHttp from 'node:http';
import { after, before, describe, test } from 'node:test';

import net from 'node:net';

import { http, startGateway, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-ka',
  object: 'chat.completion',
  created: 1735689600,
  model: 'gpt-4o',
  choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 },
});

describe('upstream keep-alive connections closed by the backend while idle', () => {
  const keys = { BK: secret('backend'), CK: secret('client') };
  let server;
  const open = new Set(); // the server's sockets that are still open
  let connections = 0;
  let requests = 0;
  let gateway;
  // The raw backend that closes each connection just after answering on it.
  let closer;
  const closerOpen = new Set();
  let closerConnections = 0;
  let closerRequests = 0;

  before(async () => {
    closer = net.createServer((socket) => {
      closerConnections++;
      closerOpen.add(socket);
      socket.on('close', () => closerOpen.delete(socket));
      socket.on('error', () => {});
      let buffered = '';
      socket.on('data', (d) => {
        buffered += d.toString('latin1');
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number((/content-length: *(\d+)/i.exec(buffered.slice(0, end)) || [0, 0])[1]);
        if (buffered.length < end + 4 + length) return;
        buffered = '';
        closerRequests++;
        socket.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${COMPLETION.length}\r\n\r\n${COMPLETION}`);
        setTimeout(() => socket.destroy(), 20);
      });
    });
    await new Promise((resolve) => closer.listen(0, '127.0.0.1', resolve));
    server = nodeHttp.createServer((req, res) => {
      requests++;
      req.resume();
      req.on('end', () => {
        // A little latency, so that concurrent requests really need several connections.
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(COMPLETION);
        }, 20);
      });
    });
    server.keepAliveTimeout = 150;
    server.on('connection', (s) => {
      connections++;
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 1,
          timeouts: { connect: 1s, first_byte: 5s, idle: 5s, total: 10s, drain: 2s } }
backends:
  ka: { url: "http://127.0.0.1:${server.address().port}", kind: openai, auth: { bearer_env: BK } }
  closer: { url: "http://127.0.0.1:${closer.address().port}", kind: openai, auth: { bearer_env: BK } }
pools:
  gpt-4o:
    members: [ { backend: ka } ]
    circuit_breaker: { failures: 3, within: 10s, open_for: 30s, on_connect_error: true }
  closing:
    members: [ { backend: closer } ]
    circuit_breaker: { failures: 3, within: 10s, open_for: 30s, on_connect_error: true }
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
    if (closer) {
      for (const s of closerOpen) s.destroy();
      await new Promise((resolve) => closer.close(resolve));
    }
  });

  const chat = (model = 'gpt-4o') =>
    http(`${gateway.url}/v1/chat/completions`, {
      headers: { 'api-key': keys.CK },
      body: { model, messages: [{ role: 'user', content: 'hi' }] },
    });

  test('requests after the backend closed the pooled connections are answered on fresh ones', async () => {
    for (let round = 0; round < 3; round++) {
      const burst = await Promise.all(Array.from({ length: 8 }, () => chat()));
      for (const r of burst) {
        assert.equal(r.status, 200, `round ${round}: ${r.text}`);
        assert.equal(r.headers['x-spillway-attempts'], 'ka:200');
      }
      assert.ok(open.size >= 2, `the burst used several upstream connections (${open.size})`);
      // The gateway now holds those connections idle; the server closes them after 150 ms.
      await waitFor(() => open.size === 0, { timeoutMs: 5000, what: 'the backend closing its idle connections' });
      const sequential = [];
      for (let i = 0; i < 4; i++) sequential.push(await chat());
      for (const r of sequential) {
        assert.equal(r.status, 200, `round ${round}: ${r.text}`);
        assert.equal(r.headers['x-spillway-attempts'], 'ka:200');
      }
      await waitFor(() => open.size === 0, { timeoutMs: 5000, what: 'the backend closing its idle connections' });
    }
    // Every request reached the backend exactly once.
    assert.equal(requests, 3 * (8 + 4));
    assert.ok(connections >= 3 * 2, `fresh connections were opened (${connections})`);
    // No member failure was recorded: the breaker never saw a closed idle connection.
    const log = gateway.accessLog().filter((l) => l.pool === 'gpt-4o');
    assert.equal(log.length, 36);
    assert.ok(log.every((l) => l.status === 200 && l.attempts === 1));
  });

  test('a request sent on a connection the backend closed just now is retried on a fresh one', async () => {
    for (let i = 0; i < 6; i++) {
      const r = await chat('closing');
      assert.equal(r.status, 200, `request ${i}: ${r.text}`);
      assert.equal(r.headers['x-spillway-attempts'], 'closer:200');
      // The backend has closed the connection the gateway pooled; the next request goes at once, well
      // within the 500 ms in which the gateway reuses an idle connection without checking it.
      await waitFor(() => closerOpen.size === 0, { timeoutMs: 5000, what: 'the raw backend closing' });
    }
    // Each request was processed once; requests 2..6 first went to a closed connection, which processed
    // nothing, then to a fresh one.
    assert.equal(closerRequests, 6);
    assert.equal(closerConnections, 6);
    const log = gateway.accessLog().filter((l) => l.pool === 'closing');
    assert.equal(log.length, 6);
    assert.ok(log.every((l) => l.status === 200 && l.attempts === 1));
  });
});
