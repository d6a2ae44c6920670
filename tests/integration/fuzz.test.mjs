// Bad input, generated, against the real gateway with the default policies on (key auth, token limit with
// the prompt estimate, token metrics by user hash, the usage log):
//   - a seeded stream of malformed and odd requests (mutated JSON bodies, broken framing, strange heads and
//     targets) in front of two mocks: every answer a whole HTTP response (or a closed connection), never a
//     500, errors in the OpenAI shape, no secrets;
//   - a backend that answers badly (odd usage, broken SSE and framing, bad heads, 1xx, stalls, resets):
//     the client always gets an answer (or the relayed part of one), the gateway's 502/504 in the OpenAI
//     shape, never a status HTTP does not define.
// Afterwards the gateway still serves, its stderr holds no sanitizer report (run it with SPILLWAY_BIN
// pointing at an -DSPILLWAY_SANITIZE=address,undefined build), it stops cleanly on SIGTERM, no raw user id
// left the process, and the usage log holds a row for every LLM call in the access log.
//
// FUZZ_SEED (default 20261207) and FUZZ_CASES (default 600; the backend gets half as many) pick the inputs;
// a failure names the seed and the case, so it can be replayed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { rng as seededRng } from '../../bench/tokenizer/corpus.mjs';
import { buildRequest, delay, http, makeTempDir, rawExchange } from './lib/harness.mjs';
import { assertErrorBody, secret, startStack } from './lib/stack.mjs';

const SEED = Number(process.env.FUZZ_SEED || 20261207) >>> 0;
const CASES = Math.min(20000, Math.max(1, Number(process.env.FUZZ_CASES || 600)));
const PARALLEL = 6;

// The corpus generator's seeded mulberry32, with a coin.
function rng(seed) {
  const next = seededRng(seed);
  return { next, int: next.int, pick: next.pick, chance: (p) => next() < p };
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
  if (r.chance(0.03)) headers['content-encoding'] = r.pick(['gzip', 'identity', 'br, gzip', '']);
  if (r.chance(0.05)) headers.accept = 'text/event-stream';
  let body = Buffer.from(JSON.stringify(r.chance(0.6) ? mutateJson(r, t.body) : t.body));
  if (r.chance(0.35)) body = mutateBytes(r, body);
  if (r.chance(0.03)) body = Buffer.alloc(70 * 1024, 0x61); // over max_body
  let label = `${method} ${target.slice(0, 80)}`;
  if (r.chance(0.1)) {
    headers['transfer-encoding'] = r.chance(0.8) ? 'chunked' : r.pick(['gzip', 'gzip, chunked', 'identity', 'CHUNKED']);
    body = chunked(r, body);
    label += ` te ${headers['transfer-encoding']}`;
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

// The standard stack (lib/stack.mjs: two mocks, pools gpt-4o and gpt-mini) with the default policies on, and
// `evilUrl`, if given, as pool evil (one attempt, no breaker, so that every request reaches it once).
async function startSetup(evilUrl) {
  const dir = await makeTempDir('spillway-fuzz-');
  let s;
  try {
    s = await startStack({
      timeouts: '{ connect: 1s, first_byte: 1s, idle: 1s, total: 10s, client_idle: 1s, drain: 5s }',
      setup: async () => ({
        extraBackends: evilUrl ? `  evil: { url: ${evilUrl}, kind: openai, auth: { bearer_env: EVIL_KEY } }\n` : '',
        extraPools: evilUrl
          ? '  evil: { members: [ { backend: evil } ], retry: { max_attempts: 1 }, circuit_breaker: { enabled: false } }\n'
          : '',
        workers: 2,
        product: 'standard',
        sections: `usage_log: { sqlite: ${dir}/usage.db }
identity: { user_id: [ "header:x-user-id" ], user_hash_key_env: HASH_KEY }
products:
  standard:
    token_limit: { counter: subscription, tokens_per_minute: 100000000, estimate_prompt_tokens: true }
policies:
  token_metrics: { dimensions: [api, operation, deployment, backend, subscription, user_hash] }
`,
        env: { EVIL_KEY: secret('evil'), HASH_KEY: secret('hash') },
      }),
    });
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  const stopStack = s.stop;
  s.dir = dir;
  s.stop = async () => {
    await stopStack();
    await fs.rm(dir, { recursive: true, force: true });
  };
  return s;
}

// Sends `cases` ({i, bytes, label, ...}) PARALLEL at a time; `judge(c, res)` returns a failure or nothing.
// `closeOk`: a connection closed without an answer passes (a client's broken framing may earn no answer).
async function exchangeAll(s, cases, judge, { closeOk = true } = {}) {
  const statuses = new Map();
  const failures = [];
  const closed = [];
  const check = async (c) => {
    const res = await rawExchange(s.gw.port, c.bytes, { timeoutMs: 15000 });
    const where = `seed ${SEED} case ${c.i} (${c.label})`;
    statuses.set(res.status, (statuses.get(res.status) || 0) + 1);
    if (res.status === null) {
      if (!res.closed) failures.push(`${where}: neither an answer nor a close`);
      else if (!closeOk) failures.push(`${where}: closed without an answer`);
      closed.push(c.label);
      return;
    }
    if (!res.complete && !res.closed) failures.push(`${where}: ${res.status} not complete`);
    for (const k of Object.values(s.keys)) if (res.raw.includes(k)) failures.push(`${where}: a secret in the answer`);
    const why = judge(c, res);
    if (why) failures.push(`${where}: ${why}`);
  };
  for (let i = 0; i < cases.length; i += PARALLEL) {
    await Promise.all(cases.slice(i, i + PARALLEL).map(check));
    assert.equal(s.gw.exited(), false, `the gateway exited after case ${i}: ${s.gw.stderr().slice(-2000)}`);
  }
  return { statuses, failures, closed };
}

// A gateway error in the OpenAI shape, or why not.
function notOpenAiError(res) {
  try {
    assertErrorBody({ status: res.status, json: res.json, body: res.body });
    return undefined;
  } catch {
    return `${res.status} not an OpenAI error: ${res.body.slice(0, 200)}`;
  }
}

// After the cases: still serving, no sanitizer report, a clean stop, no raw user id anywhere, and a usage
// row for every LLM call the access log shows that passed the inbound policies (docs/usage-log.md: a 401, or
// a 429 of the token limit, has none; a huge max_tokens reserves the whole window, so requests beside it
// are refused) and went to an operation of an API (not the model list).
async function checkAfterwards(s, minCalls) {
  const ok = await http(`${s.gw.url}/openai/v1/chat/completions`, {
    headers: { 'api-key': s.keys.TEAM_A_KEY, 'x-user-id': 'user-1' },
    body: { model: 'gpt-mini', max_tokens: 2, messages: [{ role: 'user', content: 'still there?' }] },
  });
  assert.equal(ok.status, 200, ok.text);
  const metrics = await http(`${s.gw.adminUrl}/metrics`, { method: 'GET' });
  assert.equal(metrics.status, 200);
  // Raw user ids (x-user-id: user-N) never leave the process: metrics, access log and usage log carry
  // their keyed hash only.
  assert.doesNotMatch(metrics.text, /user-\d/, 'no raw user id in the metrics');
  assert.ok(/user_hash="[0-9a-f]{16}"/.test(metrics.text), 'the metrics carry user hashes');
  const stop = await s.gw.stop();
  assert.equal(stop.killed, false, 'stopped on SIGTERM');
  assert.equal(stop.code, 0, `exit code; stderr: ${s.gw.stderr().slice(-2000)}`);
  assert.doesNotMatch(
    s.gw.stderr(),
    /AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:/,
    s.gw.stderr().slice(-3000),
  );
  for (const m of [s.az, s.oai]) assert.equal(m.exited(), false, 'the mocks still run');
  assert.doesNotMatch(JSON.stringify(s.gw.accessLog()), /user-\d/, 'no raw user id in the access log');
  for (const f of await fs.readdir(s.dir)) {
    assert.doesNotMatch(
      (await fs.readFile(path.join(s.dir, f))).toString('latin1'),
      /user-\d/,
      `no raw user id in ${f}`,
    );
  }
  const refused = (l) => !l.subscription || (l.attempts === 0 && l.error === 'rate_limit_exceeded');
  const lines = s.gw.accessLog().filter((l) => !refused(l) && l.api && l.operation && l.operation !== 'models');
  assert.ok(lines.length >= minCalls, `LLM calls in the access log: ${lines.length}`);
  const out = execFileSync('sqlite3', ['-json', path.join(s.dir, 'usage.db'), 'SELECT request_id FROM usage'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const rowIds = new Set(JSON.parse(out || '[]').map((x) => x.request_id));
  const missing = lines.filter((l) => !rowIds.has(l.request_id));
  assert.deepEqual(missing.slice(0, 5), [], `${missing.length} of ${lines.length} calls without a usage row`);
}

describe('generated bad input', () => {
  let s;
  before(async () => {
    s = await startSetup();
  });
  after(async () => {
    await s?.stop();
  });

  test(
    `${CASES} generated requests (seed ${SEED}): whole answers, no 500, OpenAI errors, no secrets`,
    { timeout: 600000 },
    async (t) => {
      const r = rng(SEED);
      const cases = Array.from({ length: CASES }, (_, i) => ({ i, ...generate(r, s.gw.port, s.keys.TEAM_A_KEY) }));
      const { statuses, failures, closed } = await exchangeAll(s, cases, (c, res) => {
        if (res.status >= 500 && res.status !== 502 && res.status !== 504)
          return `${res.status} ${res.body.slice(0, 300)}`;
        if (res.status >= 400 && res.complete && !c.label.startsWith('HEAD')) return notOpenAiError(res);
        return undefined;
      });
      const seen = JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]));
      t.diagnostic(`statuses (null: closed without an answer): ${seen}`);
      t.diagnostic(`closed without an answer: ${JSON.stringify(closed.slice(0, 12))}`);
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures; statuses ${seen}`);
      // Some of every kind happened: the generator reaches the backend and the refusals alike.
      assert.ok((statuses.get(200) || 0) > CASES / 20, `200s: ${seen}`);
      assert.ok((statuses.get(400) || 0) > CASES / 20, `400s: ${seen}`);
    },
  );

  test(
    'afterwards: still serving, no sanitizer report, a clean stop, a usage row for every LLM call',
    { timeout: 60000 },
    async () => {
      await checkAfterwards(s, CASES / 10);
    },
  );
});

// ---------------------------------------------------------------------------------------------------
// A backend that answers badly: odd usage, broken SSE, broken framing, bad heads, stalls and resets.

const BACKEND_CASES = Math.max(1, Math.round(CASES / 2));

const ODD_USAGE = [
  undefined,
  null,
  {},
  [],
  'usage',
  { prompt_tokens: -1, completion_tokens: -5, total_tokens: -6 },
  { prompt_tokens: 1e20, completion_tokens: 2 ** 64, total_tokens: 'x' },
  { prompt_tokens: 1.5, completion_tokens: 2.5 },
  { total_tokens: 3 },
  { prompt_tokens: 3, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 1e30 } },
  { prompt_tokens: 3, completion_tokens: 4, completion_tokens_details: null },
  { prompt_tokens: '12', completion_tokens: true, total_tokens: [] },
  { input_tokens: 5, output_tokens: 6, output_tokens_details: { reasoning_tokens: -2 } },
  { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
];

function completionJson(r) {
  const body = {
    id: 'chatcmpl-evil',
    object: 'chat.completion',
    model: r.pick(['gpt-4o', '', 42, null]),
    choices: r.chance(0.8)
      ? [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }]
      : 'none',
  };
  const usage = r.pick(ODD_USAGE);
  if (usage !== undefined) body.usage = usage;
  let text = JSON.stringify(body);
  if (r.chance(0.15)) text = text.slice(0, r.int(text.length)); // cut short
  if (r.chance(0.05)) text = `${text},"usage":{"prompt_tokens":1}}`; // a second usage after the end
  return text;
}

function sseBody(r) {
  const chunk = (extra) =>
    JSON.stringify({
      id: 'c',
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { content: r.pick(['a', '', 'é', 'data: x\n\n']) } }],
      ...extra,
    });
  const events = [];
  for (let i = 0, n = 1 + r.int(8); i < n; i++) {
    events.push(
      r.pick([
        `data: ${chunk()}`,
        `data: ${chunk()}`,
        'data: {bad json',
        'data:',
        ': keep-alive',
        'event: ping\ndata: {}',
        `data: ${JSON.stringify({ choices: [], usage: r.pick(ODD_USAGE) ?? null })}`,
        `data: ${chunk({ usage: r.pick(ODD_USAGE) ?? null })}`,
        'id: 1\nretry: 5',
        'data: [DONE]',
        `data: ${'x'.repeat(r.int(70000))}`,
      ]),
    );
  }
  if (r.chance(0.7)) events.push('data: [DONE]');
  const sep = r.chance(0.8) ? '\n\n' : '\r\n\r\n';
  let text = events.join(sep) + sep;
  if (r.chance(0.1)) text = text.slice(0, r.int(text.length)); // an event cut in half
  return text;
}

// One answer: {chunks: [Buffer], end: 'keep' | 'close' | 'reset' | 'hang', status, label}.
function badAnswer(r, stream) {
  const status = r.chance(0.8) ? 200 : r.pick([400, 401, 404, 429, 500, 503, 204, 304, 100, 999]);
  const isSse = stream ? r.chance(0.85) : r.chance(0.1);
  const body = Buffer.from(isSse ? sseBody(r) : completionJson(r));
  const headers = [`content-type: ${isSse ? 'text/event-stream' : r.pick(['application/json', 'text/html', ''])}`];
  if (status === 429 || r.chance(0.05)) {
    headers.push(`retry-after: ${r.pick(['1', '-1', 'abc', '99999999999999', 'Wed, 21 Oct 2015 07:28:00 GMT', ''])}`);
  }
  if (r.chance(0.05)) headers.push(`x-ms-region: ${'r'.repeat(r.int(20000))}`);
  if (r.chance(0.03)) for (let i = 0; i < 300; i++) headers.push(`x-h${i}: v`);
  let statusLine = `HTTP/1.1 ${status} ${r.pick(['OK', '', 'Whatever'])}`;
  let framing = r.pick(['length', 'length', 'chunked', 'chunked', 'close']);
  let end = framing === 'close' ? 'close' : 'keep';
  let label = `${status} ${isSse ? 'sse' : 'json'} ${framing}`;
  const broken = r.chance(0.3) ? r.int(12) : -1;
  switch (broken) {
    case 0:
      statusLine = r.pick(['HTTP/1.1 abc', 'HTTP/2 200', 'SPDY 200 OK', '', '{"choices":[]}']);
      break;
    case 1:
      headers.push('no colon here');
      break;
    case 2:
      headers.push(`content-length: ${body.length + 1}`, `content-length: ${body.length}`);
      framing = 'raw';
      break;
    case 3:
      headers.push('transfer-encoding: chunked', `content-length: ${body.length}`);
      framing = 'chunked-raw';
      break;
    case 4:
      framing = 'short';
      end = 'close';
      break; // content-length more than is sent
    case 5:
      framing = 'bad-chunk';
      break;
    case 6:
      framing = 'unended-chunks';
      end = 'close';
      break;
    case 7:
      end = 'reset';
      break;
    case 8:
      end = 'hang-first';
      break; // nothing at all: the first-byte timeout
    case 9:
      end = 'hang-after-head';
      break; // the head, then nothing: the idle timeout
    case 10:
      headers.push(`x-big: ${'b'.repeat(70000)}`);
      break;
    case 11:
      framing = 'length';
      statusLine = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 ${status} OK`;
      break;
    default:
      break;
  }
  if (broken >= 0) label += ` broken ${broken}`;
  const head = (extra) => Buffer.from(`${[statusLine, ...headers, ...extra].join('\r\n')}\r\n\r\n`, 'latin1');
  const chunksOf = (b) => {
    const out = [];
    for (let at = 0; at < b.length;) {
      const n = 1 + r.int(b.length - at);
      out.push(`${n.toString(16)}\r\n${b.subarray(at, at + n).toString('latin1')}\r\n`);
      at += n;
    }
    return out.join('');
  };
  let bytes;
  if (end === 'hang-first') bytes = Buffer.alloc(0);
  else if (end === 'hang-after-head') bytes = head([`content-length: ${body.length}`]);
  else if (framing === 'length') bytes = Buffer.concat([head([`content-length: ${body.length}`]), body]);
  else if (framing === 'raw') bytes = Buffer.concat([head([]), body]);
  else if (framing === 'short') bytes = Buffer.concat([head([`content-length: ${body.length + 100}`]), body]);
  else if (framing === 'close') bytes = Buffer.concat([head([]), body]);
  else if (framing === 'chunked-raw')
    bytes = Buffer.concat([head([]), Buffer.from(`${chunksOf(body)}0\r\n\r\n`, 'latin1')]);
  else if (framing === 'bad-chunk')
    bytes = Buffer.concat([
      head(['transfer-encoding: chunked']),
      Buffer.from(`zz\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, 'latin1'),
    ]);
  else if (framing === 'unended-chunks')
    bytes = Buffer.concat([head(['transfer-encoding: chunked']), Buffer.from(chunksOf(body), 'latin1')]);
  else
    bytes = Buffer.concat([head(['transfer-encoding: chunked']), Buffer.from(`${chunksOf(body)}0\r\n\r\n`, 'latin1')]);
  // Sent in up to four pieces, a few milliseconds apart.
  const pieces = [];
  for (let at = 0, n = 1 + r.int(4); at < bytes.length; n--) {
    const take = n <= 1 ? bytes.length - at : 1 + r.int(bytes.length - at);
    pieces.push(bytes.subarray(at, at + take));
    at += take;
  }
  return { chunks: pieces, end, status, label };
}

// The backend: reads each request (head and content-length body), finds "case-N" in it and answers as
// badAnswer() does for that case, seeded by the case alone (a retry gets the same answer).
async function startEvilBackend() {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    let busy = false;
    socket.on('data', async (d) => {
      buf = Buffer.concat([buf, d]);
      if (busy) return;
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = buf.subarray(0, headEnd).toString('latin1');
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] || 0);
      if (buf.length < headEnd + 4 + length) return;
      const body = buf.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
      buf = buf.subarray(headEnd + 4 + length);
      const m = /case-(\d+)-(stream|plain)/.exec(body);
      if (!m) {
        socket.destroy();
        return;
      }
      busy = true;
      const answer = badAnswer(rng((SEED ^ Math.imul(Number(m[1]) + 1, 0x9e3779b1)) >>> 0), m[2] === 'stream');
      for (const piece of answer.chunks) {
        if (socket.destroyed) return;
        socket.write(piece);
        await delay(r0());
      }
      if (answer.end === 'reset') socket.resetAndDestroy();
      else if (answer.end === 'close') socket.end();
      busy = false; // 'keep' and the hangs: the gateway decides (its timeouts close a hung socket)
    });
  });
  // Between pieces: 0-3 ms.
  const jitter = rng(SEED + 1);
  const r0 = () => jitter.int(4);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise((resolve) => {
        for (const sk of sockets) sk.destroy();
        server.close(resolve);
      }),
  };
}

describe('generated bad backend answers', () => {
  let s;
  let evil;
  before(async () => {
    evil = await startEvilBackend();
    s = await startSetup(evil.url);
  });
  after(async () => {
    await s?.stop();
    await evil?.stop();
  });

  test(
    `${BACKEND_CASES} requests to a backend that answers badly (seed ${SEED}): the gateway relays or refuses, never breaks`,
    { timeout: 600000 },
    async (t) => {
      const r = rng(SEED + 2);
      const cases = Array.from({ length: BACKEND_CASES }, (_, i) => {
        const stream = r.chance(0.5);
        const body = {
          model: 'evil',
          stream,
          max_tokens: 5,
          messages: [{ role: 'user', content: `case-${i}-${stream ? 'stream' : 'plain'}` }],
        };
        const answer = badAnswer(rng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0), stream);
        const headers = { 'api-key': s.keys.TEAM_A_KEY, 'x-user-id': `user-${r.int(20)}` };
        const bytes = buildRequest({ path: '/openai/v1/chat/completions', port: s.gw.port, headers, body });
        return { i, bytes, label: `${stream ? 'stream' : 'plain'}: ${answer.label}`, answer };
      });
      const { statuses, failures } = await exchangeAll(
        s,
        cases,
        (c, res) => {
          const sent = c.answer.status;
          if (res.status < 200 || res.status > 599) return `status ${res.status} relayed`;
          // A 5xx is the backend's own (relayed unchanged when no member is left), or the gateway's 502/504.
          if (res.status >= 500 && res.status !== 502 && res.status !== 504 && !(res.status === sent && sent >= 500))
            return `${res.status} ${res.body.slice(0, 300)}`;
          if ((res.status === 502 || res.status === 504) && !res.headers['x-spillway-attempts'])
            return `${res.status} without x-spillway-attempts`;
          if ((res.status === 502 || res.status === 504) && res.complete) return notOpenAiError(res);
          return undefined;
        },
        { closeOk: false },
      ); // whatever the backend does, the client gets an answer (or the relayed part of one)
      const seen = JSON.stringify([...statuses].sort((a, b) => a[0] - b[0]));
      t.diagnostic(`statuses (null: closed without an answer): ${seen}`);
      assert.deepEqual(failures.slice(0, 20), [], `${failures.length} failures; statuses ${seen}`);
      assert.ok((statuses.get(200) || 0) > BACKEND_CASES / 5, `200s: ${seen}`);
      assert.ok((statuses.get(502) || 0) + (statuses.get(504) || 0) > 0, `502s and 504s: ${seen}`);
    },
  );

  test(
    'afterwards: still serving, no sanitizer report, a clean stop, a usage row for every LLM call',
    { timeout: 60000 },
    async () => {
      await checkAfterwards(s, BACKEND_CASES / 2);
    },
  );
});
