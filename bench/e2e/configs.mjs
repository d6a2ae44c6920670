// Configurations bench/run starts: the static nginx upstream, nginx as a reverse proxy, Spillway with the
// default policies on. Shared by run.mjs and callgrind.mjs.

// A fixed, realistic chat completion (what the static upstream answers).
export const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench0000000000000000000001',
  object: 'chat.completion',
  created: 1735689600,
  model: 'gpt-4o-2024-08-06',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content:
          'Use runbook CI-7 (flaky integration stages). Billing on-call this week is the payments rota. ' +
          'A repeated timeout at the same step is an incident only if it blocks a release; open a ticket.',
        refusal: null,
      },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: {
    prompt_tokens: 212,
    completion_tokens: 48,
    total_tokens: 260,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  system_fingerprint: 'fp_bench',
});

export const CLIENT_KEY = 'sk-bench-client-0123456789abcdef';
export const USER_HASH_KEY = 'bench-user-hash-key-0123456789abcdef';

function nginxCommon(prefix) {
  const user = process.getuid && process.getuid() === 0 ? 'user root root;\n' : '';
  return (
    user +
    `pid ${prefix}/nginx.pid;\nerror_log ${prefix}/error.log warn;\n` +
    `worker_rlimit_nofile 8192;\n`
  );
}

function nginxTemps(prefix) {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${prefix}/${t}_temp;\n`)
    .join('');
}

export function upstreamNginxConf(prefix, port) {
  const escaped = COMPLETION.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return (
    nginxCommon(prefix) +
    `worker_processes 1;\nevents { worker_connections 4096; }\n` +
    `http {\n${nginxTemps(prefix)}  access_log off;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n` +
    `  server {\n    listen 127.0.0.1:${port} reuseport;\n` +
    `    location / {\n      default_type application/json;\n      return 200 '${escaped}';\n    }\n  }\n}\n`
  );
}

export function proxyNginxConf(prefix, port, upstreamPort, workers) {
  return (
    nginxCommon(prefix) +
    `worker_processes ${workers};\nevents { worker_connections 4096; }\n` +
    `http {\n${nginxTemps(prefix)}` +
    `  access_log ${prefix}/access.log combined;  # Debian's default: one line per request\n` +
    `  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n` +
    `  upstream backend {\n    server 127.0.0.1:${upstreamPort};\n    keepalive 64;\n    keepalive_requests 1000000;\n  }\n` +
    `  server {\n    listen 127.0.0.1:${port} reuseport;\n` +
    `    location / {\n      proxy_pass http://backend;\n      proxy_http_version 1.1;\n` +
    `      proxy_set_header Connection "";\n    }\n  }\n}\n`
  );
}

// nginx as a streaming reverse proxy for the streaming figures: one server per mock-llm (paced, fast),
// upstream keepalive as above, and proxy_buffering off so that every event is passed on when it arrives
// (nginx's documented setting for server-sent events).
export function streamNginxConf(prefix, listens, workers) {
  const servers = listens.map(({ port, upstreamPort }, i) =>
    `  upstream mock${i} {\n    server 127.0.0.1:${upstreamPort};\n    keepalive 16;\n  }\n` +
    `  server {\n    listen 127.0.0.1:${port} reuseport;\n` +
    `    location / {\n      proxy_pass http://mock${i};\n      proxy_http_version 1.1;\n` +
    `      proxy_set_header Connection "";\n      proxy_buffering off;\n    }\n  }\n`).join('');
  return (
    nginxCommon(prefix) +
    `worker_processes ${workers};\nevents { worker_connections 4096; }\n` +
    `http {\n${nginxTemps(prefix)}` +
    `  access_log ${prefix}/access.log combined;\n  keepalive_requests 1000000;\n  keepalive_timeout 300s;\n` +
    servers + `}\n`
  );
}

// usageLog false: the same gateway without the SQLite usage log (bench/run --nolog); estimate false: its token
// limit without the prompt estimate (bench/run --noest, reservations from max_tokens only): what each costs.
export function spillwayConf(dir, upstreamPort, pacedPort, fastPort, workers, usageLog = true, estimate = true) {
  return `# bench/run: Spillway with the default policies on.
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  workers: ${workers}
state: { store: memory }
${usageLog ? `usage_log: { sqlite: ${dir}/usage.db }\n` : ''}identity:
  user_id: [ "header:x-user-id" ]
  user_hash_key_env: BENCH_USER_HASH_KEY
backends:
  upstream: { url: http://127.0.0.1:${upstreamPort}, kind: openai, auth: { bearer_env: BENCH_BACKEND_KEY } }
  paced:    { url: http://127.0.0.1:${pacedPort}, kind: openai, auth: { bearer_env: BENCH_BACKEND_KEY } }
  fast:     { url: http://127.0.0.1:${fastPort}, kind: openai, auth: { bearer_env: BENCH_BACKEND_KEY } }
pools:
  gpt-4o:        { members: [ { backend: upstream } ] }
  stream-paced:  { members: [ { backend: paced } ] }
  stream-fast:   { members: [ { backend: fast } ] }
subscriptions:
  bench: { key_env: BENCH_CLIENT_KEY, product: standard, tags: { team: bench } }
products:
  standard:
    token_limit: { counter: subscription, tokens_per_minute: 1000000000000, estimate_prompt_tokens: ${estimate} }
policies:
  token_metrics: { dimensions: [api, operation, deployment, backend, subscription, user_hash] }
`;
}

// The same gateway with no policies (bench/run --bare): no client keys, no token limit, no token metrics'
// dimensions, no usage log; what is left is the proxy itself (routing, the request's JSON read for its model,
// the backend's key, the usage read from the answer, the request metrics and the access log). Against the
// full config it shows what the default policies cost; against nginx, what the proxy costs.
export function spillwayBareConf(upstreamPort, workers) {
  return `# bench/run --bare: Spillway with no policies.
server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  workers: ${workers}
state: { store: memory }
backends:
  upstream: { url: http://127.0.0.1:${upstreamPort}, kind: openai, auth: { bearer_env: BENCH_BACKEND_KEY } }
pools:
  gpt-4o: { members: [ { backend: upstream } ] }
`;
}

export const SPILLWAY_ENV = { BENCH_CLIENT_KEY: CLIENT_KEY, BENCH_USER_HASH_KEY: USER_HASH_KEY, BENCH_BACKEND_KEY: 'sk-backend' };
