// Bad input, generated: a seeded stream of malformed and odd requests (mutated JSON bodies, broken
// framing, strange heads and targets) against the real gateway with the default policies on (key auth,
// token limit with the prompt estimate, token metrics by user hash, the usage log) in front of two mocks.
// Every answer must be a whole HTTP response (or a closed connection), never a 500, an error in the OpenAI
// shape, and free of secrets; afterwards the gateway still serves, its stderr holds no sanitizer report
// (run it with SPILLWAY_BIN pointing at an -DSPILLWAY_SANITIZE=address,undefined build), it stops cleanly
// on SIGTERM, and the usage log holds a row for every LLM call in the access log.
//
// FUZZ_SEED (default 20261207) and FUZZ_CASES (default 600) pick the inputs; a failure names the seed and
// the case, so it can be replayed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { buildRequest, http, makeTempDir, rawExchange, startGateway, startMock } from './lib/harness.mjs';
import { assertErrorBody, secret } from './lib/stack.mjs';

const SEED = Number(process.env.FUZZ_SEED || 20261207) >>> 0;
const CASES = Math.min(20000, Math.max(1, Number(process.env.FUZZ_CASES || 600)));
const PARALLEL = 6;

// mulberry32: small, seedable, good enough to pick mutations.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)], chance: (p) => next() < p };
}

const TEMPLATES = [
  {
    path: '/openai/v1/chat/completions',
    body: {
      model: 'gpt-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'hello there' },
            { type: 'image_url', image_url: { url: 'data:x', detail: 'low' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'f',
            description: 'F.',
            parameters: { type: 'object', properties: { a: { type: 'integer', enum: [1, 2] } } },
          },
        },
      ],
      max_tokens: 8,
      user: 'u-1',
    },
  },
  {
    path: '/openai/v1/chat/completions',
    body: {
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      max_completion_tokens: 5,
      messages: [{ role: 'user', content: 'stream me' }],
    },
  },
  {
    path: '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21',
    body: { messages: [{ role: 'user', content: 'azure shaped' }], max_tokens: 4 },
  },
  { path: '/openai/v1/completions', body: { model: 'gpt-mini', prompt: ['one', [1, 2, 3]], max_tokens: 3 } },
  { path: '/openai/v1/embeddings', body: { model: 'gpt-mini', input: ['embed this', 'and this'] } },
  {
    path: '/openai/v1/responses',
    body: {
      model: 'gpt-mini',
      instructions: 'be brief',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'hi' }] }],
      max_output_tokens: 6,
    },
  },
];

const STRINGS = [
  '',
  ' ',
  'x'.repeat(3000),
  'héllo wörld ✓',
  '\u0000',
  '\ud800',
  'a\nb',
  '"quoted"',
  '\\',
  '0',
  'true',
  'null',
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  'A'.repeat(70000),
  '<|endoftext|>',
  'data: [DONE]\n\n',
  'gpt-4o',
  'user',
  'system',
];
const NUMBERS = [0, -1, 1, 1e308, -1e308, 2 ** 63, 2 ** 53 + 1, 0.5, -0.0, 1e-320, 123456789012345678901234567890];

function randomValue(r, depth = 0) {
  switch (r.int(depth > 3 ? 4 : 7)) {
    case 0:
      return r.pick(STRINGS);
    case 1:
      return r.pick(NUMBERS);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return String.fromCharCode(...Array.from({ length: r.int(12) }, () => r.int(0x3000)));
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    case 5:
      return Object.fromEntries(
        Array.from({ length: r.int(4) }, () => [
          r.pick(['role', 'content', 'type', 'text', 'model', 'name', 'x']),
          randomValue(r, depth + 1),
        ]),
      );
    default: {
      let v = r.pick(NUMBERS);
      for (let i = 0, n = 1 + r.int(600); i < n; i++) v = r.chance(0.5) ? [v] : { k: v };
      return v;
    }
  }
}

// Every [container, key] pair of a JSON value, depth first.
function slots(v, out = []) {
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      out.push([v, k]);
      slots(v[k], out);
    }
  }
  return out;
}

function mutateJson(r, body) {
  const doc = structuredClone(body);
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const all = slots(doc);
    if (all.length === 0) {
      doc[r.pick(['model', 'messages', 'x'])] = randomValue(r);
      continue;
    }
    const [obj, key] = r.pick(all);
    const op = r.int(4);
    if (op === 0) obj[key] = randomValue(r);
    else if (op === 1 && !Array.isArray(obj)) delete obj[key];
    else if (op === 2)
      obj[Array.isArray(obj) ? obj.length : r.pick(['stream', 'max_tokens', 'model', 'messages', 'n', 'zz'])] =
        randomValue(r);
    else if (Array.isArray(obj[key])) obj[key] = Object.assign({}, obj[key]);
    else if (obj[key] && typeof obj[key] === 'object') obj[key] = Object.values(obj[key]);
    else obj[key] = [obj[key]];
  }
  return doc;
}

function mutateBytes(r, buf) {
  let b = Buffer.from(buf);
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const at = r.int(b.length + 1);
    switch (r.int(5)) {
      case 0:
        b = b.subarray(0, at);
        break; // truncated
      case 1:
        if (b.length) b[Math.min(at, b.length - 1)] = r.int(256);
        break;
      case 2:
        b = Buffer.concat([
          b.subarray(0, at),
          Buffer.from(Array.from({ length: 1 + r.int(8) }, () => r.int(256))),
          b.subarray(at),
        ]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), b.subarray(r.int(b.length + 1))]);
        break;
      default:
        b = Buffer.concat([
          b,
          Buffer.from(r.pick([',"model":"gpt-4o"}', '}', ']', '\\u', '"', ' '.repeat(100), '{"a":'.repeat(2000)])),
        ]);
    }
  }
  return b;
}

function chunked(r, body) {
  let out = '';
  let at = 0;
  while (at < body.length) {
    const n = 1 + r.int(Math.max(1, body.length - at));
    out += `${r.chance(0.05) ? 'zz' : n.toString(16)}${r.chance(0.05) ? ';ext=1' : ''}\r\n${body.subarray(at, at + n).toString('latin1')}\r\n`;
    at += n;
  }
  return Buffer.from(`${out}${r.chance(0.1) ? '' : '0\r\n\r\n'}`, 'latin1');
}

const ODD_TARGETS = [
  '/openai/v1/chat/completions?x=%zz',
  '/openai/v1/chat/completions/../../admin',
  '/openai//v1/chat/completions',
  '/foundry/openai/deployments/%2e%2e/chat/completions?api-version=2024-10-21',
  '/foundry/openai/deployments/gpt-4o/chat/completions?api-version=&api-version=1',
  `/foundry/openai/deployments/${'d'.repeat(5000)}/chat/completions`,
  '/openai/v1/models',
  '*',
  'http://127.0.0.1/openai/v1/chat/completions',
  '/foundry/openai/deployments/gpt-4o/embeddings?api-version=2024-10-21',
  '/openai/v1/responses/resp_1',
  '/%00',
];

// One generated request: {bytes, label}.
function generate(r, port, key) {
  const t = r.pick(TEMPLATES);
  const target = r.chance(0.15) ? r.pick(ODD_TARGETS) : t.path;
  const method = r.chance(0.08)
    ? r.pick(['GET', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'POST ', 'P\u00d6ST', 'PATCH'])
    : 'POST';
  const headers = {};
  if (!r.chance(0.05)) {
    const bearer = r.chance(0.5);
    headers[bearer ? 'authorization' : 'api-key'] = r.chance(0.9)
      ? `${bearer ? 'Bearer ' : ''}${key}`
      : r.pick(['', 'Bearer', 'sk-wrong', key.slice(0, -1), `Bearer ${key}`]);
  }
  if (r.chance(0.7))
    headers['x-user-id'] = r.chance(0.8)
      ? `user-${r.int(50)}`
      : r.pick(STRINGS.filter((s) => s.length < 100 && !/[\r\n\u0000]/.test(s)));
  if (r.chance(0.1)) headers['x-request-id'] = r.pick(['abc', '0'.repeat(32), 'x'.repeat(300), 'é']);
  if (r.chance(0.05)) headers['content-type'] = r.pick(['text/plain', 'application/json; charset=latin1', '']);
  if (r.chance(0.05)) headers.expect = '100-continue';
  if (r.chance(0.05)) headers.accept = 'text/event-stream';
  let body = Buffer.from(JSON.stringify(r.chance(0.6) ? mutateJson(r, t.body) : t.body));
  if (r.chance(0.35)) body = mutateBytes(r, body);
  if (r.chance(0.03)) body = Buffer.alloc(70 * 1024, 0x61); // over max_body
  let label = `${method} ${target.slice(0, 80)}`;
  if (r.chance(0.1)) {
    headers['transfer-encoding'] = 'chunked';
    body = chunked(r, body);
    label += ' chunked';
  } else if (r.chance(0.06)) {
    headers['content-length'] = r.pick([
      String(body.length + 5),
      String(Math.max(0, body.length - 3)),
      '-1',
      '1e3',
      `${body.length}, ${body.length}`,
      '99999999999999999999',
    ]);
    label += ` content-length ${headers['content-length']}`;
  }
  let bytes = buildRequest({ method, path: target, port, headers, body });
  if (r.chance(0.04)) {
    // A broken head: a header line without a colon, an obs-fold, a NUL, or one over any limit.
    const head = bytes.toString('latin1');
    const cut = head.indexOf('\r\n') + 2;
    const bad = r.pick([
      'bad header line\r\n',
      ' folded: value\r\n',
      'x-a: b\u0000c\r\n',
      'x-long: ' + 'v'.repeat(70000) + '\r\n',
    ]);
    bytes = Buffer.from(head.slice(0, cut) + bad + head.slice(cut), 'latin1');
    label += ` head+${JSON.stringify(bad.slice(0, 12))}`;
  }
  return { bytes, label };
}

describe('generated bad input', () => {
  const keys = { AZ_KEY: secret('az'), OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a'), HASH_KEY: secret('hash') };
  let az;
  let oai;
  let gw;
  let dir;

  before(async () => {
    dir = await makeTempDir('spillway-fuzz-');
    az = await startMock({ name: 'mock-az', apiKey: keys.AZ_KEY });
    oai = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 2, max_body: 64KiB,
          timeouts: { connect: 1s, first_byte: 2s, idle: 2s, total: 10s, client_idle: 1s, drain: 5s } }
state: { store: memory }
usage_log: { sqlite: ${dir}/usage.db }
identity: { user_id: [ "header:x-user-id" ], user_hash_key_env: HASH_KEY }
backends:
  az:  { url: ${az.url}, kind: azure-openai, auth: { api_key_env: AZ_KEY } }
  oai: { url: ${oai.url}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-4o:  { members: [ { backend: az, deployment: gpt-4o-dep } ] }
  gpt-mini: { members: [ { backend: oai, model: gpt-4o-mini-2024 } ] }
apis:
  - { name: foundry, prefix: /foundry, shape: azure-openai }
  - { name: openai,  prefix: /openai,  shape: openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, product: standard, tags: { team: a } }
products:
  standard:
    token_limit: { counter: subscription, tokens_per_minute: 100000000, estimate_prompt_tokens: true }
policies:
  token_metrics: { dimensions: [api, operation, deployment, backend, subscription, user_hash] }
`;
    gw = await startGateway({ config, env: keys });
  });
  after(async () => {
    await Promise.allSettled([gw?.stop(), az?.stop(), oai?.stop()]);
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test(
    `${CASES} generated requests (seed ${SEED}): whole answers, no 500, OpenAI errors, no secrets`,
    { timeout: 600000 },
    async (t) => {
      const r = rng(SEED);
      const cases = Array.from({ length: CASES }, (_, i) => ({ i, ...generate(r, gw.port, keys.TEAM_A_KEY) }));
      const statuses = new Map();
      const failures = [];
      const closedLabels = [];
      const check = async (c) => {
        const res = await rawExchange(gw.port, c.bytes, { timeoutMs: 15000 });
        const where = `seed ${SEED} case ${c.i} (${c.label})`;
        statuses.set(res.status, (statuses.get(res.status) || 0) + 1);
        if (res.status === null) {
          if (!res.closed) failures.push(`${where}: neither an answer nor a close`);
          closedLabels.push(c.label);
          return;
        }
        if (!res.complete && !res.closed) failures.push(`${where}: ${res.status} not complete`);
        if (res.status >= 500 && res.status !== 502 && res.status !== 504)
          failures.push(`${where}: ${res.status} ${res.body.slice(0, 300)}`);
        for (const s of Object.values(keys)) if (res.raw.includes(s)) failures.push(`${where}: a secret in the answer`);
        if (res.status >= 400 && res.complete && !c.label.startsWith('HEAD')) {
          try {
            assertErrorBody({ status: res.status, json: res.json, body: res.body });
          } catch (e) {
            failures.push(`${where}: ${res.status} not an OpenAI error: ${res.body.slice(0, 200)}`);
          }
        }
      };
      for (let i = 0; i < cases.length; i += PARALLEL) {
        await Promise.all(cases.slice(i, i + PARALLEL).map(check));
        assert.equal(gw.exited(), false, `the gateway exited after case ${i}: ${gw.stderr().slice(-2000)}`);
      }
      t.diagnostic(
        `statuses (null: closed without an answer): ${JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]))}`,
      );
      t.diagnostic(`closed without an answer: ${JSON.stringify(closedLabels.slice(0, 12))}`);
      assert.deepEqual(
        failures.slice(0, 20),
        [],
        `${failures.length} failures; statuses ${JSON.stringify([...statuses])}`,
      );
      // Some of every kind happened: the generator reaches the backend and the refusals alike.
      assert.ok((statuses.get(200) || 0) > CASES / 20, `200s: ${JSON.stringify([...statuses])}`);
      assert.ok((statuses.get(400) || 0) > CASES / 20, `400s: ${JSON.stringify([...statuses])}`);
    },
  );

  test(
    'afterwards: still serving, no sanitizer report, a clean stop, a usage row for every LLM call',
    { timeout: 60000 },
    async () => {
      const ok = await http(`${gw.url}/openai/v1/chat/completions`, {
        headers: { 'api-key': keys.TEAM_A_KEY },
        body: { model: 'gpt-mini', max_tokens: 2, messages: [{ role: 'user', content: 'still there?' }] },
      });
      assert.equal(ok.status, 200, ok.text);
      const metrics = await http(`${gw.adminUrl}/metrics`, { method: 'GET' });
      assert.equal(metrics.status, 200);
      // Raw user ids (x-user-id: user-N) never leave the process: metrics, access log and usage log carry
      // their keyed hash only.
      assert.doesNotMatch(metrics.text, /user-\d/, 'no raw user id in the metrics');
      assert.ok(/user_hash="[0-9a-f]{16}"/.test(metrics.text), 'the metrics carry user hashes');
      const stop = await gw.stop();
      assert.equal(stop.killed, false, 'stopped on SIGTERM');
      assert.equal(stop.code, 0, `exit code; stderr: ${gw.stderr().slice(-2000)}`);
      assert.doesNotMatch(
        gw.stderr(),
        /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/,
        gw.stderr().slice(-3000),
      );
      for (const m of [az, oai]) assert.equal(m.exited(), false, 'the mocks still run');
      // A usage row for every LLM call the access log shows that passed the inbound policies (docs/usage-log.md:
      // a 401, or a 429 of the token limit, has none; a huge max_tokens reserves the whole window, so requests
      // beside it are refused) and went to an operation of an API (not the model list).
      const refused = (l) => !l.subscription || (l.attempts === 0 && l.error === 'rate_limit_exceeded');
      assert.doesNotMatch(JSON.stringify(gw.accessLog()), /user-\d/, 'no raw user id in the access log');
      for (const f of await fs.readdir(dir)) {
        assert.doesNotMatch(
          (await fs.readFile(path.join(dir, f))).toString('latin1'),
          /user-\d/,
          `no raw user id in ${f}`,
        );
      }
      const lines = gw.accessLog().filter((l) => !refused(l) && l.api && l.operation && l.operation !== 'models');
      assert.ok(lines.length > CASES / 10, `LLM calls in the access log: ${lines.length}`);
      const out = execFileSync('sqlite3', ['-json', path.join(dir, 'usage.db'), 'SELECT request_id FROM usage'], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      const rowIds = new Set(JSON.parse(out || '[]').map((x) => x.request_id));
      const missing = lines.filter((l) => !rowIds.has(l.request_id));
      assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${lines.length} calls without a usage row`);
    },
  );
});
