// The training run of a profile-guided build (scripts/build-release): drives an instrumented `spillway serve`
// through the traffic a gateway sees, then stops it with SIGTERM so that it writes its profile on exit.
//
//   node bench/e2e/pgo_train.mjs --bin BUILD/spillway [--seconds 8]   (wrk's seconds at 64 connections)
//
// The configuration is bench/run's (default policies on: key auth, token limit with the prompt estimate,
// token metrics with user_hash, usage log). The traffic:
//   - non-streamed chat completions from wrk (bench/e2e/chat.lua), at 64 connections and at one, against
//     the static nginx upstream: most of the run, as most of a gateway's requests;
//   - streamed chat completions (with and without the usage chunk), the Azure-shaped path, embeddings and
//     the Responses API, against `spillway mock-llm` (started from the same binary);
//   - refusals: no key, a wrong key, a body that is not JSON, an unknown path, a method not allowed;
//   - the admin port's /metrics and /healthz.
// Exits non-zero when a request gets an unexpected status or the gateway does not exit cleanly: a profile
// of a broken run would optimise the wrong paths.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as P from './procs.mjs';
import { CLIENT_KEY, SPILLWAY_ENV, spillwayConf } from './configs.mjs';

const o = { bin: '', seconds: 8 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--bin') o.bin = path.resolve(argv[++i]);
  else if (argv[i] === '--seconds') {
    o.seconds = Number(argv[++i]);
    if (!Number.isInteger(o.seconds) || o.seconds < 1 || o.seconds > 120) throw new Error('--seconds: a whole number, 1 to 120');
  }
  else throw new Error(`unknown option ${argv[i]}`);
}
if (!o.bin) throw new Error('usage: pgo_train.mjs --bin PATH [--seconds S]');

const auth = { authorization: `Bearer ${CLIENT_KEY}`, 'content-type': 'application/json', 'x-user-id': 'trainer@example.com' };

async function expect(port, want, req) {
  const res = await P.request(port, req);
  if (res.status !== want) {
    throw new Error(`${req.method || 'GET'} ${req.path}: status ${res.status}, expected ${want}: ${res.body.slice(0, 300)}`);
  }
  return res;
}

const chat = (model, extra = {}) =>
  JSON.stringify({ model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Say hello to the on-call engineer.' }], max_tokens: 32, ...extra });

async function mixed(port, adminPort, rounds) {
  for (let i = 0; i < rounds; i++) {
    const user = { ...auth, 'x-user-id': `user-${i % 16}@example.com` };
    await expect(port, 200, { method: 'POST', path: '/v1/chat/completions', headers: user,
      body: chat('stream-fast', { stream: true, stream_options: { include_usage: true } }) });
    await expect(port, 200, { method: 'POST', path: '/v1/chat/completions', headers: user,
      body: chat('stream-fast', { stream: true }) });
    await expect(port, 200, { method: 'POST', path: '/openai/deployments/stream-fast/chat/completions?api-version=2024-10-21',
      headers: { 'api-key': CLIENT_KEY, 'content-type': 'application/json' }, body: chat('ignored') });
    await expect(port, 200, { method: 'POST', path: '/v1/embeddings', headers: user,
      body: JSON.stringify({ model: 'stream-fast', input: ['runbook CI-7', 'billing on-call rota'] }) });
    await expect(port, 200, { method: 'POST', path: '/v1/responses', headers: user,
      body: JSON.stringify({ model: 'stream-fast', instructions: 'Be brief.', input: 'Which runbook covers flaky stages?' }) });
    await expect(port, 401, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: chat('gpt-4o') });
    await expect(port, 401, { method: 'POST', path: '/v1/chat/completions', headers: { ...auth, authorization: 'Bearer sk-wrong' }, body: chat('gpt-4o') });
    await expect(port, 400, { method: 'POST', path: '/v1/chat/completions', headers: auth, body: '{"model": "gpt-4o", "messages": [' });
    await expect(port, 404, { method: 'POST', path: '/v1/no-such-operation', headers: auth, body: chat('gpt-4o') });
    await expect(port, 405, { method: 'GET', path: '/v1/chat/completions', headers: auth });
    if (i % 10 === 0) {
      await expect(adminPort, 200, { path: '/metrics' });
      await expect(adminPort, 200, { path: '/healthz' });
    }
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-pgo-'));
  try {
    const { child: up, port: upPort } = await P.startStaticUpstream(tmp);
    const mockReady = path.join(tmp, 'mock.ready');
    const mock = P.start('mock-llm', o.bin, ['mock-llm', '--listen', '127.0.0.1:0', '--ready-file', mockReady, '--tokens-per-second', '0'],
      { stderrFile: path.join(tmp, 'mock.log') });
    const mockPort = (await P.waitReadyFile(mockReady, mock)).port;
    const conf = path.join(tmp, 'gateway.yaml');
    fs.writeFileSync(conf, spillwayConf(tmp, upPort, mockPort, mockPort, os.cpus().length));
    const ready = path.join(tmp, 'ready.json');
    const sw = P.start('spillway', o.bin, ['serve', '--config', conf, '--ready-file', ready, '--log-level', 'warn'],
      { env: SPILLWAY_ENV, stdoutFile: '/dev/null', stderrFile: path.join(tmp, 'spillway.log') });
    const ports = await P.waitReadyFile(ready, sw, 60000);

    await mixed(ports.port, ports.admin_port, 100);
    const many = P.wrkChat(ports.port, 64, o.seconds);
    const one = P.wrkChat(ports.port, 1, Math.max(1, Math.round(o.seconds / 4)));
    await mixed(ports.port, ports.admin_port, 20);
    for (const [name, w] of [['64 connections', many], ['1 connection', one]]) {
      const errors = w.err_connect + w.err_read + w.err_write + w.err_status + w.err_timeout;
      if (w.requests === 0 || errors > 0) throw new Error(`wrk at ${name}: ${w.requests} requests, ${errors} errors`);
      console.log(`pgo_train: ${w.requests} chat requests at ${name}`);
    }

    await P.stop(sw, 30000);
    const { code, signal } = await sw.exited;
    if (code !== 0) throw new Error(`spillway exited with ${signal || code} (see ${tmp}/spillway.log)`);
    await P.stop(mock);
    await P.stop(up);
    console.log('pgo_train: done; the gateway exited cleanly and wrote its profile');
  } finally {
    await P.stopAll();  // after a failure: nothing is left running
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`pgo_train: ${e.message}`);
  process.exit(1);
});
