// The standard test topology: two mocks (an Azure OpenAI one and an OpenAI one, each requiring its own
// backend key) behind one gateway, with the contract's config. Secrets are random per run so a leak
// check is meaningful.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { findSecrets, startGateway, startMock } from './harness.mjs';

export function secret(label) {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

// Extra backends/pools are YAML lines (already indented by two spaces) appended to their sections; `sections`
// are top-level YAML sections appended at the end; `product` names team-a's product; `workers` sets
// server.workers.
export function gatewayConfig({
  azUrl,
  oaiUrl,
  maxBody = '64KiB',
  extraBackends = '',
  extraPools = '',
  timeouts,
  workers,
  product,
  sections = '',
} = {}) {
  const t = timeouts || '{ connect: 1s, first_byte: 1s, idle: 1s, total: 10s, drain: 5s }';
  return `server: { listen: 127.0.0.1:0, admin_listen: 127.0.0.1:0, ${workers ? `workers: ${workers}, ` : ''}max_body: ${maxBody},
          timeouts: ${t} }
backends:
  az:  { url: ${azUrl}, kind: azure-openai, auth: { api_key_env: AZ_KEY } }
  oai: { url: ${oaiUrl}, kind: openai, auth: { bearer_env: OAI_KEY } }
${extraBackends}pools:
  gpt-4o:  { members: [ { backend: az, deployment: gpt-4o-dep } ] }
  gpt-mini: { members: [ { backend: oai, model: gpt-4o-mini-2024 } ] }
${extraPools}apis:
  - { name: foundry, prefix: /foundry, shape: azure-openai }
  - { name: openai,  prefix: /openai,  shape: openai }
subscriptions:
  team-a: { key_env: TEAM_A_KEY, ${product ? `product: ${product}, ` : ''}tags: { team: a } }
${sections}`;
}

// Starts mocks A (azure, name "mock-az") and B (openai, name "mock-oai") and a gateway.
// `setup(stack)` runs after the two mocks started (e.g. to start more) and may return
// {extraBackends, extraPools, workers, product, sections, env} for the config and the gateway's environment;
// the values of `env` count among stack.keys and stack.secrets.
export async function startStack({ mockOptions = {}, setup, maxBody, timeouts } = {}) {
  const keys = { AZ_KEY: secret('az'), OAI_KEY: secret('oai'), TEAM_A_KEY: secret('team-a') };
  const stack = { keys, secrets: Object.values(keys), mocks: [], gateway: null };
  stack.stop = async () => {
    const all = [];
    if (stack.gateway) all.push(stack.gateway.stop());
    for (const m of stack.mocks) all.push(m.stop());
    await Promise.allSettled(all);
  };
  try {
    stack.az = await startMock({ name: 'mock-az', apiKey: keys.AZ_KEY, ...mockOptions });
    stack.mocks.push(stack.az);
    stack.oai = await startMock({ name: 'mock-oai', apiKey: keys.OAI_KEY, ...mockOptions });
    stack.mocks.push(stack.oai);
    const extra = setup ? await setup(stack) : {};
    const config = gatewayConfig({ azUrl: stack.az.url, oaiUrl: stack.oai.url, maxBody, timeouts, ...extra });
    stack.config = config;
    Object.assign(keys, extra.env || {});
    stack.secrets = Object.values(keys);
    stack.gateway = await startGateway({ config, env: keys });
    stack.gw = stack.gateway;
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

// Asserts the OpenAI error shape {"error":{"message","type","code","param"}}.
export function assertErrorBody(res, { status, code } = {}) {
  if (status !== undefined) assert.equal(res.status, status, `status; body: ${res.text ?? res.body}`);
  const body = res.json;
  assert.ok(body && typeof body === 'object', `error body is JSON: ${res.text ?? res.body}`);
  assert.ok(body.error && typeof body.error === 'object', `has "error" object: ${res.text ?? res.body}`);
  for (const f of ['message', 'type', 'code', 'param']) {
    assert.ok(f in body.error, `error.${f} present: ${res.text ?? res.body}`);
  }
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0, 'error.message is not empty');
  assert.equal(typeof body.error.type, 'string');
  assert.ok(body.error.type.length > 0, 'error.type is not empty');
  if (code !== undefined) assert.equal(body.error.code, code, `error.code; body: ${res.text ?? res.body}`);
}

// Asserts that no configured secret appears in a response's headers or body.
export function assertNoSecrets(res, secrets) {
  const hdrs = Object.entries(res.headers || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  const text = `${hdrs}\n\n${res.text ?? res.body ?? ''}`;
  assert.deepEqual(findSecrets(text, secrets), [], 'no secret in response headers or body');
}

export function authHeaders(stack, extra = {}) {
  return { 'api-key': stack.keys.TEAM_A_KEY, ...extra };
}

// The recorded requests at `mock` whose body contains `marker`.
export async function requestsWith(mock, marker) {
  return (await mock.requests()).filter((r) => typeof r.body === 'string' && r.body.includes(marker));
}
