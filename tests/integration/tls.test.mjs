// HTTPS to backends: a real nginx (Debian's) terminates TLS on loopback with a throwaway certificate for
// "localhost" only, in front of a mock. The gateway must verify the chain and the host name (SNI), accept
// an extra CA from `ca_file`, and skip verification only with `tls_verify: false`.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { canConnect, closedPort, http, makeTempDir, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { secret } from './lib/stack.mjs';

const run = promisify(execFile);

describe('TLS to backends', () => {
  let dir;
  let mock;
  let nginx;
  let nginxExit;
  let tlsPort;
  let gateway;
  const keys = { BK: secret('backend'), CK: secret('client') };

  before(async () => {
    dir = await makeTempDir('spillway-tls-');
    await run('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=DNS:localhost', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
    ]);
    mock = await startMock({ name: 'tls-mock', apiKey: keys.BK });
    tlsPort = await closedPort();
    for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await fs.mkdir(path.join(dir, d));
    await fs.writeFile(path.join(dir, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${tlsPort} ssl;
    ssl_certificate ${dir}/cert.pem;
    ssl_certificate_key ${dir}/key.pem;
    location / { proxy_pass ${mock.url}; proxy_http_version 1.1; proxy_buffering off; }
  }
}
`);
    nginx = spawn('nginx', ['-c', path.join(dir, 'nginx.conf'), '-p', dir, '-e', path.join(dir, 'error.log')], {
      stdio: 'ignore',
    });
    nginxExit = new Promise((resolve) => nginx.once('exit', resolve));
    await waitFor(() => canConnect(tlsPort), { timeoutMs: 10000, what: 'nginx TLS listener' });

    const backend = (name, host, extra) =>
      `  ${name}: { url: "https://${host}:${tlsPort}", kind: openai, auth: { bearer_env: BK }${extra} }\n`;
    const config = `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0,
          timeouts: { connect: 2s, first_byte: 2s, idle: 2s, total: 5s, drain: 1s } }
backends:
${backend('trusted', 'localhost', `, ca_file: "${dir}/cert.pem"`)}${backend('untrusted', 'localhost', '')}${backend(
      'unverified', 'localhost', ', tls_verify: false')}${backend('wrong-name', '127.0.0.1', `, ca_file: "${dir}/cert.pem"`)}pools:
  trusted: { members: [ { backend: trusted } ] }
  untrusted: { members: [ { backend: untrusted } ] }
  unverified: { members: [ { backend: unverified } ] }
  wrong-name: { members: [ { backend: wrong-name } ] }
subscriptions:
  t: { key_env: CK }
`;
    gateway = await startGateway({ config, env: keys });
  });

  after(async () => {
    if (gateway) await gateway.stop();
    if (nginx && nginx.exitCode === null) {
      nginx.kill('SIGTERM');
      const timer = setTimeout(() => nginx.kill('SIGKILL'), 5000);
      await nginxExit;
      clearTimeout(timer);
    }
    if (mock) await mock.stop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const chat = (model) =>
    http(`${gateway.url}/v1/chat/completions`, {
      headers: { 'api-key': keys.CK },
      body: { model, messages: [{ role: 'user', content: `tls ${model}` }] },
    });

  test('a certificate that chains to ca_file and names the host is accepted', async () => {
    const res = await chat('trusted');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'trusted');
    assert.equal(res.json.usage.completion_tokens, 16);
    const seen = (await mock.requests()).filter((r) => r.body.includes('tls trusted'));
    assert.equal(seen.length, 1);
    assert.equal(seen[0].headers.authorization, `Bearer ${keys.BK}`);
  });

  test('an untrusted certificate is refused (verification is on by default)', async () => {
    const res = await chat('untrusted');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.headers['x-spillway-attempts'], 'untrusted:tls_failed');
    assert.equal((await mock.requests()).filter((r) => r.body.includes('tls untrusted')).length, 0);
  });

  test('a trusted certificate for another host name is refused', async () => {
    const res = await chat('wrong-name');
    assert.equal(res.status, 502, res.text);
    assert.equal(res.headers['x-spillway-attempts'], 'wrong-name:tls_failed');
  });

  test('tls_verify: false accepts any certificate', async () => {
    const res = await chat('unverified');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers['x-spillway-backend'], 'unverified');
  });

  test('a streamed response over TLS is relayed with its usage recorded', async () => {
    const res = await http(`${gateway.url}/v1/chat/completions`, {
      headers: { 'api-key': keys.CK, 'x-mock-completion-tokens': '5' },
      body: { model: 'trusted', stream: true, messages: [{ role: 'user', content: 'tls stream' }] },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers['content-type'], /^text\/event-stream/);
    assert.ok(res.text.trimEnd().endsWith('data: [DONE]'), res.text);
    const line = await gateway.waitForLog((l) => l.request_id === res.headers['x-request-id']);
    assert.equal(line.completion_tokens, 5);
    assert.equal(line.usage_source, 'backend');
  });
});
