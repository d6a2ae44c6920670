// The usage log (SQLite): one row per LLM call with the backend's usage, written off the request path,
// flushed on SIGTERM (also with requests in flight); `spillway usage top|series` over it; no raw user
// id, no key and (log_prompts off) no prompt text in the file.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  binPath,
  http,
  makeTempDir,
  mockText,
  rawStream,
  startGateway,
  startMock,
  waitFor,
} from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

// Runs a command with a bound; resolves {code, stdout, stderr}.
function run(file, args, timeoutMs = 10000) {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

// Rows of a query through the sqlite3 CLI (a separate reader, as an operator would use).
async function sql(db, query) {
  const r = await run('sqlite3', ['-json', db, query]);
  assert.equal(r.code, 0, `sqlite3 failed: ${r.stderr}`);
  return r.stdout.trim() ? JSON.parse(r.stdout) : [];
}

async function usageCli(args) {
  const r = await run(binPath(), ['usage', ...args]);
  return r;
}

// Every byte of the database (main file plus WAL, if any) as latin1 text, for leak checks.
async function dbBytes(db) {
  let text = '';
  for (const f of [db, `${db}-wal`]) {
    try {
      text += (await fs.readFile(f)).toString('latin1');
    } catch {
      // no WAL after a clean close
    }
  }
  return text;
}

function config({ mockAz, mockOai, mockSlow, db, logPrompts = false, drain = '5s', flushInterval = '50ms',
  idleWriter = true }) {
  return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0,
          timeouts: { connect: 1s, first_byte: 3s, idle: 3s, total: 10s, drain: ${drain} } }
usage_log: { sqlite: ${db}, log_prompts: ${logPrompts}, flush_interval: ${flushInterval}, retention: 30d,
             idle_writer: ${idleWriter} }
identity: { user_id: [ "header:x-user-id" ], user_hash_key_env: USER_HASH_KEY }
backends:
  az:   { url: ${mockAz.url}, kind: azure-openai, auth: { api_key_env: AZ_KEY } }
  oai:  { url: ${mockOai.url}, kind: openai, auth: { bearer_env: OAI_KEY } }
  slow: { url: ${mockSlow.url}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-4o:    { members: [ { backend: az, deployment: gpt-4o-dep } ] }
  gpt-mini:  { members: [ { backend: oai, model: gpt-4o-mini-2024 } ] }
  slow-pool: { members: [ { backend: slow, model: slow-model } ] }
  embed:     { members: [ { backend: oai, model: text-embedding-3-small } ] }
apis:
  - { name: foundry, prefix: /foundry, shape: azure-openai }
  - { name: openai,  prefix: /openai,  shape: openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, tags: { team: search } }
  team-b: { key_env: TEAM_B_KEY, tags: { team: ads } }
`;
}

describe('usage log in SQLite', () => {
  const keys = {
    AZ_KEY: secret('az'),
    OAI_KEY: secret('oai'),
    TEAM_A_KEY: secret('team-a'),
    TEAM_B_KEY: secret('team-b'),
    USER_HASH_KEY: secret('hash-key'),
  };
  const mocks = [];
  let mockAz;
  let mockOai;
  let mockSlow;
  let dir;

  before(async () => {
    dir = await makeTempDir('spillway-usage-db-');
    mockAz = await startMock({ name: 'mock-az', apiKey: keys.AZ_KEY });
    mocks.push(mockAz);
    mockOai = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    mocks.push(mockOai);
    mockSlow = await startMock({ name: 'mock-slow', apiKey: keys.OAI_KEY, tokensPerSecond: 50 });
    mocks.push(mockSlow);
  });
  after(async () => {
    await Promise.allSettled(mocks.map((m) => m.stop()));
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function gateway(name, opts = {}) {
    const db = path.join(dir, `${name}.db`);
    const gw = await startGateway({ config: config({ mockAz, mockOai, mockSlow, db, ...opts }), env: keys });
    return { gw, db };
  }

  const RAW_USER_A = `alice-${secret('uid')}@example.com`;
  const RAW_USER_B = `bob-${secret('uid')}@example.com`;
  const PROMPT_MARKER = `prompt-marker-${secret('p')}`;

  describe('one gateway, a mix of calls, then SIGTERM', () => {
    let gw;
    let db;
    const expected = new Map(); // request id -> {subscription, prompt, completion, deployment, stream}
    let exit;
    let metricsText; // /metrics once every record was written

    before(async () => {
      ({ gw, db } = await gateway('mix'));
      const chat = (user, extra = {}) => ({
        model: 'gpt-mini',
        messages: [{ role: 'user', content: `hello ${PROMPT_MARKER}` }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        ...extra,
      });
      const calls = [
        // [url path, key, user, prompt tokens, completion tokens, body, deployment, stream]
        ['/openai/v1/chat/completions', 'TEAM_A_KEY', RAW_USER_A, 11, 7, chat(), 'gpt-4o-mini-2024', false],
        ['/openai/v1/chat/completions', 'TEAM_A_KEY', RAW_USER_A, 13, 5, chat(), 'gpt-4o-mini-2024', false],
        [
          '/openai/v1/chat/completions',
          'TEAM_B_KEY',
          RAW_USER_B,
          17,
          3,
          chat(RAW_USER_B, { stream: true }),
          'gpt-4o-mini-2024',
          true,
        ],
        [
          '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
          'TEAM_B_KEY',
          RAW_USER_B,
          21,
          9,
          { stream: true, messages: [{ role: 'user', content: `hi ${PROMPT_MARKER}` }] },
          'gpt-4o-dep',
          true,
        ],
        [
          '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
          'TEAM_A_KEY',
          RAW_USER_A,
          30,
          2,
          { messages: [{ role: 'user', content: `hi ${PROMPT_MARKER}` }] },
          'gpt-4o-dep',
          false,
        ],
        [
          '/openai/v1/embeddings',
          'TEAM_B_KEY',
          RAW_USER_B,
          8,
          0,
          { model: 'embed', input: `embed ${PROMPT_MARKER}` },
          'text-embedding-3-small',
          false,
        ],
      ];
      for (const [p, key, user, pt, ct, body, deployment, stream] of calls) {
        const res = await http(`${gw.url}${p}`, {
          headers: {
            'api-key': keys[key],
            'x-user-id': user,
            'x-mock-prompt-tokens': String(pt),
            'x-mock-completion-tokens': String(ct),
          },
          body,
        });
        assert.equal(res.status, 200, res.text);
        const sub = key === 'TEAM_A_KEY' ? 'team-a' : 'team-b';
        expected.set(res.headers['x-request-id'], { sub, pt, ct, deployment, stream, user });
      }
      // A client that leaves mid-stream: the gateway keeps reading for the usage, one row all the same.
      const conn = await rawStream(gw.port, {
        path: '/openai/v1/chat/completions',
        headers: {
          'api-key': keys.TEAM_A_KEY,
          'x-user-id': RAW_USER_A,
          'x-mock-prompt-tokens': '12',
          'x-mock-completion-tokens': '40',
        },
        body: { model: 'slow-pool', stream: true, messages: [{ role: 'user', content: 'hi' }] },
      });
      let id;
      try {
        await conn.waitFor((c) => c.sseData().length >= 2, 5000, '2 SSE chunks');
        id = conn.parser.headers['x-request-id'];
      } finally {
        conn.destroy();
      }
      assert.ok(id);
      expected.set(id, { sub: 'team-a', pt: 12, ct: 40, deployment: 'slow-model', stream: true, disconnect: true });
      await gw.waitForLog((l) => l.request_id === id, 5000);
      // Rejected before the usage-log policy (bad key): not an LLM call, no row.
      const rejected = await http(`${gw.url}/openai/v1/chat/completions`, {
        headers: { 'api-key': 'wrong' },
        body: chat(),
      });
      assert.equal(rejected.status, 401);
      // The writer's counts on /metrics: every call written (flush_interval is 50 ms), none waiting.
      metricsText = await waitFor(
        async () => {
          const text = (await http(`${gw.adminUrl}/metrics`, { method: 'GET' })).text;
          return text.includes(`spillway_usage_log_records_total{outcome="written"} ${expected.size}\n`) && text;
        },
        { timeoutMs: 5000, what: 'the usage writer counts every record as written' },
      );
      exit = await gw.stop('SIGTERM');
    });

    test('/metrics counts the usage records written, dropped and failed, and those waiting', () => {
      const lines = metricsText.split('\n');
      assert.ok(lines.includes('# TYPE spillway_usage_log_records_total counter'));
      assert.ok(lines.includes('# TYPE spillway_usage_log_waiting gauge'));
      assert.ok(lines.includes(`spillway_usage_log_records_total{outcome="written"} ${expected.size}`));
      assert.ok(lines.includes('spillway_usage_log_records_total{outcome="dropped"} 0'));
      assert.ok(lines.includes('spillway_usage_log_records_total{outcome="failed"} 0'));
      assert.ok(lines.includes('spillway_usage_log_waiting 0'));
    });

    test('SIGTERM exits 0 and the file has exactly one row per call with the backend usage', async () => {
      assert.deepEqual(exit, { code: 0, signal: null, killed: false });
      const rows = await sql(db, 'SELECT * FROM usage ORDER BY id');
      assert.equal(rows.length, expected.size, JSON.stringify(rows.map((r) => r.request_id)));
      for (const row of rows) {
        const e = expected.get(row.request_id);
        assert.ok(e, `unexpected row ${row.request_id}`);
        assert.equal(row.subscription, e.sub);
        assert.equal(row.prompt_tokens, e.pt);
        assert.equal(row.completion_tokens, e.ct);
        assert.equal(row.total_tokens, e.pt + e.ct);
        assert.equal(row.deployment, e.deployment);
        assert.equal(row.stream, e.stream ? 1 : 0);
        assert.equal(row.status, 200);
        assert.equal(row.usage_source, 'backend');
        assert.equal(row.tokens_estimated, 0);
        assert.equal(row.client_disconnected, e.disconnect ? 1 : 0);
        assert.equal(row.prompt, null);
        assert.equal(row.completion, null);
        assert.ok(row.duration_ms >= 0);
        assert.ok(row.ttft_ms >= 0 && row.ttft_ms <= row.duration_ms);
        assert.equal(JSON.parse(row.tags).team, e.sub === 'team-a' ? 'search' : 'ads');
        assert.ok(Math.abs(row.ts - Date.now()) < 120000, 'ts is the request time in Unix ms');
      }
      const ids = new Set(rows.map((r) => r.request_id));
      assert.equal(ids.size, rows.length, 'no duplicates');
    });

    test('user hashes are keyed hashes, never the raw id (when identity is configured)', async () => {
      const rows = await sql(db, 'SELECT request_id, user_hash FROM usage');
      const hashed = rows.filter((r) => r.user_hash);
      // NOTE: user_hash is filled by the identity policy (#5, another change). Until it is wired, every
      // user_hash is empty and only the absence of the raw ids is checked (below).
      console.log(`# rows with a user_hash: ${hashed.length} of ${rows.length}`);
      if (hashed.length > 0) {
        const byUser = new Map();
        for (const r of hashed) {
          const user = expected.get(r.request_id).user ?? RAW_USER_A;
          assert.ok(!r.user_hash.includes('alice') && !r.user_hash.includes('bob'));
          if (!byUser.has(user)) byUser.set(user, new Set());
          byUser.get(user).add(r.user_hash);
        }
        for (const set of byUser.values()) assert.equal(set.size, 1, 'one hash per user');
        assert.notDeepEqual([...byUser.get(RAW_USER_A)], [...byUser.get(RAW_USER_B)]);
        const top = await usageCli(['top', '--by', 'user_hash', '--json', '--db', db]);
        assert.equal(top.code, 0, top.stderr);
        assert.equal(JSON.parse(top.stdout).rows.length, 2);
      }
    });

    test('the file holds no raw user id, no key and (log_prompts off) no prompt text', async () => {
      const bytes = await dbBytes(db);
      assert.ok(bytes.length > 0);
      for (const s of [RAW_USER_A, RAW_USER_B, ...Object.values(keys), PROMPT_MARKER, 'alice-', 'bob-']) {
        assert.ok(!bytes.includes(s), `found ${s.slice(0, 12)}... in the usage log`);
      }
    });

    test('`spillway usage top --by subscription --json` totals equal the usage the backend reported', async () => {
      const r = await usageCli(['top', '--by', 'subscription', '--json', '--db', db]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.query, 'top');
      assert.equal(out.by, 'subscription');
      assert.equal(out.metric, 'total_tokens');
      const want = new Map();
      for (const e of expected.values()) {
        const w = want.get(e.sub) || { requests: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
        w.requests += 1;
        w.prompt_tokens += e.pt;
        w.completion_tokens += e.ct;
        w.total_tokens += e.pt + e.ct;
        want.set(e.sub, w);
      }
      assert.equal(out.rows.length, want.size);
      for (const row of out.rows) {
        const w = want.get(row.key);
        assert.ok(w, `unexpected key ${row.key}`);
        assert.equal(row.requests, w.requests);
        assert.equal(row.prompt_tokens, w.prompt_tokens);
        assert.equal(row.completion_tokens, w.completion_tokens);
        assert.equal(row.total_tokens, w.total_tokens);
        assert.equal(row.value, w.total_tokens);
      }
      // Ordered by the metric, biggest first.
      assert.ok(out.rows[0].total_tokens >= out.rows[out.rows.length - 1].total_tokens);
      // The same through --config (usage_log.sqlite of the gateway config) and as a table.
      const cfg = path.join(dir, 'mix.yaml');
      await fs.writeFile(cfg, `usage_log: { sqlite: ${db} }\n`);
      const table = await usageCli(['top', '--by', 'subscription', '--config', cfg]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^top 20 subscription by total_tokens since /);
      assert.match(table.stdout, /SUBSCRIPTION\s+REQUESTS\s+PROMPT_TOKENS/);
      for (const [sub, w] of want) {
        assert.match(table.stdout, new RegExp(`${sub}\\s+${w.requests}\\s+${w.prompt_tokens}\\s+${w.completion_tokens}\\s+${w.total_tokens}`));
      }
    });

    test('top by tag, by tool and by deployment with another metric', async () => {
      const byTag = JSON.parse((await usageCli(['top', '--by', 'tag:team', '--json', '--db', db])).stdout);
      assert.deepEqual(byTag.rows.map((r) => r.key).sort(), ['ads', 'search']);
      const byDep = await usageCli(['top', '--by', 'deployment', '--metric', 'requests', '--limit', '1', '--json', '--db', db]);
      assert.equal(byDep.code, 0, byDep.stderr);
      const dep = JSON.parse(byDep.stdout);
      assert.equal(dep.rows.length, 1);
      assert.equal(dep.rows[0].key, 'gpt-4o-mini-2024'); // three chat calls
      assert.equal(dep.rows[0].value, 3);
      const tools = await usageCli(['top', '--by', 'tool', '--metric', 'requests', '--json', '--db', db]);
      assert.equal(tools.code, 0, tools.stderr);
      const t = JSON.parse(tools.stdout);
      // NOTE: tool names are filled from the request by another change (#5); until it lands the
      // tools column is [] and the query answers no rows.
      console.log(`# tool rows: ${JSON.stringify(t.rows.map((r) => [r.key, r.requests]))}`);
      if (t.rows.length > 0) {
        assert.equal(t.rows[0].key, 'get_weather');
        assert.equal(t.rows[0].requests, 3);
      }
    });

    test('`spillway usage series --by deployment --every 1h` adds up to the same totals', async () => {
      const r = await usageCli(['series', '--by', 'deployment', '--every', '1h', '--json', '--db', db]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout);
      assert.equal(out.query, 'series');
      assert.equal(out.every_ms, 3600000);
      let total = 0;
      for (const row of out.rows) {
        assert.equal(row.bucket_ms % 3600000, 0);
        assert.match(row.bucket, /^\d{4}-\d\d-\d\dT\d\d:00:00Z$/);
        total += row.total_tokens;
      }
      let want = 0;
      for (const e of expected.values()) want += e.pt + e.ct;
      assert.equal(total, want);
      const table = await usageCli(['series', '--by', 'deployment', '--every', '1h', '--db', db]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /TIME \(UTC\)\s+DEPLOYMENT\s+TOTAL_TOKENS\s+REQUESTS/);
    });

    test('bad arguments exit 2, a missing file exits 1', async () => {
      assert.equal((await usageCli(['top', '--db', db])).code, 2); // no --by
      assert.equal((await usageCli(['top', '--by', 'nope', '--db', db])).code, 2);
      assert.equal((await usageCli(['top', '--by', 'api', '--since', 'yesterday', '--db', db])).code, 2);
      assert.equal((await usageCli(['median', '--by', 'api'])).code, 2);
      const missing = await usageCli(['top', '--by', 'api', '--db', path.join(dir, 'missing.db')]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /cannot open usage log/);
    });
  });

  for (const idleWriter of [true, false]) {
    test(`SIGTERM with requests in flight loses no record (idle_writer: ${idleWriter})`, async () => {
      const { gw, db } = await gateway(`inflight-${idleWriter}`, { idleWriter });
      const marker = `inflight-${secret('m')}`;
      const N = 8;
      const pending = [];
      for (let i = 0; i < N; i++) {
        const stream = i % 2 === 1;
        pending.push(
          http(`${gw.url}/openai/v1/chat/completions`, {
            headers: {
              'api-key': keys.TEAM_A_KEY,
              'x-mock-latency': '700ms',
              'x-mock-prompt-tokens': String(100 + i),
              'x-mock-completion-tokens': '5',
            },
            body: { model: 'gpt-mini', stream, messages: [{ role: 'user', content: `${marker} ${i}` }] },
          }),
        );
      }
      await waitFor(
        async () => (await mockOai.requests()).filter((r) => r.body.includes(marker)).length === N,
        { timeoutMs: 5000, what: 'every request at the backend' },
      );
      const stopping = gw.stop('SIGTERM');
      const responses = await Promise.all(pending);
      for (const res of responses) assert.equal(res.status, 200, res.text);
      const exit = await stopping;
      assert.deepEqual(exit, { code: 0, signal: null, killed: false });
      const rows = await sql(db, 'SELECT request_id, prompt_tokens, completion_tokens FROM usage');
      assert.equal(rows.length, N);
      const ids = new Set(responses.map((r) => r.headers['x-request-id']));
      for (const row of rows) assert.ok(ids.has(row.request_id));
      assert.deepEqual(
        rows.map((r) => r.prompt_tokens).sort((a, b) => a - b),
        Array.from({ length: N }, (_, i) => 100 + i),
      );
    });
  }

  test('log_prompts: prompts and streamed completions are stored, capped, without keys', async () => {
    const { gw, db } = await gateway('prompts', { logPrompts: true });
    const res = await http(`${gw.url}/openai/v1/chat/completions`, {
      headers: { 'api-key': keys.TEAM_A_KEY, 'x-user-id': RAW_USER_A, 'x-mock-completion-tokens': '4' },
      body: {
        model: 'gpt-mini',
        stream: true,
        messages: [{ role: 'user', content: `${PROMPT_MARKER} and a pasted key ${keys.OAI_KEY}` }],
      },
    });
    assert.equal(res.status, 200);
    const big = await http(`${gw.url}/openai/v1/chat/completions`, {
      headers: { 'api-key': keys.TEAM_A_KEY },
      body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'x'.repeat(10000) }] },
    });
    assert.equal(big.status, 200);
    assert.deepEqual(await gw.stop('SIGTERM'), { code: 0, signal: null, killed: false });
    const rows = await sql(db, 'SELECT request_id, prompt, completion FROM usage ORDER BY id');
    assert.equal(rows.length, 2);
    assert.ok(rows[0].prompt.includes(PROMPT_MARKER), rows[0].prompt);
    assert.ok(rows[0].prompt.includes('[redacted]'), 'a configured secret in a prompt is redacted');
    assert.equal(rows[0].completion, mockText(4));
    assert.ok(rows[1].prompt.length <= 4096);
    const bytes = await dbBytes(db);
    for (const s of [...Object.values(keys), RAW_USER_A]) assert.ok(!bytes.includes(s), 'no secret or raw id');
  });

  test('kill -9 under traffic loses only the records of about the last flush_interval', async () => {
    // The default flush_interval (200 ms). Requests run back to back; the gateway is killed right after
    // the last response. Committed rows survive; the lost ones must all have completed shortly before.
    const { gw, db } = await gateway('crash', { flushInterval: '200ms' });
    const done = new Map(); // request id -> completion time
    const t0 = Date.now();
    while (Date.now() - t0 < 1500) {
      const res = await http(`${gw.url}/openai/v1/chat/completions`, {
        headers: { 'api-key': keys.TEAM_B_KEY, 'x-mock-prompt-tokens': '3', 'x-mock-completion-tokens': '2' },
        body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(res.status, 200);
      done.set(res.headers['x-request-id'], Date.now());
    }
    const killedAt = Date.now();
    const exit = await gw.stop('SIGKILL');
    assert.equal(exit.signal, 'SIGKILL');
    const rows = await sql(db, 'SELECT request_id FROM usage');
    const committed = new Set(rows.map((r) => r.request_id));
    for (const id of committed) assert.ok(done.has(id));
    const lostAges = [...done].filter(([id]) => !committed.has(id)).map(([, t]) => killedAt - t);
    const maxAge = lostAges.length ? Math.max(...lostAges) : 0;
    console.log(
      `# kill -9 after ${done.size} calls: ${committed.size} committed, ${lostAges.length} lost ` +
        `(completed at most ${maxAge} ms before the kill)`,
    );
    assert.ok(committed.size > 0);
    // Lost records are only those still in the queue or in the open batch: flush_interval plus one
    // batch write, with generous slack for a loaded machine.
    assert.ok(maxAge <= 200 + 800, `a record ${maxAge} ms old was lost`);
  });

  test('a committed record is visible to readers within about flush_interval', async () => {
    const { gw, db } = await gateway('lag');
    const N = 20;
    const lags = [];
    for (let i = 0; i < N; i++) {
      const res = await http(`${gw.url}/openai/v1/chat/completions`, {
        headers: { 'api-key': keys.TEAM_B_KEY, 'x-mock-prompt-tokens': '3', 'x-mock-completion-tokens': '2' },
        body: { model: 'gpt-mini', messages: [{ role: 'user', content: 'hi' }] },
      });
      assert.equal(res.status, 200);
      const id = res.headers['x-request-id'];
      const t0 = Date.now();
      await waitFor(async () => (await sql(db, `SELECT 1 AS x FROM usage WHERE request_id = '${id}'`)).length === 1, {
        timeoutMs: 5000,
        intervalMs: 5,
        what: 'the row to be committed',
      });
      lags.push(Date.now() - t0);
    }
    assert.deepEqual(await gw.stop('SIGTERM'), { code: 0, signal: null, killed: false });
    lags.sort((a, b) => a - b);
    // flush_interval is 50 ms here; the lag includes the sqlite3 CLI's own start-up (tens of ms).
    console.log(`# usage log commit lag after the response (ms): p50 ${lags[N >> 1]} max ${lags[N - 1]}`);
    assert.ok(lags[N - 1] < 2000);
  });
});
