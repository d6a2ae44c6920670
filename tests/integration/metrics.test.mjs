// Observability (#5): token metrics with the platform's dimensions on the admin listener's /metrics,
// user ids reduced to a keyed hash (never the raw id anywhere), Prometheus exposition checked by promtool,
// the user_hash dimension refused without a key, and header enrichment (set/remove, baggage, traceparent).

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { binPath, http, makeTempDir, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const DIMENSIONS = '[api, operation, deployment, backend, subscription, user_hash, tool, "tag:team", "header:x-app"]';

function config({ mockUrl, dimensions = DIMENSIONS, extra = '' }) {
  return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 2,
          timeouts: { connect: 1s, first_byte: 5s, idle: 5s, total: 10s, drain: 5s } }
backends:
  oai: { url: ${mockUrl}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-4o: { members: [ { backend: oai, model: gpt-4o-2024 } ] }
apis:
  - { name: openai,  prefix: /openai,  shape: openai }
  - { name: foundry, prefix: /foundry, shape: azure-openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, tags: { team: search } }
  team-b: { key_env: TEAM_B_KEY, tags: { team: chat } }
identity: { user_id: [ "header:x-user-id" ], user_hash_key_env: TEST_USER_HASH_KEY }
policies:
  headers: { set: { x-platform: shared-ai }, remove: [ x-debug ], baggage: { platform: shared-ai } }
  token_metrics: { dimensions: ${dimensions}, max_series: 1000 }
${extra}`;
}

function userHash(key, id) {
  return createHmac('sha256', key).update(id).digest('hex').slice(0, 16);
}

// Parses the exposition text into { 'name{l="v",...}': number } (HELP/TYPE lines skipped).
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    out[line.slice(0, sp)] = Number(line.slice(sp + 1));
  }
  return out;
}

function series(name, labels) {
  return `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`;
}

function pick(metrics, prefix) {
  return Object.fromEntries(Object.entries(metrics).filter(([k]) => k.startsWith(prefix)));
}

// Runs promtool (Debian package `prometheus`) on `text` via stdin; resolves {code, out}.
function promtoolCheck(text) {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`promtool could not run (scripts/setup installs the prometheus package): ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
    child.stdin.end(text);
  });
}

function runBin(args, env) {
  return new Promise((resolve) => {
    execFile(binPath(), args, { env, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

describe('token metrics, user hashing and /metrics', () => {
  const keys = { OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a'), TEAM_B_KEY: secret('team-b') };
  const hashKey = secret('hash-key');
  // Distinctive raw ids, so that finding them anywhere is meaningful.
  const users = {
    alice: `alice-${randomBytes(6).toString('hex')}@example.com`,
    bob: `bob-${randomBytes(6).toString('hex')}`,
    carol: `carol-${randomBytes(6).toString('hex')}`,
  };
  let mock;
  let gw;
  let metricsText;
  let metrics;

  const chat = (key, user, { tools, prompt, completion, app, stream = false, cached } = {}) => {
    const headers = { 'api-key': key, 'x-mock-prompt-tokens': String(prompt), 'x-mock-completion-tokens': String(completion) };
    if (user) headers['x-user-id'] = user;
    if (app) headers['x-app'] = app;
    if (cached) headers['x-mock-cached-tokens'] = String(cached);
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] };
    if (tools) body.tools = tools.map((name) => ({ type: 'function', function: { name, parameters: {} } }));
    if (stream) body.stream = true;
    return http(`${gw.url}/openai/v1/chat/completions`, { headers, body });
  };

  before(async () => {
    mock = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    gw = await startGateway({ config: config({ mockUrl: mock.url }), env: { ...keys, TEST_USER_HASH_KEY: hashKey } });

    const A = keys.TEAM_A_KEY;
    const B = keys.TEAM_B_KEY;
    const sent = [
      chat(A, users.alice, { tools: ['get_weather', 'search_docs'], prompt: 10, completion: 5, app: 'web', cached: 4 }),
      chat(A, users.alice, { tools: ['get_weather', 'search_docs'], prompt: 10, completion: 5, app: 'web' }),
      chat(B, users.bob, { tools: ['search_docs'], prompt: 20, completion: 7, app: 'cli' }),
      chat(B, users.bob, { tools: ['search_docs'], prompt: 3, completion: 2, app: 'cli', stream: true }),
      chat(A, users.carol, { prompt: 1, completion: 1 }),
      chat(A, null, { prompt: 2, completion: 2, app: 'web' }),
      http(`${gw.url}/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21`, {
        headers: { 'api-key': B, 'x-user-id': users.carol, 'x-mock-prompt-tokens': '6', 'x-mock-completion-tokens': '1' },
        body: { messages: [{ role: 'user', content: 'hi' }], functions: [{ name: 'legacy_fn' }] },
      }),
      chat('not-a-key', users.alice, { prompt: 1, completion: 1 }),
    ];
    const results = await Promise.all(sent);
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200, 200, 200, 200, 200, 401],
      results.map((r) => r.text).join('\n'),
    );
    // Metrics are recorded when each request completes, just after its response: wait for all 8.
    await waitFor(
      async () => {
        const res = await http(`${gw.adminUrl}/metrics`, { method: 'GET' });
        const m = parseMetrics(res.text);
        const n = Object.entries(m)
          .filter(([k]) => k.startsWith('spillway_requests_total{'))
          .reduce((s, [, v]) => s + v, 0);
        if (n !== 8) return false;
        metricsText = res.text;
        metrics = m;
        assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
        return true;
      },
      { timeoutMs: 5000, what: 'spillway_requests_total to count 8 requests' },
    );
  });

  after(async () => {
    await Promise.allSettled([gw?.stop(), mock?.stop()]);
  });

  test('spillway_tokens_total has exactly the expected series and values', () => {
    const h = (u) => userHash(hashKey, u);
    const base = { api: 'openai', operation: 'chat.completions', deployment: 'gpt-4o-2024', backend: 'oai' };
    const expected = {};
    const add = (labels, { prompt, completion, cached = 0 }) => {
      const counts = { prompt, completion, total: prompt + completion, cached };
      for (const kind of ['prompt', 'completion', 'total', 'cached']) {
        const k = series('spillway_tokens_total', { kind, ...labels });
        expected[k] = (expected[k] || 0) + counts[kind];
      }
    };
    const alice = { ...base, subscription: 'team-a', user_hash: h(users.alice) };
    // Every declared tool gets the request's full counts.
    for (const tool of ['get_weather', 'search_docs']) {
      add({ ...alice, tool, tag_team: 'search', header_x_app: 'web' }, { prompt: 10, completion: 5, cached: 4 });
      add({ ...alice, tool, tag_team: 'search', header_x_app: 'web' }, { prompt: 10, completion: 5 });
    }
    const bob = { ...base, subscription: 'team-b', user_hash: h(users.bob), tool: 'search_docs', tag_team: 'chat', header_x_app: 'cli' };
    add(bob, { prompt: 20, completion: 7 });
    add(bob, { prompt: 3, completion: 2 }); // streamed: usage from the final chunk
    add(
      { ...base, subscription: 'team-a', user_hash: h(users.carol), tool: 'none', tag_team: 'search', header_x_app: 'none' },
      { prompt: 1, completion: 1 },
    );
    add({ ...base, subscription: 'team-a', user_hash: 'none', tool: 'none', tag_team: 'search', header_x_app: 'web' }, { prompt: 2, completion: 2 });
    add(
      { ...base, api: 'foundry', subscription: 'team-b', user_hash: h(users.carol), tool: 'legacy_fn', tag_team: 'chat', header_x_app: 'none' },
      { prompt: 6, completion: 1 },
    );
    assert.deepEqual(pick(metrics, 'spillway_tokens_total{'), expected, metricsText);
  });

  test('requests by status, latency histograms, backend state, folds', () => {
    const h = (u) => userHash(hashKey, u);
    const base = { api: 'openai', operation: 'chat.completions' };
    assert.equal(
      metrics[series('spillway_requests_total', { status: '200', ...base, deployment: 'gpt-4o-2024', backend: 'oai', subscription: 'team-a', user_hash: h(users.alice), tag_team: 'search', header_x_app: 'web' })],
      2, // once per request, not per tool
    );
    // Refused before any user id is read: no hash, no subscription.
    assert.equal(
      metrics[series('spillway_requests_total', { status: '401', ...base, deployment: 'none', backend: 'none', subscription: 'none', user_hash: 'none', tag_team: 'none', header_x_app: 'none' })],
      1,
    );
    assert.equal(metrics[series('spillway_request_duration_seconds_count', base)], 7);
    assert.equal(metrics[series('spillway_request_duration_seconds_bucket', { ...base, le: '+Inf' })], 7);
    assert.equal(metrics[series('spillway_request_duration_seconds_count', { api: 'foundry', operation: 'chat.completions' })], 1);
    assert.equal(metrics[series('spillway_gateway_overhead_seconds_count', base)], 7);
    assert.equal(metrics[series('spillway_upstream_ttft_seconds_count', { backend: 'oai' })], 7);
    assert.ok(metrics[series('spillway_request_duration_seconds_sum', base)] > 0);
    assert.equal(metrics[series('spillway_backend_state', { backend: 'oai', state: 'closed' })], 1);
    assert.equal(metrics[series('spillway_backend_state', { backend: 'oai', state: 'open' })], 0);
    assert.equal(metrics[series('spillway_metric_series_folded_total', { metric: 'spillway_tokens_total' })], 0);
  });

  test('the raw user ids appear nowhere: metrics, logs, backend requests', async () => {
    const stdout = JSON.stringify(gw.accessLog()) + gw.nonJsonStdout().join('\n');
    const recorded = JSON.stringify(await mock.requests());
    for (const [name, id] of Object.entries(users)) {
      assert.ok(!metricsText.includes(id), `${name}'s id is not in /metrics`);
      assert.ok(!stdout.includes(id), `${name}'s id is not on stdout`);
      assert.ok(!gw.stderr().includes(id), `${name}'s id is not on stderr`);
      assert.ok(!recorded.includes(id), `${name}'s id is not sent to the backend`);
    }
    assert.ok(!metricsText.includes(hashKey) && !gw.stderr().includes(hashKey), 'the hash key is never printed');
  });

  test('the exposition passes promtool check metrics', async () => {
    const r = await promtoolCheck(metricsText);
    assert.equal(r.code, 0, r.out);
  });

  test('/metrics answers GET and HEAD only; /healthz and /readyz still work', async () => {
    const post = await http(`${gw.adminUrl}/metrics`, { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    const head = await http(`${gw.adminUrl}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
    assert.equal((await http(`${gw.adminUrl}/healthz`, { method: 'GET' })).status, 200);
    assert.equal((await http(`${gw.adminUrl}/readyz`, { method: 'GET' })).status, 200);
  });
});

describe('header enrichment', () => {
  const keys = { OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a'), TEAM_B_KEY: secret('team-b') };
  let mock;
  let gw;

  before(async () => {
    mock = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    gw = await startGateway({ config: config({ mockUrl: mock.url, dimensions: '[api]' }), env: keys });
  });
  after(async () => {
    await Promise.allSettled([gw?.stop(), mock?.stop()]);
  });

  async function sendAndCapture(headers) {
    const marker = `marker-${randomBytes(8).toString('hex')}`;
    const res = await http(`${gw.url}/openai/v1/chat/completions`, {
      headers: { 'api-key': keys.TEAM_A_KEY, ...headers },
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: marker }] },
    });
    assert.equal(res.status, 200, res.text);
    const got = (await mock.requests()).filter((r) => r.body.includes(marker));
    assert.equal(got.length, 1);
    return got[0].headers;
  }

  test('sets and removes headers, appends baggage, keeps the client trace with a new parent id', async () => {
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const h = await sendAndCapture({
      traceparent: `00-${traceId}-${parentId}-01`,
      tracestate: 'vendor=abc',
      baggage: 'userTier=gold, platform=spoofed',
      'x-debug': 'true',
      'x-platform': 'client-value',
    });
    assert.equal(h['x-platform'], 'shared-ai');
    assert.equal(h['x-debug'], undefined);
    assert.equal(h.baggage, 'userTier=gold,platform=shared-ai');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(h.traceparent);
    assert.ok(m, `valid traceparent: ${h.traceparent}`);
    assert.equal(m[1], traceId, 'the trace id is kept');
    assert.notEqual(m[2], parentId, 'the gateway is a new span');
    assert.equal(h.tracestate, 'vendor=abc', 'tracestate of a continued trace is forwarded');
  });

  test('starts a new trace when the client sent none or an invalid one', async () => {
    const a = await sendAndCapture({ tracestate: 'vendor=abc' });
    const b = await sendAndCapture({ traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' });
    for (const h of [a, b]) {
      assert.match(h.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.doesNotMatch(h.traceparent, /^00-0{32}-/);
      assert.equal(h.baggage, 'platform=shared-ai');
    }
    assert.equal(a.tracestate, undefined, 'tracestate is dropped with a new trace');
    assert.notEqual(a.traceparent.slice(3, 35), b.traceparent.slice(3, 35), 'new traces have new ids');
  });
});

describe('limit rejections', () => {
  test('a request refused by a limit counts in spillway_limit_rejections_total and requests_total', async () => {
    const keys = { OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a'), TEAM_B_KEY: secret('team-b') };
    const mock = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    let gw;
    try {
      const cfg = config({ mockUrl: mock.url, dimensions: '[subscription]' })
        .replace('team-a: { key_env: TEAM_A_KEY,', 'team-a: { key_env: TEAM_A_KEY, product: one,')
        .concat('products:\n  one: { request_limit: { counter: subscription, requests_per_minute: 1 } }\n');
      gw = await startGateway({ config: cfg, env: keys });
      const send = () =>
        http(`${gw.url}/openai/v1/chat/completions`, {
          headers: { 'api-key': keys.TEAM_A_KEY },
          body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] },
        });
      assert.equal((await send()).status, 200);
      assert.equal((await send()).status, 429);
      const m = await waitFor(
        async () => {
          const got = parseMetrics((await http(`${gw.adminUrl}/metrics`, { method: 'GET' })).text);
          return got[series('spillway_requests_total', { status: '429', subscription: 'team-a' })] === 1 && got;
        },
        { timeoutMs: 5000, what: 'the 429 in spillway_requests_total' },
      );
      assert.equal(m[series('spillway_limit_rejections_total', { limit: 'request_limit' })], 1);
      assert.equal(m[series('spillway_requests_total', { status: '200', subscription: 'team-a' })], 1);
    } finally {
      await Promise.allSettled([gw?.stop(), mock.stop()]);
    }
  });
});

describe('a user_hash dimension needs the hash key', () => {
  test('check and serve exit 1 with a clear message when the key variable is unset', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'gw.yaml');
    await fs.writeFile(file, config({ mockUrl: 'http://127.0.0.1:9' }));
    const env = { ...process.env, OAI_KEY: secret('oai'), TEAM_A_KEY: secret('a'), TEAM_B_KEY: secret('b') };
    delete env.TEST_USER_HASH_KEY;
    try {
      for (const args of [['check', '--config', file], ['serve', '--config', file]]) {
        const r = await runBin(args, env);
        assert.equal(r.code, 1, `${args[0]}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, /policies\.token_metrics\.dimensions/);
        assert.match(r.stderr, /user_hash dimension needs a user-id hash key.*TEST_USER_HASH_KEY is not set/);
      }
      const ok = await runBin(['check', '--config', file], { ...env, TEST_USER_HASH_KEY: secret('k') });
      assert.equal(ok.code, 0, ok.stderr);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
