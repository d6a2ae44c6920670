// bench/run's `portkey` target: the Portkey AI gateway from npm (bench/portkey, installed by scripts/setup),
// started by bench/portkey/serve.mjs on loopback, forwarding a chat completion to the real mock-llm. And
// bench/portkey/loopback.mjs, which keeps it there: it listens on 127.0.0.1 only and connects nowhere else.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { canConnect, closedPort, http, repoRoot, startMock, waitFor } from './lib/harness.mjs';

const portkeyDir = path.join(repoRoot, 'bench', 'portkey');
const installed = fs.existsSync(path.join(portkeyDir, 'node_modules', '@portkey-ai', 'gateway', 'package.json'));

describe('bench/portkey: the Portkey gateway on loopback', () => {
  let mock;
  let portkey;
  let port;
  let log = '';

  before(async () => {
    assert.ok(installed, 'bench/portkey/node_modules is missing: run scripts/setup');
    mock = await startMock();
    port = await closedPort();
    portkey = spawn(process.execPath, [path.join(portkeyDir, 'serve.mjs'), '--port', String(port)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    portkey.stdout.on('data', (d) => (log += d));
    portkey.stderr.on('data', (d) => (log += d));
    await waitFor(() => canConnect(port), {
      timeoutMs: 20000,
      intervalMs: 100,
      what: `portkey on ${port}\n${log}`,
    });
  });
  after(async () => {
    if (portkey && portkey.exitCode === null) {
      const exited = new Promise((resolve) => portkey.once('exit', resolve));
      process.kill(portkey.pid, 'SIGTERM');
      await exited;
    }
    await mock?.stop();
  });

  const portkeyHeaders = (customHost) => ({
    'x-portkey-provider': 'openai',
    'x-portkey-custom-host': customHost,
    authorization: 'Bearer sk-bench-portkey-test',
  });

  test('forwards a chat completion to the upstream a request names, and answers with its body', async () => {
    const marker = `portkey-${Date.now()}`;
    const r = await http(`http://127.0.0.1:${port}/v1/chat/completions`, {
      headers: portkeyHeaders(`${mock.url}/v1`),
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: marker }] },
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.object, 'chat.completion');
    assert.ok(r.json.usage.prompt_tokens > 0, r.text);
    const seen = (await mock.requests()).filter((q) => q.body.includes(marker));
    assert.equal(seen.length, 1);
    assert.equal(seen[0].target, '/v1/chat/completions');
    assert.equal(seen[0].headers.authorization, 'Bearer sk-bench-portkey-test');
  });

  test('listens on 127.0.0.1 only: another loopback address is refused', async () => {
    assert.equal(await canConnect(port), true);
    // A server bound to every interface would take this one too.
    assert.equal(await canConnect(port, { host: '127.0.0.2' }), false);
  });

  test('connects to loopback only: an upstream elsewhere fails inside the process, before any lookup', async () => {
    const r = await http(`http://127.0.0.1:${port}/v1/chat/completions`, {
      headers: portkeyHeaders('http://upstream.example.com/v1'),
      body: { model: 'gpt-4o', messages: [{ role: 'user', content: 'elsewhere' }] },
    });
    assert.equal(r.status, 500, r.text);
    assert.match(r.text, /loopback only: refused a connection to upstream\.example\.com:80/);
  });
});

describe('bench/portkey/loopback.mjs', () => {
  test('binds every listen form to 127.0.0.1 and refuses connections elsewhere', async () => {
    // In a child process: the patch must not touch this test runner's own sockets.
    const script = `
      import '${path.join(portkeyDir, 'loopback.mjs')}';
      import net from 'node:net';
      const listenAt = (...args) => new Promise((resolve) => {
        const s = net.createServer();
        s.listen(...args, () => { const a = s.address(); s.close(); resolve(a.address); });
      });
      const connectTo = (...args) => new Promise((resolve) => {
        const c = net.connect(...args);
        c.on('connect', () => { c.destroy(); resolve('connected'); });
        c.on('error', (e) => resolve(e.code));
      });
      const out = {
        portOnly: await listenAt(0),
        allInterfaces: await listenAt(0, '0.0.0.0'),
        options: await listenAt({ port: 0, host: '::' }),
        // Not loopback by address or by name (were the guard off: 0.0.0.0 is this host, .invalid never resolves).
        remote: await connectTo(9, '0.0.0.0'),
        remoteOptions: await connectTo({ port: 443, host: 'upstream.invalid' }),
        loopback: await connectTo(${await closedPort()}, '127.0.0.1'),
      };
      console.log(JSON.stringify(out));
    `;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 15000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
      );
    });
    assert.deepEqual(JSON.parse(out), {
      portOnly: '127.0.0.1',
      allInterfaces: '127.0.0.1',
      options: '127.0.0.1',
      remote: 'ELOOPBACKONLY',
      remoteOptions: 'ELOOPBACKONLY',
      loopback: 'ECONNREFUSED', // let through: nothing listens there
    });
  });
});
