// Token and request limits, quotas and their headers (issue #4): concurrent requests never consume more
// than a limit, one subscription's limit does not touch another's, 429/403 bodies and headers.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, test } from 'node:test';

import { rng } from '../../bench/tokenizer/corpus.mjs';
import { http, rawStream, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { assertErrorBody, secret } from './lib/stack.mjs';

const TPM = 1000;

function config({ oaiUrl, slowUrl }) {
  return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0,
          timeouts: { connect: 1s, first_byte: 5s, idle: 5s, total: 20s, drain: 5s } }
state: { store: memory }
backends:
  oai:  { url: ${oaiUrl}, kind: openai, auth: { bearer_env: OAI_KEY } }
  slow: { url: ${slowUrl}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-mini:  { members: [ { backend: oai, model: gpt-4o-mini } ] }
  slow-pool: { members: [ { backend: slow, model: gpt-4o-mini } ] }
apis:
  - { name: openai, prefix: /openai, shape: openai }
subscriptions:
  limited:  { key_env: LIMITED_KEY, product: small }
  other:    { key_env: OTHER_KEY, product: roomy }
  streamer: { key_env: STREAMER_KEY, product: small }
  metered:  { key_env: METERED_KEY, product: metered }
  chatty:   { key_env: CHATTY_KEY, product: chatty }
products:
  small:   { token_limit: { counter: subscription, tokens_per_minute: ${TPM}, reserve_completion: max_tokens } }
  roomy:   { token_limit: { tokens_per_minute: 100000, quota: 1000000, quota_period: daily } }
  metered: { token_limit: { quota: 500, quota_period: monthly } }
  chatty:  { request_limit: { counter: subscription, requests_per_minute: 3 } }
`;
}

describe('token and request limits', () => {
  let oai;
  let slow;
  let gateway;
  const keys = {
    OAI_KEY: secret('oai'),
    LIMITED_KEY: secret('limited'),
    OTHER_KEY: secret('other'),
    STREAMER_KEY: secret('streamer'),
    METERED_KEY: secret('metered'),
    CHATTY_KEY: secret('chatty'),
  };

  before(async () => {
    oai = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    slow = await startMock({ name: 'mock-slow', apiKey: keys.OAI_KEY, tokensPerSecond: 50 });
    gateway = await startGateway({ config: config({ oaiUrl: oai.url, slowUrl: slow.url }), env: keys });
  });
  after(async () => {
    await Promise.allSettled([gateway?.stop(), oai?.stop(), slow?.stop()].filter(Boolean));
  });

  const chatUrl = () => `${gateway.url}/openai/v1/chat/completions`;
  // A chat request whose real usage the mock fixes: `prompt` + `completion` tokens. The prompt "hi" is
  // estimated at 8 tokens or more by any estimator, so the real prompt of 5 never exceeds the estimate.
  function chat(key, { maxTokens, prompt = 5, completion, stream = false, model = 'gpt-mini', extra = {} }) {
    return http(chatUrl(), {
      headers: {
        'api-key': key,
        'x-mock-prompt-tokens': String(prompt),
        'x-mock-completion-tokens': String(completion),
        ...extra,
      },
      body: { model, stream, max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] },
    });
  }
  async function logOf(res) {
    const id = res.headers['x-request-id'];
    assert.ok(id, 'x-request-id');
    return gateway.waitForLog((l) => l.request_id === id, 10000);
  }
  function assertRetryAfter(res) {
    const v = res.headers['retry-after'];
    assert.match(v ?? '', /^[0-9]+$/, `retry-after is whole seconds: ${v}`);
    assert.ok(Number(v) >= 1 && Number(v) <= 61, `retry-after within the window: ${v}`);
  }

  test('40 concurrent requests from one subscription never consume more than its tokens_per_minute', async () => {
    // Each costs 5 + 60 = 65 real tokens and reserves its estimated prompt plus max_tokens (60).
    const responses = await Promise.all(
      Array.from({ length: 40 }, () =>
        chat(keys.LIMITED_KEY, { maxTokens: 60, completion: 60, extra: { 'x-mock-latency': '300ms' } }),
      ),
    );
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    assert.equal(ok.length + limited.length, 40, JSON.stringify(responses.map((r) => r.status)));
    assert.ok(ok.length >= 1, 'some requests fit');
    assert.ok(limited.length >= 1, 'the rest are refused');

    let used = 0;
    for (const res of ok) {
      const line = await logOf(res);
      assert.equal(line.total_tokens, 65);
      assert.equal(res.headers['x-tokens-consumed'], '65');
      assert.match(res.headers['x-ratelimit-remaining-tokens'] ?? '', /^[0-9]+$/);
      used += line.total_tokens;
    }
    assert.ok(used <= TPM, `real usage ${used} within ${TPM} tokens per minute`);

    for (const res of limited) {
      assertErrorBody(res, { status: 429, code: 'rate_limit_exceeded' });
      assert.equal(res.json.error.type, 'tokens');
      assertRetryAfter(res);
      assert.match(res.headers['x-ratelimit-remaining-tokens'] ?? '', /^[0-9]+$/);
      assert.ok(res.headers['x-request-id']);
      assert.equal(res.headers['x-tokens-consumed'], undefined);
    }
    // The gateway refused them itself: they never reached the backend.
    const lines = await Promise.all(limited.map(logOf));
    assert.ok(lines.every((l) => l.status === 429 && l.total_tokens === 0 && !l.backend));
  });

  test('a limited subscription does not affect another; success headers', async () => {
    // `limited` is spent for this minute (previous test); `other` has its own counters.
    const spent = await chat(keys.LIMITED_KEY, { maxTokens: 900, completion: 1 });
    assert.equal(spent.status, 429, spent.text);

    const res = await chat(keys.OTHER_KEY, { maxTokens: 900, completion: 30, prompt: 7 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-tokens-consumed'], '37');
    assert.equal(res.headers['x-ratelimit-remaining-tokens'], String(100000 - 37));
    assert.equal(res.headers['x-quota-remaining-tokens'], String(1000000 - 37));
    assert.equal(res.headers['x-ratelimit-remaining-requests'], undefined, 'no request limit on this product');
    const line = await logOf(res);
    assert.equal(line.total_tokens, 37);
  });

  test('a stream is settled to its real usage when it ends, also when the client left', async () => {
    // 5 + 10 real tokens, 500 + estimate reserved; headers go out before the usage is known.
    const first = await chat(keys.STREAMER_KEY, { maxTokens: 500, completion: 10, stream: true });
    assert.equal(first.status, 200, first.text);
    assert.match(first.headers['x-ratelimit-remaining-tokens'] ?? '', /^[0-9]+$/);
    assert.ok(Number(first.headers['x-ratelimit-remaining-tokens']) < TPM - 500, 'shows the reservation');
    assert.equal(first.headers['x-tokens-consumed'], undefined, 'not known when a stream starts');
    assert.equal((await logOf(first)).total_tokens, 15);

    // A slow stream the client abandons: the gateway reads on to the usage (5 + 40) and settles it.
    const conn = await rawStream(gateway.port, {
      path: '/openai/v1/chat/completions',
      headers: { 'api-key': keys.STREAMER_KEY, 'x-mock-prompt-tokens': '5', 'x-mock-completion-tokens': '40' },
      body: { model: 'slow-pool', stream: true, max_tokens: 400, messages: [{ role: 'user', content: 'hi' }] },
    });
    let id;
    try {
      await conn.waitFor((c) => c.sseData().length >= 2, 5000, '2 SSE chunks');
      id = conn.parser.headers['x-request-id'];
    } finally {
      conn.destroy();
    }
    const line = await gateway.waitForLog((l) => l.request_id === id, 10000);
    assert.equal(line.client_disconnected, true);
    assert.equal(line.total_tokens, 45);

    // Both reservations (> 900 together) are settled: 15 + 45 used, so 900 more fit.
    const res = await chat(keys.STREAMER_KEY, { maxTokens: 880, completion: 2 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-tokens-consumed'], '7');
    assert.equal(res.headers['x-ratelimit-remaining-tokens'], String(TPM - 15 - 45 - 7));
  });

  test('a spent quota gives 403 with the OpenAI error body', async () => {
    // 500 tokens a month; each request really costs 5 + 100.
    let used = 0;
    let refused;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await chat(keys.METERED_KEY, { maxTokens: 100, completion: 100 });
      if (res.status === 200) {
        used += Number(res.headers['x-tokens-consumed']);
        assert.equal(res.headers['x-quota-remaining-tokens'], String(500 - used));
        assert.equal(res.headers['x-ratelimit-remaining-tokens'], undefined, 'no tokens_per_minute');
      } else {
        refused = res;
      }
    }
    assert.ok(refused, 'the quota runs out');
    assertErrorBody(refused, { status: 403, code: 'quota_exceeded' });
    assert.equal(refused.json.error.type, 'insufficient_quota');
    assert.match(refused.json.error.message, /monthly/);
    assert.equal(refused.headers['x-quota-remaining-tokens'], String(500 - used));
    assert.equal(refused.headers['retry-after'], undefined);
    assert.ok(used <= 500 && used >= 400, `used ${used}`);
    const line = await logOf(refused);
    assert.equal(line.status, 403);
  });

  test('request_limit: 429 with retry-after and x-ratelimit-remaining-requests', async () => {
    for (const expected of ['2', '1', '0']) {
      const res = await chat(keys.CHATTY_KEY, { maxTokens: 5, completion: 1 });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers['x-ratelimit-remaining-requests'], expected);
      assert.equal(res.headers['x-ratelimit-remaining-tokens'], undefined, 'no token limit on this product');
    }
    const res = await chat(keys.CHATTY_KEY, { maxTokens: 5, completion: 1 });
    assertErrorBody(res, { status: 429, code: 'rate_limit_exceeded' });
    assert.equal(res.json.error.type, 'requests');
    assertRetryAfter(res);
    assert.equal(res.headers['x-ratelimit-remaining-requests'], '0');
    // Another subscription is not counted with it.
    const other = await chat(keys.OTHER_KEY, { maxTokens: 5, completion: 1 });
    assert.equal(other.status, 200, other.text);
  });

  test('no secret in any log line or on stderr', async () => {
    const everything = JSON.stringify(gateway.accessLog()) + gateway.stderr();
    assert.deepEqual(
      Object.values(keys).filter((k) => everything.includes(k)),
      [],
    );
  });
});

// The tokenizer counts ordinary text at a few ns a byte, but a long run of letters with no space is one BPE
// piece at about 200 ns a byte: 4 MiB of it is most of a second. Such a count runs on a thread of its own
// ("spw-estimate"), and the worker serves its other connections meanwhile.
describe('the prompt estimate of a large body', () => {
  let oai;
  let gateway;
  const keys = { OAI_KEY: secret('oai'), TEAM_KEY: secret('team') };

  before(async () => {
    oai = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY });
    gateway = await startGateway({
      config: `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 1, max_body: 8MiB,
          timeouts: { connect: 1s, first_byte: 5s, idle: 5s, total: 60s, drain: 30s } }
backends:
  oai: { url: ${oai.url}, kind: openai, auth: { bearer_env: OAI_KEY } }
pools:
  gpt-mini: { members: [ { backend: oai, model: gpt-4o-mini } ] }
apis:
  - { name: openai, prefix: /openai, shape: openai }
subscriptions:
  team: { key_env: TEAM_KEY, product: roomy }
products:
  roomy: { token_limit: { tokens_per_minute: 100000000, estimate_prompt_tokens: true } }
`,
      env: keys,
    });
  });
  after(async () => {
    await Promise.allSettled([gateway?.stop(), oai?.stop()].filter(Boolean));
  });

  // {name: [utime ticks of each thread of that name]}
  const threads = () => {
    const out = {};
    for (const tid of fs.readdirSync(`/proc/${gateway.pid}/task`)) {
      try {
        const name = fs.readFileSync(`/proc/${gateway.pid}/task/${tid}/comm`, 'utf8').trim();
        const stat = fs.readFileSync(`/proc/${gateway.pid}/task/${tid}/stat`, 'utf8');
        (out[name] ??= []).push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[11]));
      } catch {
        // the thread ended
      }
    }
    return out;
  };
  const estimateTicks = () => threads()['spw-estimate']?.[0];
  // A body of `mib` MiB of pseudo-random letters: one BPE piece.
  function letters(mib) {
    const next = rng(12345);
    const b = Buffer.alloc(mib << 20);
    for (let i = 0; i < b.length; i++) b[i] = 97 + next.int(26);
    return b.toString('latin1');
  }
  const chat = (content) =>
    http(`${gateway.url}/openai/v1/chat/completions`, {
      headers: { 'api-key': keys.TEAM_KEY },
      body: { model: 'gpt-mini', max_tokens: 5, messages: [{ role: 'user', content }] },
      timeoutMs: 120000,
    });

  test('is counted off the worker, which answers other requests meanwhile', async () => {
    // Warm: the first requests load the rank table, and no estimate thread exists yet.
    assert.equal((await chat('hi')).status, 200);
    assert.equal(estimateTicks(), undefined, 'no estimate thread before a large body');

    let bigDone = false;
    const big = chat(letters(4)).finally(() => {
      bigDone = true;
    });
    // The estimate thread starts with the first count handed to it: the big body's, now under way.
    await waitFor(() => estimateTicks() !== undefined, { timeoutMs: 30000, what: 'spw-estimate' });
    const small = await chat('hello there');
    assert.equal(small.status, 200, small.text);
    assert.equal(bigDone, false, "the small request's answer came while the large one was still counted");
    const res = await big;
    assert.equal(res.status, 200, res.text);
    assert.ok(Number(res.headers['x-tokens-consumed']) > 0, 'settled on the usage');
  });

  test('SIGTERM while a large body is counted: it is answered, and the process exits cleanly', async () => {
    const before = estimateTicks();
    assert.notEqual(before, undefined, 'the estimate thread of the test before');
    const big = chat(letters(2));
    // Under way once the estimate thread uses CPU again.
    await waitFor(() => estimateTicks() > before, { timeoutMs: 30000, intervalMs: 5, what: 'the count' });
    const exit = gateway.stop();
    const res = await big;
    assert.equal(res.status, 200, res.text);
    const { code, signal } = await exit;
    assert.equal(code, 0, `exit code ${code} (signal ${signal}); stderr: ${gateway.stderr().slice(-2000)}`);
    gateway = null;
  });
});
