// Client connections are spread evenly over the workers: a worker that accepts a connection while another
// has fewer open hands it over (the kernel's SO_REUSEPORT hash alone leaves them uneven), and each worker's
// count is exported as spillway_open_connections{worker}.
// Without the balancing, 24 connections hashed over 4 workers come out 6/6/6/6 about 3% of the time.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { ResponseParser, closedPort, rawConnect, rawExchange, startGateway, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const WORKERS = 4;
const CONNECTIONS = 24;

// spillway_open_connections per worker, read on a fresh admin connection (closed after; it counts itself
// on worker 0, which serves the admin listener).
async function openConnections(gw) {
  const res = await rawExchange(
    gw.adminPort,
    Buffer.from('GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n'),
  );
  assert.equal(res.status, 200);
  const counts = new Array(WORKERS).fill(null);
  for (const m of res.body.toString().matchAll(/^spillway_open_connections\{worker="(\d+)"\} (\d+)$/gm)) {
    counts[Number(m[1])] = Number(m[2]);
  }
  assert.ok(counts.every((n) => n !== null), `a sample per worker: ${counts}`);
  return counts;
}

describe('client connections over the workers', () => {
  let gw;
  const conns = [];

  before(async () => {
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: ${WORKERS} }
backends:
  down: { url: "http://127.0.0.1:${await closedPort()}", kind: openai, auth: { bearer_env: BK } }
pools:
  gpt-4o: { members: [ { backend: down } ] }
subscriptions:
  team: { key_env: CK }
`;
    gw = await startGateway({ config, env: { BK: secret('backend'), CK: secret('client') } });
  });

  after(async () => {
    for (const c of conns) c.destroy();
    if (gw) await gw.stop();
  });

  // One request on `c`, answered by the gateway itself (no client key), keeping the connection open.
  async function ask(c) {
    c.parser = new ResponseParser();
    await c.write('GET /v1/models HTTP/1.1\r\nHost: gw\r\n\r\n');
    await c.waitDone();
    assert.equal(c.closed, false, 'the connection stays open');
    return c.parser.status;
  }

  test(`${CONNECTIONS} keep-alive connections opened one after another end up ${CONNECTIONS / WORKERS} per worker, and every one is served`, async () => {
    for (let i = 0; i < CONNECTIONS; i++) {
      const c = await rawConnect(gw.port);
      conns.push(c);
      // Answered: its worker has counted it before the next one is accepted.
      assert.ok((await ask(c)) >= 400, 'an answer from the gateway');
    }
    const counts = await openConnections(gw);
    const gateway = counts.map((n, i) => (i === 0 ? n - 1 : n)); // minus the admin scrape's own connection
    assert.deepEqual(gateway, new Array(WORKERS).fill(CONNECTIONS / WORKERS), `per worker: ${counts}`);

    // Handed-over connections keep serving: a second request on each.
    for (const c of conns) assert.ok((await ask(c)) >= 400);
  });

  test('closed connections are uncounted', async () => {
    for (const c of conns.splice(0, conns.length)) c.destroy();
    const counts = await waitFor(
      async () => {
        const now = await openConnections(gw);
        return now.reduce((a, b) => a + b, 0) === 1 ? now : null; // only the scrape's own connection
      },
      { timeoutMs: 5000, what: 'the counts to drop to the scrape connection' },
    );
    assert.deepEqual(counts, [1, ...new Array(WORKERS - 1).fill(0)]);
  });
});
