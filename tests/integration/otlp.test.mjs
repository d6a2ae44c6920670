// OTLP/HTTP export: a fake collector on 127.0.0.1 receives the usage records as OTLP JSON logs and the
// token sums as OTLP JSON metrics; 503s are retried; SIGTERM exports what is still queued.

import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import nodeHttp from 'node:http';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { http, makeTempDir, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

// A collector that records every request and answers from `script` (statuses, then 200).
async function startCollector(script = []) {
  const received = [];
  const server = nodeHttp.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = script.length > 0 ? script.shift() : 200;
      received.push({ method: req.method, url: req.url, headers: req.headers, body, status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{}' : '{"error":"busy"}');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    received,
    logs: () => received.filter((r) => r.url === '/v1/logs' && r.status === 200).map((r) => JSON.parse(r.body)),
    metrics: () =>
      received.filter((r) => r.url === '/v1/metrics' && r.status === 200).map((r) => JSON.parse(r.body)),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(resolve);
      }),
  };
}

function attrs(list) {
  const out = {};
  for (const { key, value } of list || []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : undefined) ??
      value.boolValue ??
      value.doubleValue ??
      (value.arrayValue ? value.arrayValue.values.map((v) => v.stringValue) : undefined);
  }
  return out;
}

// Every log record of every received export, with its attributes flattened.
function logRecords(collector) {
  const out = [];
  for (const doc of collector.logs()) {
    for (const rl of doc.resourceLogs) {
      const resource = attrs(rl.resource.attributes);
      for (const sl of rl.scopeLogs) {
        for (const lr of sl.logRecords) out.push({ ...lr, resource, scope: sl.scope, a: attrs(lr.attributes) });
      }
    }
  }
  return out;
}

describe('OTLP export', () => {
  const keys = { OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a'), OTLP_TOKEN: secret('otlp') };
  let mock;
  let dir;

  before(async () => {
    dir = await makeTempDir('spillway-otlp-');
    mock = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
  });
  after(async () => {
    await mock?.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  function config(collector, { interval = '100ms', usageLog = false } = {}) {
    return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, timeouts: { drain: 5s } }
telemetry:
  otlp: ${collector.url}
  otlp_interval: ${interval}
  otlp_timeout: 2s
  otlp_headers_env: { authorization: OTLP_TOKEN }
${usageLog ? `usage_log: { sqlite: ${path.join(dir, `u-${Date.now()}.db`)} }\n` : ''}backends:
  oai: { url: ${mock.url}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-mini: { members: [ { backend: oai, model: gpt-4o-mini-2024 } ] }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, tags: { team: search } }
`;
  }

  async function chat(gw, pt, ct, stream = false) {
    const res = await http(`${gw.url}/v1/chat/completions`, {
      headers: { 'api-key': keys.TEAM_A_KEY, 'x-mock-prompt-tokens': String(pt), 'x-mock-completion-tokens': String(ct) },
      body: { model: 'gpt-mini', stream, messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(res.status, 200, res.text);
    return res.headers['x-request-id'];
  }

  test('usage records arrive as OTLP JSON logs, token sums as OTLP JSON metrics', async () => {
    const collector = await startCollector();
    const gw = await startGateway({ config: config(collector, { usageLog: true }), env: keys });
    try {
      const a = await chat(gw, 11, 7);
      const b = await chat(gw, 5, 3, true);
      const records = await waitFor(
        () => {
          const r = logRecords(collector);
          return r.length >= 2 ? r : null;
        },
        { timeoutMs: 5000, what: 'two OTLP log records' },
      );
      const byId = Object.fromEntries(records.map((r) => [r.a.request_id, r]));
      assert.ok(byId[a] && byId[b], JSON.stringify(Object.keys(byId)));
      const ra = byId[a];
      assert.equal(ra.resource['service.name'], 'spillway');
      assert.equal(ra.scope.name, 'spillway.usage');
      assert.match(ra.timeUnixNano, /^\d{19}$/);
      assert.equal(ra.severityText, 'INFO');
      assert.equal(ra.a['event.name'], 'spillway.usage');
      assert.equal(ra.a.subscription, 'team-a');
      assert.equal(ra.a['tag.team'], 'search');
      assert.equal(ra.a.operation, 'chat.completions');
      assert.equal(ra.a.backend, 'oai');
      assert.equal(ra.a.status, 200);
      assert.equal(ra.a.prompt_tokens, 11);
      assert.equal(ra.a.completion_tokens, 7);
      assert.equal(ra.a.total_tokens, 18);
      assert.equal(ra.a.stream, false);
      assert.equal(byId[b].a.stream, true);
      assert.equal(byId[b].a.total_tokens, 8);

      const first = collector.received.find((r) => r.url === '/v1/logs');
      assert.equal(first.method, 'POST');
      assert.equal(first.headers['content-type'], 'application/json');
      assert.equal(first.headers.authorization, keys.OTLP_TOKEN, 'otlp_headers_env is sent');

      const metrics = await waitFor(
        () => {
          for (const doc of collector.metrics().reverse()) {
            const ms = doc.resourceMetrics[0].scopeMetrics[0].metrics;
            const tokens = ms.find((m) => m.name === 'spillway.tokens');
            const total = tokens?.sum.dataPoints.find((p) => attrs(p.attributes).kind === 'total');
            if (total && Number(total.asInt) === 26) return ms;
          }
          return null;
        },
        { timeoutMs: 5000, what: 'a metrics export with 26 total tokens' },
      );
      const tokens = metrics.find((m) => m.name === 'spillway.tokens');
      assert.equal(tokens.sum.aggregationTemporality, 2);
      assert.equal(tokens.sum.isMonotonic, true);
      const requests = metrics.find((m) => m.name === 'spillway.requests');
      const ok = requests.sum.dataPoints.find((p) => attrs(p.attributes).status === '200');
      assert.equal(Number(ok.asInt), 2);
    } finally {
      const exit = await gw.stop();
      await collector.close();
      assert.equal(exit.code, 0);
      assert.ok(!gw.stderr().includes(keys.OTLP_TOKEN), 'the collector token is never logged');
    }
  });

  test('a collector that answers 503 twice, then 200, still gets the batch', async () => {
    const collector = await startCollector([503, 503]);
    const gw = await startGateway({ config: config(collector), env: keys });
    try {
      const id = await chat(gw, 4, 2);
      await waitFor(() => logRecords(collector).some((r) => r.a.request_id === id), {
        timeoutMs: 8000,
        what: 'the batch after two 503s',
      });
      const attempts = collector.received.filter((r) => r.url === '/v1/logs' && r.body.includes(id));
      assert.deepEqual(
        attempts.map((r) => r.status),
        [503, 503, 200],
      );
      assert.equal(attempts[0].body, attempts[2].body, 'the same batch is posted again');
    } finally {
      await gw.stop();
      await collector.close();
    }
  });

  test('SIGTERM exports what is still queued', async () => {
    const collector = await startCollector();
    // A long interval: nothing would be sent before shutdown.
    const gw = await startGateway({ config: config(collector, { interval: '60s' }), env: keys });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await chat(gw, 1 + i, 1));
    assert.equal(collector.received.length, 0);
    const exit = await gw.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null, killed: false });
    const got = logRecords(collector).map((r) => r.a.request_id);
    assert.deepEqual(got.sort(), ids.sort());
    assert.ok(collector.metrics().length >= 1, 'a last metrics export at shutdown');
    await collector.close();
  });

  test('a collector that is down does not hold up requests or shutdown', async () => {
    const collector = await startCollector();
    await collector.close(); // nothing listens on its port now
    const gw = await startGateway({ config: config(collector), env: keys });
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await chat(gw, 1, 1);
    assert.ok(Date.now() - t0 < 3000);
    const exit = await gw.stop('SIGTERM');
    assert.deepEqual(exit, { code: 0, signal: null, killed: false });
    assert.match(gw.stderr(), /otlp: /);
  });
});
