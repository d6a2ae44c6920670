// Integration-test harness: starts the real `spillway` binaries on 127.0.0.1 (port 0, ports read from
// ready files), tracks every child process so it is stopped by pid (SIGTERM, then SIGKILL after 5 s),
// and offers HTTP helpers: fetch for ordinary requests, a raw node:net client for malformed requests and
// for reading a streamed response incrementally.

import { spawn } from 'node:child_process';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..', '..');

export function binPath() {
  return process.env.SPILLWAY_BIN || path.join(repoRoot, 'build', 'spillway');
}

// ---------------------------------------------------------------------------------------------------
// Waiting with a bound: never sleep and hope.

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Polls `check` every `intervalMs` until it returns a truthy value (returned), or throws after
// `timeoutMs` with `what` in the message. `check` may be async; exceptions count as "not yet", except
// those with a truthy `fatal` property, which end the wait at once.
export async function waitFor(check, { timeoutMs = 5000, intervalMs = 20, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      if (e && e.fatal) throw e; // the condition can never hold any more
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const detail = lastError ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await delay(intervalMs);
  }
}

export async function makeTempDir(prefix = 'spillway-it-') {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

// ---------------------------------------------------------------------------------------------------
// Child processes: every one is tracked; a safety net kills leftovers when the test process exits.

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

function track(args, { env, name, stdoutFd }) {
  const child = spawn(binPath(), args, {
    env: { ...process.env, ...(env || {}) },
    stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'],
  });
  const info = {
    child,
    name,
    exited: false,
    exitCode: null,
    exitSignal: null,
    spawnError: null,
    stderr: '',
    exitPromise: null,
  };
  liveChildren.add(child);
  info.exitPromise = new Promise((resolve) => {
    child.on('error', (err) => {
      info.spawnError = err;
      info.exited = true;
      liveChildren.delete(child);
      resolve({ code: null, signal: null, error: err });
    });
    // 'close' (not 'exit'): stdout and stderr are fully read by then, so the access log is complete.
    child.on('close', (code, signal) => {
      info.exited = true;
      info.exitCode = code;
      info.exitSignal = signal;
      liveChildren.delete(child);
      resolve({ code, signal });
    });
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d) => {
    info.stderr += d;
  });
  return info;
}

// Stops a tracked process by pid: `signal` (SIGTERM), then SIGKILL after `graceMs`. Resolves with
// {code, signal, killed} where killed says SIGKILL was needed. Safe to call twice.
async function stopTracked(info, signal = 'SIGTERM', graceMs = 5000) {
  if (info.exited) {
    const r = await info.exitPromise;
    return { ...r, killed: false };
  }
  try {
    process.kill(info.child.pid, signal);
  } catch {
    // exited meanwhile
  }
  let timer;
  const timedOut = new Promise((resolve) => {
    timer = setTimeout(() => resolve('timeout'), graceMs);
  });
  const first = await Promise.race([info.exitPromise, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return { ...first, killed: false };
  try {
    process.kill(info.child.pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
  const r = await info.exitPromise;
  return { ...r, killed: true };
}

// Waits for a ready file holding JSON with the given numeric keys; fails early when the process exits.
async function waitForReadyFile(file, info, keys, timeoutMs = 10000) {
  try {
    return await waitFor(
      async () => {
        if (info.exited) {
          throw Object.assign(new Error('exited'), { fatal: true });
        }
        let text;
        try {
          text = await fs.readFile(file, 'utf8');
        } catch {
          return null;
        }
        let obj;
        try {
          obj = JSON.parse(text);
        } catch {
          return null; // partially written
        }
        return keys.every((k) => Number.isInteger(obj[k]) && obj[k] > 0) ? obj : null;
      },
      { timeoutMs, what: `ready file ${file}` },
    );
  } catch (e) {
    // Give a just-exited process a moment to report how it exited.
    await Promise.race([info.exitPromise, delay(200)]);
    const how = info.spawnError
      ? `failed to spawn: ${info.spawnError.message}`
      : info.exited
        ? `exited with code ${info.exitCode} signal ${info.exitSignal}`
        : e.message;
    await stopTracked(info, 'SIGKILL', 1000);
    throw new Error(`${info.name} did not become ready: ${how}\nstderr:\n${info.stderr.slice(-4000)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// spillway mock-llm

let mockCounter = 0;

export async function startMock(opts = {}) {
  const dir = await makeTempDir('spillway-mock-');
  const readyFile = path.join(dir, `mock-${++mockCounter}.json`);
  const args = ['mock-llm', '--listen', '127.0.0.1:0', '--ready-file', readyFile];
  if (opts.name) args.push('--name', opts.name);
  if (opts.apiKey) args.push('--api-key', opts.apiKey);
  if (opts.latency) args.push('--latency', String(opts.latency));
  if (opts.tokensPerSecond) args.push('--tokens-per-second', String(opts.tokensPerSecond));
  if (opts.tpmCapacity) args.push('--tpm-capacity', String(opts.tpmCapacity));
  if (opts.tpmWindow) args.push('--tpm-window', String(opts.tpmWindow));
  if (opts.failRate !== undefined) args.push('--fail-rate', String(opts.failRate));
  const info = track(args, { env: opts.env, name: `mock-llm ${opts.name || ''}`.trim() });
  info.child.stdout.resume(); // drain; the mock's stdout is not part of the contract
  let ready;
  try {
    ready = await waitForReadyFile(readyFile, info, ['port']);
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = ready.port;
  const url = `http://127.0.0.1:${port}`;
  return {
    port,
    url,
    pid: info.child.pid,
    proc: info.child,
    dir,
    stderr: () => info.stderr,
    exited: () => info.exited,
    async stop(signal = 'SIGTERM') {
      const r = await stopTracked(info, signal);
      await fs.rm(dir, { recursive: true, force: true });
      return r;
    },
    // GET /mock/requests -> [{method, target, headers: {lowercase: value}, body: "raw"}]
    async requests() {
      const res = await fetch(`${url}/mock/requests`);
      if (res.status !== 200) throw new Error(`GET /mock/requests -> ${res.status}`);
      return res.json();
    },
    // POST /mock/reset (clears the recording and the simulated capacity). Tests prefer filtering by a
    // unique marker instead.
    async reset() {
      const res = await fetch(`${url}/mock/reset`, { method: 'POST' });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// spillway serve

// With `stdoutFile`, the gateway's stdout is that file (opened for appending) instead of a pipe, as under
// a shell's `>>`; accessLog() and nonJsonStdout() then read the file.
export async function startGateway({ config, env = {}, readyTimeoutMs = 10000, stdoutFile } = {}) {
  const dir = await makeTempDir('spillway-gw-');
  const configFile = path.join(dir, 'spillway.yaml');
  const readyFile = path.join(dir, 'ready.json');
  await fs.writeFile(configFile, config);
  const stdoutFd = stdoutFile ? fsSync.openSync(stdoutFile, 'a') : undefined;
  let info;
  try {
    info = track(['serve', '--config', configFile, '--ready-file', readyFile], {
      env,
      name: 'spillway serve',
      stdoutFd,
    });
  } finally {
    if (stdoutFd !== undefined) fsSync.closeSync(stdoutFd); // the child has its own copy
  }
  const logLines = []; // parsed JSON objects, in order
  const badLines = []; // stdout lines that are not JSON objects
  let partial = '';
  const takeLines = (d) => {
    partial += d;
    let nl;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl).trim();
      partial = partial.slice(nl + 1);
      if (!line) continue;
      try {
        const obj = JSON.parse(line);
        if (obj && typeof obj === 'object' && !Array.isArray(obj)) logLines.push(obj);
        else badLines.push(line);
      } catch {
        badLines.push(line);
      }
    }
  };
  // The file's complete lines, parsed up to where the last call stopped and on from there.
  let fileOffset = 0;
  const readFile = () => {
    if (!stdoutFile) return;
    const bytes = fsSync.readFileSync(stdoutFile);
    const end = bytes.lastIndexOf(0x0a) + 1;
    if (end <= fileOffset) return;
    takeLines(bytes.subarray(fileOffset, end).toString('utf8'));
    fileOffset = end;
  };
  if (!stdoutFile) {
    info.child.stdout.setEncoding('utf8');
    info.child.stdout.on('data', takeLines);
  }
  let ready;
  try {
    ready = await waitForReadyFile(readyFile, info, ['port', 'admin_port'], readyTimeoutMs);
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
  const port = ready.port;
  return {
    port,
    adminPort: ready.admin_port,
    url: `http://127.0.0.1:${port}`,
    adminUrl: `http://127.0.0.1:${ready.admin_port}`,
    pid: info.child.pid,
    proc: info.child,
    dir,
    configFile,
    accessLog: () => {
      readFile();
      return logLines.slice();
    },
    nonJsonStdout: () => {
      readFile();
      return badLines.slice();
    },
    stderr: () => info.stderr,
    exited: () => info.exited,
    exitPromise: info.exitPromise,
    // Resolves with the first access-log line matching `predicate`, within `timeoutMs`.
    waitForLog(predicate, timeoutMs = 5000) {
      return waitFor(
        () => {
          readFile();
          return logLines.find(predicate);
        },
        { timeoutMs, what: 'an access-log line' },
      );
    },
    // Stops by pid: `signal`, then SIGKILL after 5 s. Resolves with {code, signal, killed}.
    async stop(signal = 'SIGTERM') {
      const r = await stopTracked(info, signal);
      await fs.rm(dir, { recursive: true, force: true });
      return r;
    },
  };
}

// A port on 127.0.0.1 that nothing listens on (bound by the OS, then closed).
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

// ---------------------------------------------------------------------------------------------------
// fetch helper: {status, headers (lowercase object), text, json (parsed or undefined), ms}.
// Bounded: without a `signal` the whole exchange is aborted after `timeoutMs`.

export async function http(url, { method = 'POST', headers = {}, body, signal, timeoutMs = 15000 } = {}) {
  const t0 = Date.now();
  const init = { method, headers: { ...headers }, signal: signal || AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) {
    init.body = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
    if (!Object.keys(init.headers).some((k) => k.toLowerCase() === 'content-type')) {
      init.headers['content-type'] = 'application/json';
    }
  }
  const res = await fetch(url, init);
  const text = await res.text();
  const hdrs = {};
  res.headers.forEach((v, k) => {
    hdrs[k] = v;
  });
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: hdrs, text, json, ms: Date.now() - t0 };
}

// ---------------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over node:net

// Incremental HTTP/1.1 response parser (head, then a body framed by content-length, chunked, or close).
export class ResponseParser {
  constructor() {
    this.buf = Buffer.alloc(0);
    this.headDone = false;
    this.status = null;
    this.statusLine = null;
    this.headers = {}; // lowercase name -> value (repeated names joined with ", ")
    this.rawHead = '';
    this.body = Buffer.alloc(0);
    this.complete = false;
    this.framing = null; // 'length' | 'chunked' | 'close'
    this.remaining = 0;
    this.chunkState = 'size';
    this.error = null;
    this.interim = []; // statuses of 1xx responses before the final one (e.g. 100 Continue)
  }

  push(data) {
    this.buf = Buffer.concat([this.buf, data]);
    this.#parse();
  }

  // The socket closed: a close-framed body is complete now.
  end() {
    if (this.headDone && this.framing === 'close') this.complete = true;
  }

  bodyText() {
    return this.body.toString('utf8');
  }

  #parse() {
    if (!this.headDone) {
      const idx = this.buf.indexOf('\r\n\r\n');
      if (idx < 0) return;
      this.rawHead = this.buf.subarray(0, idx).toString('latin1');
      this.buf = this.buf.subarray(idx + 4);
      const lines = this.rawHead.split('\r\n');
      this.statusLine = lines[0];
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
      if (!m) {
        this.error = `bad status line: ${lines[0]}`;
        return;
      }
      this.status = Number(m[1]);
      if (this.status >= 100 && this.status < 200 && this.status !== 101) {
        // An interim response: the final one follows.
        this.interim.push(this.status);
        this.status = null;
        this.#parse();
        return;
      }
      for (const line of lines.slice(1)) {
        const c = line.indexOf(':');
        if (c < 0) continue;
        const name = line.slice(0, c).trim().toLowerCase();
        const value = line.slice(c + 1).trim();
        this.headers[name] = name in this.headers ? `${this.headers[name]}, ${value}` : value;
      }
      this.headDone = true;
      const te = (this.headers['transfer-encoding'] || '').toLowerCase();
      if (te.includes('chunked')) {
        this.framing = 'chunked';
      } else if (this.headers['content-length'] !== undefined) {
        this.framing = 'length';
        this.remaining = Number(this.headers['content-length']);
      } else if (this.status === 204 || this.status === 304 || this.status === 101) {
        this.framing = 'length';
        this.remaining = 0;
      } else {
        this.framing = 'close';
      }
    }
    if (this.complete) return;
    if (this.framing === 'length') {
      const take = Math.min(this.remaining, this.buf.length);
      this.body = Buffer.concat([this.body, this.buf.subarray(0, take)]);
      this.buf = this.buf.subarray(take);
      this.remaining -= take;
      if (this.remaining === 0) this.complete = true;
    } else if (this.framing === 'close') {
      this.body = Buffer.concat([this.body, this.buf]);
      this.buf = Buffer.alloc(0);
    } else {
      for (;;) {
        if (this.chunkState === 'size') {
          const idx = this.buf.indexOf('\r\n');
          if (idx < 0) return;
          const size = parseInt(this.buf.subarray(0, idx).toString('latin1').split(';')[0], 16);
          this.buf = this.buf.subarray(idx + 2);
          if (Number.isNaN(size)) {
            this.error = 'bad chunk size';
            return;
          }
          if (size === 0) {
            this.chunkState = 'trailers';
          } else {
            this.remaining = size;
            this.chunkState = 'data';
          }
        } else if (this.chunkState === 'data') {
          if (this.buf.length === 0) return;
          const take = Math.min(this.remaining, this.buf.length);
          this.body = Buffer.concat([this.body, this.buf.subarray(0, take)]);
          this.buf = this.buf.subarray(take);
          this.remaining -= take;
          if (this.remaining > 0) return;
          this.chunkState = 'crlf';
        } else if (this.chunkState === 'crlf') {
          if (this.buf.length < 2) return;
          this.buf = this.buf.subarray(2);
          this.chunkState = 'size';
        } else {
          // trailers: until an empty line
          const idx = this.buf.indexOf('\r\n');
          if (idx < 0) return;
          const line = this.buf.subarray(0, idx);
          this.buf = this.buf.subarray(idx + 2);
          if (line.length === 0) {
            this.complete = true;
            return;
          }
        }
      }
    }
  }
}

// Builds the bytes of an HTTP/1.1 request.
export function buildRequest({ method = 'POST', path: target, port, headers = {}, body } = {}) {
  const bodyBuf =
    body === undefined
      ? null
      : Buffer.from(typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body));
  let head = `${method} ${target} HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\n`;
  const names = Object.keys(headers).map((k) => k.toLowerCase());
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (bodyBuf && !names.includes('content-type')) head += 'content-type: application/json\r\n';
  if (bodyBuf && !names.includes('content-length') && !names.includes('transfer-encoding')) {
    head += `content-length: ${bodyBuf.length}\r\n`;
  }
  head += '\r\n';
  return bodyBuf ? Buffer.concat([Buffer.from(head, 'latin1'), bodyBuf]) : Buffer.from(head, 'latin1');
}

// A raw connection: write bytes, read the response incrementally.
export async function rawConnect(port, { host = '127.0.0.1', timeoutMs = 5000 } = {}) {
  const socket = net.connect({ port, host });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('connect timeout'));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  const conn = {
    socket,
    parser: new ResponseParser(),
    closed: false,
    error: null,
    received: Buffer.alloc(0),
    write(data) {
      return new Promise((resolve) => socket.write(data, () => resolve()));
    },
    // Polls (20 ms) until predicate(conn) holds, bounded.
    waitFor(predicate, timeoutMs = 5000, what = 'response data') {
      return waitFor(() => predicate(conn), { timeoutMs, what });
    },
    // Waits until the response is complete or the socket closed.
    waitDone(timeoutMs = 5000) {
      return waitFor(() => conn.parser.complete || conn.closed, { timeoutMs, what: 'response end or close' });
    },
    // The SSE `data:` payloads received so far (complete events only).
    sseData() {
      return parseSse(conn.parser.bodyText()).data;
    },
    destroy() {
      socket.destroy();
    },
  };
  socket.on('data', (d) => {
    conn.received = Buffer.concat([conn.received, d]);
    conn.parser.push(d);
  });
  socket.on('error', (e) => {
    conn.error = e;
  });
  socket.on('close', () => {
    conn.closed = true;
    conn.parser.end();
  });
  return conn;
}

// Whether host:port accepts a TCP connection within `timeoutMs`.
export async function canConnect(port, { host = '127.0.0.1', timeoutMs = 3000 } = {}) {
  try {
    (await rawConnect(port, { host, timeoutMs })).destroy();
    return true;
  } catch {
    return false;
  }
}

// Sends `payload` (bytes) on a fresh connection and waits for a complete response or close.
// Resolves with {status, headers, body, json, closed, raw}.
export async function rawExchange(port, payload, { timeoutMs = 5000 } = {}) {
  const conn = await rawConnect(port);
  try {
    await conn.write(payload);
    await conn.waitDone(timeoutMs);
    let json;
    try {
      json = JSON.parse(conn.parser.bodyText());
    } catch {
      json = undefined;
    }
    return {
      status: conn.parser.status,
      headers: conn.parser.headers,
      body: conn.parser.bodyText(),
      json,
      closed: conn.closed,
      complete: conn.parser.complete,
      raw: conn.received.toString('latin1'),
    };
  } finally {
    conn.destroy();
  }
}

// Opens a request whose response is read incrementally (e.g. an SSE stream).
export async function rawStream(port, request) {
  const conn = await rawConnect(port);
  await conn.write(buildRequest({ port, ...request }));
  return conn;
}

// ---------------------------------------------------------------------------------------------------
// SSE

// Splits SSE text into complete events; returns {data: [payload strings], rest: incomplete tail}.
export function parseSse(text) {
  const norm = text.replace(/\r\n/g, '\n');
  const blocks = norm.split('\n\n');
  const rest = blocks.pop();
  const data = [];
  for (const block of blocks) {
    const lines = block.split('\n').filter((l) => l.startsWith('data:'));
    if (lines.length === 0) continue;
    data.push(lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
  }
  return { data, rest };
}

// JSON chunks of a chat stream (everything but [DONE]).
export function sseChunks(dataList) {
  return dataList.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
}

// The completion text the mock generates for n tokens: "w1 w2 ... wn " (each word followed by a space).
export function mockText(n) {
  let s = '';
  for (let i = 1; i <= n; i++) s += `w${i} `;
  return s;
}

// ---------------------------------------------------------------------------------------------------
// Assertions shared by the test files

// Throws when any of `secrets` occurs in `text` (headers and bodies are checked as strings).
export function findSecrets(text, secrets) {
  return secrets.filter((s) => s && text.includes(s));
}

export function responseText(res) {
  const hdrs = Object.entries(res.headers || {})
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
  return `${hdrs}\n\n${res.text ?? res.body ?? ''}`;
}
