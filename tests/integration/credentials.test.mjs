// Backend credentials from token endpoints: Azure managed identity (IMDS and the App Service variant) and
// Entra ID client credentials, against a fake token endpoint served by this test on 127.0.0.1. Checks the
// token requests, that backends get `authorization: Bearer <token>`, one fetch for many concurrent
// requests, proactive refresh, 502 credential_unavailable when no token can be had, and no token or secret
// in the gateway's output.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import nodeHttp from 'node:http';
import { after, before, describe, test } from 'node:test';

import { closedPort, delay, http, startGateway, startMock, waitFor } from './lib/harness.mjs';
import { assertErrorBody, assertNoSecrets } from './lib/stack.mjs';

const CLIENT_ID = '7d1e2c3b-4a5f-4e6d-8c7b-9a0f1e2d3c4b';
const COGNITIVE = 'https://cognitiveservices.azure.com/';
const FOUNDRY = 'https://ai.azure.com/';

function token(label) {
  return `${label}.${randomBytes(18).toString('base64url')}`;
}

// A fake token endpoint. `respond(req, body)` returns {status, json}; every request is recorded as
// {method, path, query (URLSearchParams), headers, body, at}.
async function startTokenEndpoint(respond) {
  const requests = [];
  const server = nodeHttp.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const url = new URL(req.url, 'http://127.0.0.1');
      const entry = { method: req.method, path: url.pathname, query: url.searchParams, headers: req.headers, body, at: Date.now() };
      requests.push(entry);
      const { status = 200, json } = respond(entry, requests.length);
      const text = JSON.stringify(json);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

function gatewayConfig(mockUrl, auth, { kind = 'openai' } = {}) {
  return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, workers: 2,
          timeouts: { connect: 1s, first_byte: 5s, idle: 5s, total: 15s, drain: 2s } }
backends:
  mi: { url: ${mockUrl}, kind: ${kind}, auth: ${auth} }
pools:
  gpt-mini: { members: [ { backend: mi, model: gpt-4o-mini-2024, deployment: gpt-dep } ] }
`;
}

function chat(gw, marker = 'hi') {
  return http(`${gw.url}/v1/chat/completions`, {
    body: { model: 'gpt-mini', messages: [{ role: 'user', content: marker }], max_tokens: 3 },
  });
}

// Everything the gateway printed (access log and stderr), after it stopped.
function gatewayOutput(gw) {
  return `${gw.accessLog().map((l) => JSON.stringify(l)).join('\n')}\n${gw.nonJsonStdout().join('\n')}\n${gw.stderr()}`;
}

function assertNotIn(text, secrets, what) {
  for (const s of secrets) assert.ok(!text.includes(s), `${what} must not contain a token or secret`);
}

// The authorization headers the mock received for requests whose body contains `marker`.
async function authorizationsFor(mock, marker) {
  const reqs = (await mock.requests()).filter((r) => typeof r.body === 'string' && r.body.includes(marker));
  return reqs.map((r) => r.headers.authorization);
}

describe('managed identity (IMDS)', () => {
  const issued = token('imds');
  let tokens;
  let mock;
  let gw;

  before(async () => {
    tokens = await startTokenEndpoint(() => ({
      json: { access_token: issued, expires_in: '3599', expires_on: String(Math.floor(Date.now() / 1000) + 3599), token_type: 'Bearer', resource: COGNITIVE },
    }));
    mock = await startMock({ name: 'mock-mi', apiKey: issued });
    const auth = `{ managed_identity: { client_id: "${CLIENT_ID}", resource: "${COGNITIVE}",
                    endpoint: "${tokens.url}/metadata/identity/oauth2/token" } }`;
    gw = await startGateway({ config: gatewayConfig(mock.url, auth) });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await tokens?.close();
  });

  test('many concurrent requests: one token request, every backend call carries the token', async () => {
    const marker = `conc-${randomBytes(6).toString('hex')}`;
    const results = await Promise.all(Array.from({ length: 24 }, () => chat(gw, marker)));
    for (const r of results) {
      assert.equal(r.status, 200, r.text);
      assertNoSecrets(r, [issued]);
    }
    assert.equal(tokens.requests.length, 1, 'exactly one token fetch');
    const auths = await authorizationsFor(mock, marker);
    assert.equal(auths.length, 24);
    for (const a of auths) assert.equal(a, `Bearer ${issued}`);
  });

  test('the IMDS request: GET, Metadata: true, api-version, resource, client_id', () => {
    const [req] = tokens.requests;
    assert.equal(req.method, 'GET');
    assert.equal(req.path, '/metadata/identity/oauth2/token');
    assert.equal(req.headers.metadata, 'true');
    assert.equal(req.query.get('api-version'), '2018-02-01');
    assert.equal(req.query.get('resource'), COGNITIVE);
    assert.equal(req.query.get('client_id'), CLIENT_ID);
    assert.equal(req.headers['x-identity-header'], undefined);
  });

  test('the token never appears in the gateway output', async () => {
    await gw.stop();
    assertNotIn(gatewayOutput(gw), [issued], 'gateway stdout/stderr');
    assert.match(gw.stderr(), /managed identity token obtained/);
  });
});

describe('managed identity refresh', () => {
  let tokens;
  let mock;
  let gw;
  const issued = [];

  before(async () => {
    // Every answer is a new token valid for 3 s: the refresh margin is min(5 min, 1.5 s).
    tokens = await startTokenEndpoint((req, n) => {
      const t = token(`short${n}`);
      issued.push(t);
      return { json: { access_token: t, expires_in: 3, token_type: 'Bearer' } };
    });
    mock = await startMock({ name: 'mock-refresh' });
    const auth = `{ managed_identity: { client_id: "${CLIENT_ID}", resource: "${FOUNDRY}",
                    endpoint: "${tokens.url}/metadata/identity/oauth2/token" } }`;
    gw = await startGateway({ config: gatewayConfig(mock.url, auth) });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await tokens?.close();
  });

  test('a request inside the refresh window refreshes in the background; later requests use the new token', async () => {
    const m1 = `r1-${randomBytes(6).toString('hex')}`;
    assert.equal((await chat(gw, m1)).status, 200);
    assert.equal(tokens.requests.length, 1);
    assert.equal(tokens.requests[0].query.get('resource'), FOUNDRY);
    assert.deepEqual(await authorizationsFor(mock, m1), [`Bearer ${issued[0]}`]);

    // Past half the lifetime (1.5 s) but before expiry (3 s): still the first token, and a refresh starts.
    const wait = tokens.requests[0].at + 1700 - Date.now();
    if (wait > 0) await delay(wait);
    const m2 = `r2-${randomBytes(6).toString('hex')}`;
    const r2 = await chat(gw, m2);
    assert.equal(r2.status, 200);
    assert.ok(Date.now() < tokens.requests[0].at + 2900, 'the test machine was too slow to check the window');
    assert.deepEqual(await authorizationsFor(mock, m2), [`Bearer ${issued[0]}`]);
    await waitFor(() => tokens.requests.length >= 2, { timeoutMs: 5000, what: 'the background token refresh' });
    assert.equal(tokens.requests.length, 2, 'one refresh');

    const m3 = `r3-${randomBytes(6).toString('hex')}`;
    await waitFor(async () => (await chat(gw, m3)).status === 200, { timeoutMs: 3000, what: 'a request after the refresh' });
    const auths = await authorizationsFor(mock, m3);
    assert.ok(auths.length >= 1);
    for (const a of auths) assert.equal(a, `Bearer ${issued[1]}`);
  });

  test('no token appears in the gateway output', async () => {
    await gw.stop();
    assertNotIn(gatewayOutput(gw), issued, 'gateway stdout/stderr');
  });
});

describe('managed identity on App Service (IDENTITY_ENDPOINT, IDENTITY_HEADER)', () => {
  const issued = token('appsvc');
  const identityHeader = `idh-${randomBytes(12).toString('hex')}`;
  let tokens;
  let mock;
  let gw;

  before(async () => {
    tokens = await startTokenEndpoint((req) => {
      if (req.headers['x-identity-header'] !== identityHeader) return { status: 400, json: { error: 'bad_header' } };
      // App Service answers with expires_on (epoch seconds, as a string) and no expires_in.
      return { json: { access_token: issued, expires_on: String(Math.floor(Date.now() / 1000) + 3600), resource: COGNITIVE, token_type: 'Bearer', client_id: CLIENT_ID } };
    });
    mock = await startMock({ name: 'mock-appsvc', apiKey: issued });
    gw = await startGateway({
      config: gatewayConfig(mock.url, `{ managed_identity: { client_id: "${CLIENT_ID}" } }`),
      env: { IDENTITY_ENDPOINT: `${tokens.url}/msi/token`, IDENTITY_HEADER: identityHeader },
    });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await tokens?.close();
  });

  test('the App Service request and the backend call', async () => {
    const r = await chat(gw);
    assert.equal(r.status, 200, r.text);
    assert.equal(tokens.requests.length, 1);
    const [req] = tokens.requests;
    assert.equal(req.method, 'GET');
    assert.equal(req.path, '/msi/token');
    assert.equal(req.headers['x-identity-header'], identityHeader);
    assert.equal(req.headers.metadata, undefined);
    assert.equal(req.query.get('api-version'), '2019-08-01');
    assert.equal(req.query.get('resource'), COGNITIVE);
    assert.equal(req.query.get('client_id'), CLIENT_ID);
    assertNoSecrets(r, [issued, identityHeader]);
  });

  test('neither the token nor IDENTITY_HEADER appears in the gateway output', async () => {
    await gw.stop();
    assertNotIn(gatewayOutput(gw), [issued, identityHeader], 'gateway stdout/stderr');
  });
});

describe('client credentials', () => {
  const issued = token('cc');
  const clientSecret = `s3cr+t/=&x y~${randomBytes(10).toString('hex')}`;
  let tokens;
  let mock;
  let gw;

  before(async () => {
    tokens = await startTokenEndpoint(() => ({
      json: { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: issued },
    }));
    mock = await startMock({ name: 'mock-cc', apiKey: issued });
    const auth = `{ client_credentials: { tenant_id: contoso.onmicrosoft.com, client_id: "${CLIENT_ID}",
                    secret_env: CC_SECRET, resource: "${FOUNDRY}", authority: "${tokens.url}" } }`;
    gw = await startGateway({ config: gatewayConfig(mock.url, auth), env: { CC_SECRET: clientSecret } });
  });
  after(async () => {
    await gw?.stop();
    await mock?.stop();
    await tokens?.close();
  });

  test('POSTs the form-encoded grant and the backend gets the token', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => chat(gw)));
    for (const r of results) {
      assert.equal(r.status, 200, r.text);
      assertNoSecrets(r, [issued, clientSecret]);
    }
    assert.equal(tokens.requests.length, 1);
    const [req] = tokens.requests;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/contoso.onmicrosoft.com/oauth2/v2.0/token');
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.body);
    assert.equal(form.get('grant_type'), 'client_credentials');
    assert.equal(form.get('client_id'), CLIENT_ID);
    assert.equal(form.get('client_secret'), clientSecret);
    assert.equal(form.get('scope'), `${FOUNDRY}.default`);
  });

  test('neither the token nor the client secret appears in the gateway output', async () => {
    await gw.stop();
    assertNotIn(gatewayOutput(gw), [issued, clientSecret], 'gateway stdout/stderr');
  });
});

describe('no token to be had', () => {
  const clientSecret = `cc-secret-${randomBytes(10).toString('hex')}`;
  let tokens;
  let mock;

  before(async () => {
    tokens = await startTokenEndpoint(() => ({
      status: 401,
      json: { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret ${clientSecret}` },
    }));
    mock = await startMock({ name: 'mock-none' });
  });
  after(async () => {
    await mock?.stop();
    await tokens?.close();
  });

  test('token endpoint down -> 502 credential_unavailable, nothing sent to the backend', async () => {
    const port = await closedPort();
    const auth = `{ managed_identity: { client_id: "${CLIENT_ID}", endpoint: "http://127.0.0.1:${port}/metadata/identity/oauth2/token" } }`;
    const gw = await startGateway({ config: gatewayConfig(mock.url, auth) });
    try {
      const marker = `down-${randomBytes(6).toString('hex')}`;
      for (let i = 0; i < 3; i++) {
        const r = await chat(gw, marker);
        assertErrorBody(r, { status: 502 });
        assert.equal(r.headers['x-spillway-attempts'], 'mi:credential_unavailable');
        assert.ok(!r.text.includes(`${port}`), 'no address in the response');
      }
      assert.equal((await authorizationsFor(mock, marker)).length, 0);
    } finally {
      await gw.stop();
    }
    assert.match(gw.stderr(), /managed identity token request .*failed: connect_refused/);
  });

  test('token endpoint refuses (401) -> 502, the status is logged, no secret anywhere', async () => {
    const auth = `{ client_credentials: { tenant_id: t1, client_id: "${CLIENT_ID}", secret_env: CC_SECRET,
                    authority: "${tokens.url}" } }`;
    const gw = await startGateway({ config: gatewayConfig(mock.url, auth), env: { CC_SECRET: clientSecret } });
    let r;
    try {
      r = await chat(gw);
    } finally {
      await gw.stop();
    }
    assertErrorBody(r, { status: 502 });
    assert.equal(r.headers['x-spillway-attempts'], 'mi:credential_unavailable');
    assertNoSecrets(r, [clientSecret]);
    assert.equal(tokens.requests.length, 1);
    assert.match(gw.stderr(), /client credentials token request .*failed: HTTP 401 \(invalid_client\)/);
    assertNotIn(gatewayOutput(gw), [clientSecret], 'gateway stdout/stderr');
  });
});
