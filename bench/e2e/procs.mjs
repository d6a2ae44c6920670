// Process helpers for bench/run: start and stop children, free ports, ready files, /proc accounting.
// Linux only (reads /proc). Every wait is bounded.

import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CLIENT_KEY, upstreamNginxConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// A port that was free a moment ago (nginx cannot listen on port 0 and report it).
export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const children = new Set();

// Starts `cmd args`; stdout/stderr go to files (never to our terminal: the access log is large).
export function start(name, cmd, args, { env, stdoutFile, stderrFile, cwd } = {}) {
  const out = stdoutFile ? fs.openSync(stdoutFile, 'a') : 'ignore';
  const err = stderrFile ? fs.openSync(stderrFile, 'a') : 'ignore';
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', out, err], cwd });
  child.benchName = name;
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  children.add(child);
  child.on('exit', () => children.delete(child));
  if (typeof out === 'number') fs.closeSync(out);
  if (typeof err === 'number') fs.closeSync(err);
  return child;
}

// SIGTERM, then SIGKILL after `graceMs`.
export async function stop(child, graceMs = 5000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(t);
}

export async function stopAll() {
  await Promise.all([...children].map((c) => stop(c)));
}

export async function waitReadyFile(file, child, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${child.benchName} exited (${child.exitCode}) before it was ready`);
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch {
      await sleep(50);
    }
  }
  throw new Error(`${child.benchName}: no ready file after ${timeoutMs} ms`);
}

export async function waitPort(port, child, timeoutMs = 15000) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`${child.benchName} exited (${child.exitCode})`);
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`port ${port} not listening after ${timeoutMs} ms`);
}

// nginx in the foreground with the config text `conf`, under `prefix` (created; its logs go there), once
// `port` listens.
export async function startNginx(name, prefix, conf, port) {
  fs.mkdirSync(prefix, { recursive: true });
  fs.writeFileSync(path.join(prefix, 'nginx.conf'), conf);
  const child = start(name, 'nginx',
    ['-p', prefix, '-e', `${prefix}/error.log`, '-c', `${prefix}/nginx.conf`, '-g', 'daemon off;'],
    { stderrFile: `${prefix}/stderr.log` });
  await waitPort(port, child);
  return child;
}

// The static upstream of bench/run (configs.mjs upstreamNginxConf: nginx answering a fixed chat completion)
// under `dir`/nginx-upstream, on a free port: { child, port }.
export async function startStaticUpstream(dir) {
  const port = await freePort();
  const prefix = path.join(dir, 'nginx-upstream');
  const child = await startNginx('nginx-upstream', prefix, upstreamNginxConf(prefix, port), port);
  return { child, port };
}

// wrk with e2e/chat.lua against the chat completions path of 127.0.0.1:port, waiting for it (the callers
// measure a process that is not this one): wrk's BENCHJSON summary.
export function wrkChat(port, conns, seconds, threads = 1, env = {}) {
  const out = execFileSync('wrk', ['-t', String(threads), '-c', String(conns), '-d', `${seconds}s`, '--timeout', '30s',
    '-s', path.join(here, 'chat.lua'), `http://127.0.0.1:${port}/v1/chat/completions`], {
    env: { ...process.env, BENCH_API_KEY: CLIENT_KEY, BENCH_BODY_FILE: path.join(here, 'chat-body.json'), ...env },
    timeout: (seconds + 60) * 1000,
  }).toString();
  const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
  if (!line) throw new Error(`wrk: ${out}`);
  return JSON.parse(line.slice(10));
}

// wrk with e2e/chat.lua against `url`, not waiting: resolves wrk's BENCHJSON summary plus `rps` and
// `errors` (the sum of wrk's error counts); rejects when wrk fails or prints no summary.
export function runWrk(url, conns, seconds, env) {
  const threads = Math.min(conns, 2);
  const args = ['-t', String(threads), '-c', String(conns), '-d', `${seconds}s`, '--timeout', '10s', '-s',
    path.join(here, 'chat.lua'), url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    // 'close', not 'exit': the process can exit before its output has been read to the end.
    child.on('close', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').find((l) => l.startsWith('BENCHJSON '));
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${out.slice(0, 500)}`));
      const r = JSON.parse(line.slice('BENCHJSON '.length));
      r.rps = r.requests / (r.duration_us / 1e6);
      r.errors = r.err_connect + r.err_read + r.err_write + r.err_status + r.err_timeout;
      resolve(r);
    });
  });
}

// Direct children of `pid` (nginx workers of a master).
export function childPids(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      // raced with an exit
    }
  }
  return out;
}

// CPU seconds (user + system) of `pids` so far.
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);  // utime, stime (fields 14 and 15 of proc(5))
    } catch {
      // gone
    }
  }
  return ticks / CLK_TCK;
}

// Sum of a /proc/<pid>/status field (kB) over `pids`, in MiB.
export function statusMiB(pids, field) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
      if (m) kb += Number(m[1]);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

// One HTTP request, bounded by `timeoutMs`; resolves {status, headers, body}.
export function request(port, { method = 'GET', path = '/', headers = {}, body, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

export function loadAverage() {
  try {
    return fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}
