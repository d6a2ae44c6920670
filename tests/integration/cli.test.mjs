// The command line: `check` on good and bad configs, `serve` refusing a bad config, and `demo` (the
// README's first command) serving real requests on its simulated backends.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';

import { binPath, http, makeTempDir, parseSse, repoRoot, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

// Runs the binary to completion (bounded); resolves {code, stdout, stderr}.
function runBin(args, env = {}) {
  return new Promise((resolve) => {
    execFile(binPath(), args, { env: { ...process.env, ...env }, timeout: 20000 }, (err, stdout, stderr) => {
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

describe('spillway check', () => {
  test('accepts the example config when its environment variables are set', async () => {
    const env = {
      AZURE_PAYG_KEY: secret('az'),
      OPENAI_API_KEY: secret('oai'),
      TEAM_SEARCH_KEY: secret('search'),
      TEAM_CHAT_KEY: secret('chat'),
    };
    const r = await runBin(['check', '--config', path.join(repoRoot, 'examples', 'gateway.yaml')], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ok/);
    for (const v of Object.values(env)) assert.ok(!(r.stdout + r.stderr).includes(v), 'no secret printed');
  });

  test('reports every problem with its YAML path, exits 1, and prints no secret', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'bad.yaml');
    const hidden = secret('present');
    await fs.writeFile(file, `backends:
  a: { url: "ftp://nowhere", kind: openai, auth: { bearer_env: PRESENT_KEY } }
  b: { url: "http://127.0.0.1:1", kind: azure-openai, auth: { api_key_env: MISSING_KEY_FOR_TEST } }
pools:
  p: { members: [ { backend: nope } ] }
apis:
  - { name: x, prefix: /x, shape: grpc }
`);
    const r = await runBin(['check', '--config', file], { PRESENT_KEY: hidden });
    await fs.rm(dir, { recursive: true, force: true });
    assert.equal(r.code, 1, r.stderr);
    for (const p of ['backends.a.url', 'backends.b.auth.api_key_env', 'pools.p.members[0].backend', 'apis[0].shape']) {
      assert.ok(r.stderr.includes(p), `stderr names ${p}: ${r.stderr}`);
    }
    assert.match(r.stderr, /MISSING_KEY_FOR_TEST/);
    assert.ok(!r.stderr.includes(hidden), 'the value of a set variable is never printed');
  });

  test('serve refuses a bad config with exit 1', async () => {
    const dir = await makeTempDir();
    const file = path.join(dir, 'bad.yaml');
    await fs.writeFile(file, 'server: { listen: "not an address" }\n');
    const r = await runBin(['serve', '--config', file]);
    await fs.rm(dir, { recursive: true, force: true });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /server\.listen/);
  });

  test('unknown commands and missing arguments exit 2 with usage', async () => {
    assert.equal((await runBin(['frobnicate'])).code, 2);
    const r = await runBin(['serve']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--config/);
  });
});

describe('spillway version', () => {
  // The gateway binary links mimalloc unless its build turned it off (CMake option SPILLWAY_MIMALLOC, on by
  // default; off in sanitizer builds): the allocator line says which allocator actually serves malloc in
  // the running process, and it must be the one the build chose.
  test('prints the version, the build and the allocator in use', async () => {
    let expected = 'mimalloc';
    let buildType = null;
    let pgo = null;
    try {
      const cache = await fs.readFile(path.join(path.dirname(binPath()), 'CMakeCache.txt'), 'utf8');
      buildType = (/^CMAKE_BUILD_TYPE:STRING=(.*)$/m.exec(cache) || [])[1] ?? null;
      pgo = (/^SPILLWAY_PGO:STRING=(.*)$/m.exec(cache) || [])[1] || null;
      const off = /^SPILLWAY_MIMALLOC:BOOL=(OFF|FALSE|0|NO)$/im.test(cache);
      const sanitized = /^SPILLWAY_SANITIZE:STRING=\S/m.test(cache);
      if (off || sanitized) {
        expected = 'glibc malloc';
      }
    } catch {
      // No build cache beside the binary (an installed binary): the default build links mimalloc.
    }
    const r = await runBin(['version']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^spillway \d+\.\d+\.\d+\nbuild: \S/);
    const build = /\nbuild: (.+)\n/.exec(r.stdout)[1];
    // The build line starts with the build type the binary was configured with.
    if (buildType) assert.ok(build.startsWith(buildType), `build "${build}", expected ${buildType}`);
    assert.equal(build.includes('profile-guided'), pgo === 'use', `build "${build}", SPILLWAY_PGO ${pgo}`);
    const line = /\nallocator: (.+)\n$/.exec(r.stdout);
    assert.ok(line, r.stdout);
    assert.ok(line[1].startsWith(expected), `allocator "${line[1]}", expected ${expected}`);
    if (expected === 'mimalloc') {
      // Free pages go back to the kernel after a second unused, not mimalloc's 25 ms (src/app/main.cpp);
      // MIMALLOC_DECOMMIT_DELAY still overrides.
      assert.match(line[1], /^mimalloc \d+\.\d+\.\d+, decommit delay 1000 ms$/);
      const env = await runBin(['version'], { MIMALLOC_DECOMMIT_DELAY: '40' });
      assert.match(env.stdout, /\nallocator: mimalloc \d+\.\d+\.\d+, decommit delay 40 ms\n$/);
    }
  });
});

describe('spillway demo', () => {
  test('serves both API shapes on its simulated backends and stops on SIGTERM', async () => {
    const dir = await makeTempDir();
    const ready = path.join(dir, 'ready.json');
    const child = spawn(binPath(), ['demo', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--ready-file', ready], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.resume();
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      const info = await waitFor(
        async () => {
          try {
            return JSON.parse(await fs.readFile(ready, 'utf8'));
          } catch {
            return undefined;
          }
        },
        { timeoutMs: 10000, what: 'demo ready file' },
      );
      const base = `http://127.0.0.1:${info.port}`;
      const key = 'sk-spillway-demo';
      assert.ok(stdout.includes(key) && stdout.includes('curl'), 'prints the demo key and curl examples');

      const chat = await http(`${base}/v1/chat/completions`, {
        headers: { 'api-key': key },
        body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'hello demo' }] },
      });
      assert.equal(chat.status, 200, chat.text);
      assert.equal(chat.headers['x-spillway-backend'], 'ptu-sim');
      assert.equal(chat.json.object, 'chat.completion');
      // The demo's token limit speaks for the gateway: its header replaces the simulated deployment's own
      // x-ratelimit-remaining-tokens instead of appearing next to it.
      assert.match(chat.headers['x-ratelimit-remaining-tokens'], /^\d+$/);
      assert.ok(Number(chat.headers['x-ratelimit-remaining-tokens']) > 40000);
      assert.match(chat.headers['x-tokens-consumed'], /^\d+$/);

      const streamed = await http(`${base}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`, {
        headers: { 'api-key': key, 'x-mock-completion-tokens': '3' },
        body: { messages: [{ role: 'user', content: 'hi' }], stream: true },
      });
      assert.equal(streamed.status, 200, streamed.text);
      assert.equal(streamed.headers['x-spillway-backend'], 'payg-sim');
      const { data } = parseSse(streamed.text);
      assert.equal(data.at(-1), '[DONE]');
      assert.equal(data.length, 1 + 3 + 1 + 1, 'role chunk, 3 tokens, finish chunk, [DONE]; no usage chunk');

      const denied = await http(`${base}/v1/chat/completions`, {
        body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'x' }] },
      });
      assert.equal(denied.status, 401);

      const health = await http(`http://127.0.0.1:${info.admin_port}/healthz`, { method: 'GET' });
      assert.equal(health.status, 200);
    } finally {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      const result = await exited;
      clearTimeout(timer);
      await fs.rm(dir, { recursive: true, force: true });
      assert.equal(result.code, 0, 'demo exits 0 on SIGTERM');
    }
  });
});
