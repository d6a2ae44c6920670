// The access log when stdout is a regular file (a shell's `>>`, a service's log file) rather than the pipe
// the other tests read: every answered request has exactly one line, one worker's lines keep the order its
// requests were answered in, and the lines are in the file while the gateway runs, not only once it stops.
// Into a file the workers also write their lines themselves once a request has gone to its backend
// (util/log.h, write_access_log_if_due), between the access-log thread's batches.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { findSecrets, http, makeTempDir, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { gatewayConfig, secret } from './lib/stack.mjs';

describe('access log into a file', () => {
  const keys = { AZ_KEY: secret('az'), OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a') };
  let mock;
  let gateway;
  let dir;
  let file;

  before(async () => {
    mock = await startMock({ name: 'mock-access-log', apiKey: keys.OAI_KEY });
    dir = await makeTempDir('spillway-access-log-');
    file = path.join(dir, 'access.log');
    gateway = await startGateway({
      // One worker: its lines keep the order the requests were answered in (each worker has a buffer of
      // its own, so across workers the order is the order of their writes).
      config: gatewayConfig({ azUrl: mock.url, oaiUrl: mock.url }).replace('server: { ', 'server: { workers: 1, '),
      env: keys,
      stdoutFile: file,
    });
  });
  after(async () => {
    await Promise.allSettled([gateway?.stop(), mock?.stop()]);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('one line per request, in order, written while the gateway runs', async () => {
    const ids = [];
    for (let i = 0; i < 120; i++) {
      const res = await http(`${gateway.url}/openai/v1/chat/completions`, {
        headers: { 'api-key': keys.TEAM_A_KEY },
        body: { model: 'gpt-mini', messages: [{ role: 'user', content: `line ${i}` }], max_tokens: 4 },
      });
      assert.equal(res.status, 200, res.text);
      ids.push(res.headers['x-request-id']);
    }
    // Within the 10 ms batches' reach at most; nothing waits for the gateway to stop.
    const lines = await waitFor(
      () => {
        const mine = gateway.accessLog().filter((l) => ids.includes(l.request_id));
        return mine.length >= ids.length ? mine : null;
      },
      { timeoutMs: 5000, what: 'an access-log line for every request' },
    );
    assert.deepEqual(
      lines.map((l) => l.request_id),
      ids,
    );
    assert.ok(lines.every((l) => l.status === 200 && l.pool === 'gpt-mini'));
    assert.deepEqual(gateway.nonJsonStdout(), []);
    // No key reaches the file (the client's, or the backend's the gateway sent).
    assert.deepEqual(findSecrets(await fs.readFile(file, 'utf8'), Object.values(keys)), []);
  });
});
