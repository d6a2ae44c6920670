// The end-to-end benchmark behind bench/run (see bench/README.md). On loopback, in one run, it measures
// side by side: the upstream directly, nginx as a plain reverse proxy (upstream keepalive), Spillway with its
// default policies on, and the Portkey AI gateway from npm; then streaming directly and through each proxy,
// a memory soak, and the tokenizer benchmark when bench/tokenizer/run exists. Prints markdown tables and the
// ratios to nginx and to Portkey.

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as P from './procs.mjs';
import { bootstrapInterval, median, pct, verdict } from './stats.mjs';
import { measureStreams } from './stream_client.mjs';
import { CLIENT_KEY, SPILLWAY_ENV, proxyNginxConf, spillwayBareConf, spillwayConf, streamNginxConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const USAGE = `usage: bench/run [options]
  --bin PATH            spillway binary (default: $SPILLWAY_BIN, else build/spillway)
  --duration S          seconds per wrk run (default 5)
  --reps N              interleaved repetitions of every configuration (default 3)
  --reps-at C=N,...     N repetitions at C connections instead (e.g. 1=12,64=12: the targets' connection
                        counts, whose verdicts 5 repetitions often leave unresolved; the rest keep --reps)
  --duration-at C=S,... S seconds per run at C connections instead (e.g. --reps-at 1=48 --duration-at 1=2:
                        many short runs narrow the one-connection p99's interval; the rest keep --duration)
  --conns LIST          connection counts (default 1,16,64)
  --targets LIST        of direct,nginx,spillway,portkey (default all four; portkey: the Portkey AI gateway
                        from npm, bench/portkey, which scripts/setup installs)
  --upstream KIND       nginx: a static nginx location answering a fixed chat completion (default)
                        mock:  spillway mock-llm (--mock-threads N, default 1)
  --workers N           nginx proxy worker_processes and spillway server.workers (default: nproc)
  --stream-requests N   streamed requests per side for the streaming figures (default 20; 0 = skip)
  --tokens-per-second N pacing of the paced stream (default 100)
  --soak S              seconds of 64-connection load on spillway while sampling RSS (default 30; 0 = skip)
  --no-tokenizer        skip bench/tokenizer/run
  --out FILE            also write every figure as JSON
  --keep                keep the temp dir (configs, logs, usage db)
  --baseline PATH       also measure another spillway binary (target "baseline", same config): before/after
  --nolog               also measure the same spillway without the usage log (target "nolog")
  --noest               also measure the same spillway without the token limit's prompt estimate (target
                        "noest": reservations from max_tokens only)
  --bare                also measure the same spillway with no policies (target "bare": no keys, limits,
                        token metrics or usage log): what the policies cost, and the proxy alone vs nginx
  --restart-every N     restart every Spillway target (a new process, the same config, access log and usage
                        db, then 2 s of warm-up) before every Nth repetition: a process can keep a long
                        one-connection tail for a whole run (RESULTS.md), so no target keeps one process's luck
  --no-sync             do not \`sync\` before each measured run (by default every run starts with the
                        dirty pages of the runs before it written out)
  --report FILE         measure nothing: print the report of a run saved with --out (the current report's
                        tables, e.g. the ratios' intervals, for an older run)`;

// The targets --targets can name, in the order each repetition starts from.
const TARGETS = ['direct', 'nginx', 'spillway', 'portkey'];
const PORTKEY_DIR = path.join(repo, 'bench', 'portkey');

function parseArgs(argv) {
  const o = {
    bin: process.env.SPILLWAY_BIN || path.join(repo, 'build', 'spillway'),
    duration: 5,
    reps: 3,
    repsAt: {},
    durationAt: {},
    conns: [1, 16, 64],
    targets: ['direct', 'nginx', 'spillway', 'portkey'],
    upstream: 'nginx',
    mockThreads: 1,
    workers: os.cpus().length,
    streamRequests: 20,
    sync: true,
    tps: 100,
    soak: 30,
    tokenizer: true,
    out: null,
    keep: false,
    baseline: null,
    nolog: false,
    noest: false,
    bare: false,
    report: null,
    restartEvery: 0,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    // CONNS=N,... as { CONNS: N }, N an integer in [1, max].
    const perConns = (what, max) => {
      const out = {};
      for (const item of v().split(',')) {
        const [c, n] = item.split('=').map(Number);
        if (!(c >= 1 && c <= 1024) || !(Number.isInteger(n) && n >= 1 && n <= max)) {
          throw new Error(`${a}: expected CONNS=${what} pairs with ${what} in [1, ${max}], got ${item}`);
        }
        out[c] = n;
      }
      return out;
    };
    const num = (lo, hi) => {
      const n = Number(v());
      if (!Number.isFinite(n) || n < lo || n > hi) throw new Error(`${a}: expected a number in [${lo}, ${hi}]`);
      return n;
    };
    if (a === '--bin') o.bin = path.resolve(v());
    else if (a === '--duration') o.duration = num(1, 3600);
    else if (a === '--reps') o.reps = num(1, 50);
    else if (a === '--reps-at') o.repsAt = { ...o.repsAt, ...perConns('REPS', 50) };
    else if (a === '--duration-at') o.durationAt = { ...o.durationAt, ...perConns('SECONDS', 3600) };
    else if (a === '--conns') o.conns = v().split(',').map(Number);
    else if (a === '--targets') o.targets = v().split(',');
    else if (a === '--upstream') o.upstream = v();
    else if (a === '--mock-threads') o.mockThreads = num(1, 64);
    else if (a === '--workers') o.workers = num(1, 64);
    else if (a === '--stream-requests') o.streamRequests = num(0, 10000);
    else if (a === '--tokens-per-second') o.tps = num(1, 100000);
    else if (a === '--soak') o.soak = num(0, 7200);
    else if (a === '--no-tokenizer') o.tokenizer = false;
    else if (a === '--out') o.out = path.resolve(v());
    else if (a === '--keep') o.keep = true;
    else if (a === '--no-sync') o.sync = false;
    else if (a === '--baseline') o.baseline = path.resolve(v());
    else if (a === '--nolog') o.nolog = true;
    else if (a === '--noest') o.noest = true;
    else if (a === '--bare') o.bare = true;
    else if (a === '--report') o.report = path.resolve(v());
    else if (a === '--restart-every') {
      o.restartEvery = num(1, 50);
      if (!Number.isInteger(o.restartEvery)) throw new Error(`${a}: expected a whole number of repetitions`);
    }
    else if (a === '-h' || a === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (!['nginx', 'mock'].includes(o.upstream)) throw new Error('--upstream: nginx or mock');
  for (const t of o.targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}`);
  for (const c of o.conns) if (!(c >= 1 && c <= 1024)) throw new Error(`bad connection count ${c}`);
  for (const [flag, at] of [['--reps-at', o.repsAt], ['--duration-at', o.durationAt]]) {
    for (const c of Object.keys(at)) {
      if (!o.conns.includes(Number(c))) throw new Error(`${flag}: ${c} connections are not in --conns`);
    }
  }
  return o;
}

// Repetitions at `conns` connections: --reps-at's, else --reps. (Runs saved before --reps-at have no repsAt.)
function repsFor(o, conns) {
  return o.repsAt?.[conns] ?? o.reps;
}

// Seconds per run at `conns` connections: --duration-at's, else --duration. (Runs saved before --duration-at
// have no durationAt.)
function durationFor(o, conns) {
  return o.durationAt?.[conns] ?? o.duration;
}

// `all`, or `all (N at 1 and 64 connections, ...)`: what `valueFor` gives each connection count.
function perConnsText(o, all, valueFor, unit) {
  const at = o.conns.filter((c) => valueFor(o, c) !== all);
  if (!at.length) return `${all}${unit}`;
  const groups = new Map();
  for (const c of at) {
    const n = valueFor(o, c);
    groups.set(n, [...(groups.get(n) || []), c]);
  }
  const parts = [...groups].map(([n, cs]) => `${n}${unit} at ${cs.join(' and ')} connection${cs.length === 1 && cs[0] === 1 ? '' : 's'}`);
  return `${all}${unit} (${parts.join(', ')})`;
}

// "5x", or "5x (12x at 1 and 64 connections)".
function repsText(o) {
  return perConnsText(o, o.reps, repsFor, 'x');
}

// "8s", or "8s (2s at 1 connection)".
function durationText(o) {
  return perConnsText(o, o.duration, durationFor, 's');
}

const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : '-');
const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : '-');
const sign1 = (x) => (Number.isFinite(x) ? (x >= 0 ? '+' : '') + x.toFixed(1) : '-');

const fIv = (iv) => {
  if (!Number.isFinite(iv.lo)) return 'no ratio';
  return `${f2(iv.lo)} to ${f2(iv.hi)}${iv.undefinedShare > 0 ? ` (${f0(iv.undefinedShare * 100)}% no ratio)` : ''}`;
};

function log(msg) {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${P.loadAverage()}] ${msg}\n`);
}

// The "build:" line of `spillway version` (build type, profile-guided or not), or '?' (older binaries).
function buildOf(bin) {
  const r = spawnSync(bin, ['version'], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 });
  const m = /^build: (.+)$/m.exec(`${r.stdout || ''}`);
  return m ? m[1] : '?';
}

// The version of the Portkey gateway installed in bench/portkey, or null when it is not installed.
function portkeyVersion() {
  try {
    const pkg = path.join(PORTKEY_DIR, 'node_modules', '@portkey-ai', 'gateway', 'package.json');
    return JSON.parse(fs.readFileSync(pkg, 'utf8')).version;
  } catch {
    return null;
  }
}

function machineInfo(o) {
  const cpu = os.cpus();
  let git = '?';
  try {
    git = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).toString().trim();
    const dirty = execFileSync('git', ['-C', repo, 'status', '--porcelain', '--untracked-files=no']).toString().trim();
    if (dirty) git += ' (+ uncommitted changes in the work tree)';
  } catch {
    // not a checkout
  }
  // nginx -v prints to stderr; wrk -v exits 1: take the first non-empty line of either stream.
  const version = (cmd, args) => {
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 });
    const text = `${r.stdout || ''}${r.stderr || ''}`.trim();
    return text ? text.split('\n')[0] : '?';
  };
  return {
    nproc: cpu.length,
    cpu: cpu[0] ? cpu[0].model : '?',
    kernel: os.release(),
    load_start: P.loadAverage(),
    git,
    build: buildOf(o.bin),
    baseline_build: o.baseline ? buildOf(o.baseline) : null,
    nginx: version('nginx', ['-v']),
    portkey: o.targets.includes('portkey') ? portkeyVersion() : null,
    wrk: version('wrk', ['-v']),
    node: process.version,
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.report) {
    let saved;
    try {
      saved = JSON.parse(fs.readFileSync(o.report, 'utf8'));
    } catch (e) {
      console.error(`bench: --report: cannot read ${o.report}: ${e.message}`);
      process.exit(2);
    }
    if (!Array.isArray(saved?.runs) || !saved.options) {
      console.error(`bench: --report: ${o.report} is not a file written by --out`);
      process.exit(2);
    }
    report(saved.options, saved);
    return;
  }
  if (!fs.existsSync(o.bin)) throw new Error(`no spillway binary at ${o.bin} (build it, or pass --bin / SPILLWAY_BIN)`);
  if (o.targets.includes('portkey') && !portkeyVersion()) {
    throw new Error('the portkey target needs the Portkey gateway in bench/portkey: run scripts/setup ' +
      '(or leave the target out: --targets direct,nginx,spillway)');
  }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-bench-'));
  const results = { machine: machineInfo(o), options: { ...o }, runs: [], summary: {} };
  results.command = `bench/run ${process.argv.slice(2).join(' ')}`.trim();
  log(`temp dir ${tmp}; ${repsText(o)} reps x ${o.conns.length} conns x ${o.targets.length} targets x ${durationText(o)}`);

  const cleanup = async () => {
    await P.stopAll();
    if (!o.keep) fs.rmSync(tmp, { recursive: true, force: true });
  };
  process.on('SIGINT', () => cleanup().then(() => process.exit(130)));

  try {
    // --- upstreams -------------------------------------------------------------------------------------
    let upstreamPort;
    let upstreamPids;
    if (o.upstream === 'nginx') {
      const { child: up, port } = await P.startStaticUpstream(tmp);
      upstreamPort = port;
      upstreamPids = [up.pid, ...P.childPids(up.pid)];
    } else {
      const ready = path.join(tmp, 'mock-main.ready');
      const up = P.start('mock-llm', o.bin,
        ['mock-llm', '--listen', '127.0.0.1:0', '--ready-file', ready, '--threads', String(o.mockThreads)],
        { stderrFile: path.join(tmp, 'mock-main.log') });
      upstreamPort = (await P.waitReadyFile(ready, up)).port;
      upstreamPids = [up.pid];
    }
    const mockPorts = {};
    for (const [name, tps] of [['paced', o.tps], ['fast', 0]]) {
      const ready = path.join(tmp, `mock-${name}.ready`);
      const m = P.start(`mock-${name}`, o.bin,
        ['mock-llm', '--listen', '127.0.0.1:0', '--ready-file', ready, '--threads', '1', '--tokens-per-second', String(tps)],
        { stderrFile: path.join(tmp, `mock-${name}.log`) });
      mockPorts[name] = (await P.waitReadyFile(ready, m)).port;
    }

    // --- nginx reverse proxy ---------------------------------------------------------------------------
    const targets = {};
    targets.direct = { port: upstreamPort, pids: () => upstreamPids };
    if (o.targets.includes('nginx')) {
      const port = await P.freePort();
      const prefix = path.join(tmp, 'nginx-proxy');
      const ng = await P.startNginx('nginx-proxy', prefix, proxyNginxConf(prefix, port, upstreamPort, o.workers), port);
      await P.sleep(300);
      const pids = [ng.pid, ...P.childPids(ng.pid)];
      targets.nginx = { port, pids: () => pids };
      results.nginx_idle_rss_mib = P.statusMiB(pids, 'VmRSS');
    }

    // --- the Portkey gateway ---------------------------------------------------------------------------
    // On loopback (bench/portkey/serve.mjs), forwarding to the same upstream: a request names it in headers.
    if (o.targets.includes('portkey')) {
      const port = await P.freePort();
      const logFile = path.join(tmp, 'portkey.log');
      const pk = P.start('portkey', process.execPath, [path.join(PORTKEY_DIR, 'serve.mjs'), '--port', String(port)],
        { stdoutFile: logFile, stderrFile: logFile });
      await P.waitPort(port, pk);
      await P.sleep(300);
      targets.portkey = { port, pids: () => [pk.pid], headers: {
        'x-portkey-provider': 'openai',
        'x-portkey-custom-host': `http://127.0.0.1:${upstreamPort}/v1`,
        authorization: `Bearer ${SPILLWAY_ENV.BENCH_BACKEND_KEY}`,
      } };
      results.portkey_idle_rss_mib = P.statusMiB([pk.pid], 'VmRSS');
    }

    // --- spillway --------------------------------------------------------------------------------------
    const swDir = path.join(tmp, 'spillway');
    fs.mkdirSync(swDir);
    const conf = path.join(swDir, 'gateway.yaml');
    fs.writeFileSync(conf, spillwayConf(swDir, upstreamPort, mockPorts.paced, mockPorts.fast, o.workers));
    const swEnv = SPILLWAY_ENV;
    try {
      execFileSync(o.bin, ['check', '--config', conf], { env: { ...process.env, ...swEnv }, stdio: 'pipe' });
    } catch (e) {
      throw new Error(`spillway check failed:\n${e.stdout}${e.stderr}`);
    }
    // A Spillway target `name`: `bin` serving the config in `dir`, its access log and stderr appended to
    // files there. restart() replaces the process with a new one on the same files (and usage db);
    // `child` and `ports` are the current process's, `peakMiB` the highest VmHWM of the ones stopped.
    const spillwayTargets = {};
    const startSpillway = async (name, bin, dir, conf) => {
      const proc = { child: null, ports: null, peakMiB: 0 };
      const ready = path.join(dir, 'ready.json');
      const launch = async () => {
        fs.rmSync(ready, { force: true });
        proc.child = P.start(name, bin, ['serve', '--config', conf, '--ready-file', ready, '--log-level', 'warn'],
          { env: swEnv, stdoutFile: path.join(dir, 'access.log'), stderrFile: path.join(dir, 'stderr.log') });
        proc.ports = await P.waitReadyFile(ready, proc.child);
      };
      proc.restart = async () => {
        proc.peakMiB = Math.max(proc.peakMiB, P.statusMiB([proc.child.pid], 'VmHWM'));
        await P.stop(proc.child, 20000);
        await launch();
      };
      await launch();
      spillwayTargets[name] = proc;
      targets[name] = { get port() { return proc.ports.port; }, pids: () => [proc.child.pid] };
      return proc;
    };
    const main = await startSpillway('spillway', o.bin, swDir, conf);
    await P.sleep(1000);
    results.spillway_idle_rss_mib = P.statusMiB([main.child.pid], 'VmRSS');
    log(`spillway idle RSS ${f1(results.spillway_idle_rss_mib)} MiB`);
    // Another target `name`: the binary `bin` with the config `text` (a function of its own dir).
    const startVariant = async (name, bin, text) => {
      const dir = path.join(tmp, name);
      fs.mkdirSync(dir);
      const vconf = path.join(dir, 'gateway.yaml');
      fs.writeFileSync(vconf, text(dir));
      await startSpillway(name, bin, dir, vconf);
    };
    // Another build of Spillway, same config: before/after comparisons in one run.
    if (o.baseline) {
      await startVariant('baseline', o.baseline,
        (dir) => spillwayConf(dir, upstreamPort, mockPorts.paced, mockPorts.fast, o.workers));
      results.baseline_bin = o.baseline;
    }
    // The same binary without the SQLite usage log: what the log (its writer thread) costs.
    if (o.nolog) {
      await startVariant('nolog', o.bin,
        (dir) => spillwayConf(dir, upstreamPort, mockPorts.paced, mockPorts.fast, o.workers, false));
    }
    // The same binary without the prompt estimate: what tokenizing every request's prompt costs.
    if (o.noest) {
      await startVariant('noest', o.bin,
        (dir) => spillwayConf(dir, upstreamPort, mockPorts.paced, mockPorts.fast, o.workers, true, false));
    }
    // The same binary with no policies at all.
    if (o.bare) await startVariant('bare', o.bin, () => spillwayBareConf(upstreamPort, o.workers));

    // --- which policies are really on ------------------------------------------------------------------
    const chatPath = '/v1/chat/completions';
    const chatBody = fs.readFileSync(path.join(here, 'chat-body.json'), 'utf8');
    const headers = { 'content-type': 'application/json', 'api-key': CLIENT_KEY, 'x-user-id': 'alice@example.com' };
    const policies = {};
    for (const [name, t] of Object.entries(targets)) {
      if (['nginx', 'spillway'].includes(name) && !o.targets.includes(name)) continue;
      const r = await P.request(t.port, { method: 'POST', path: chatPath, headers: { ...headers, ...t.headers }, body: chatBody });
      if (r.status !== 200 || !r.body.includes('"usage"')) throw new Error(`${name}: ${r.status} ${r.body.slice(0, 300)}`);
      if (name === 'spillway') {
        policies.token_limit = 'x-ratelimit-remaining-tokens' in r.headers;
        policies.request_id = 'x-request-id' in r.headers;
      }
    }
    const noKey = await P.request(main.ports.port, { method: 'POST', path: chatPath, headers: { 'content-type': 'application/json' }, body: chatBody });
    policies.key_auth = noKey.status === 401;
    if (targets.bare) {
      // The bare target must really run without policies: no key needed, no token limit's headers.
      const b = await P.request(targets.bare.port, { method: 'POST', path: chatPath, headers: { 'content-type': 'application/json' }, body: chatBody });
      if (b.status !== 200 || 'x-ratelimit-remaining-tokens' in b.headers) {
        throw new Error(`bare: a request without a key got ${b.status}${b.status === 200 ? ' with token-limit headers' : ''}`);
      }
    }
    await P.sleep(200);
    const metrics = main.ports.admin_port ? await P.request(main.ports.admin_port, { path: '/metrics' }).catch(() => null) : null;
    policies.token_metrics = !!(metrics && metrics.status === 200 && /spillway_tokens_total\{/.test(metrics.body));
    policies.token_metrics_user_hash = !!(metrics && /user_hash="[0-9a-f]/.test(metrics.body));
    results.policies = policies;
    log(`policies: ${JSON.stringify(policies)}`);

    // --- warm-up ---------------------------------------------------------------------------------------
    const wrkEnv = { BENCH_API_KEY: CLIENT_KEY, BENCH_USER_ID: 'alice@example.com',
      BENCH_BODY_FILE: path.join(here, 'chat-body.json') };
    const order = TARGETS.filter((t) => o.targets.includes(t));
    if (o.baseline) order.push('baseline');
    if (o.nolog) order.push('nolog');
    if (o.noest) order.push('noest');
    if (o.bare) order.push('bare');
    // A target's wrk environment: its own request fields, if any (one "name: value" a line).
    const envOf = (t) => targets[t].headers
      ? { ...wrkEnv, BENCH_HEADERS: Object.entries(targets[t].headers).map(([k, v]) => `${k}: ${v}`).join('\n') }
      : wrkEnv;
    // 2 s at 16 connections: before the first runs, and for a restarted process (--restart-every).
    const warmUp = (t) => P.runWrk(`http://127.0.0.1:${targets[t].port}${chatPath}`, 16, 2, envOf(t));
    for (const t of order) await warmUp(t);

    // --- interleaved runs ------------------------------------------------------------------------------
    const maxReps = Math.max(...o.conns.map((c) => repsFor(o, c)));
    results.restarts = 0;
    for (let rep = 0; rep < maxReps; rep++) {
      if (o.restartEvery > 0 && rep > 0 && rep % o.restartEvery === 0) {
        for (const [name, proc] of Object.entries(spillwayTargets)) {
          await proc.restart();
          await warmUp(name);
          log(`rep ${rep + 1}: ${name} restarted (pid ${proc.child.pid})`);
        }
        results.restarts++;
      }
      for (const conns of o.conns) {
        if (rep >= repsFor(o, conns)) continue;
        // Every target runs first once in every order.length repetitions (the first run of a block comes
        // right after the heaviest load, the previous block's), and the order runs forwards in even
        // repetitions, backwards in odd ones, so no target always runs right after the same one (a run
        // leaves dirty pages and warm caches behind that the next one pays for). Before: rotated, then
        // reversed every other repetition, which with 5 targets and 5 repetitions put spillway first twice
        // and nginx never.
        const n = order.length;
        const rotated = order.map((_, i) => order[(((rep % 2 === 0 ? rep + i : rep - i) % n) + n) % n]);
        for (const t of rotated) {
          // The dirty pages of the runs before (access logs, the usage log) written out now, not during
          // this run: the kernel's writeback and journal commits would otherwise land on whoever runs next.
          if (o.sync) spawnSync('sync', [], { stdio: 'ignore', timeout: 120000 });
          const pids = targets[t].pids();
          const cpu0 = P.cpuSeconds(pids);
          const w = await P.runWrk(`http://127.0.0.1:${targets[t].port}${chatPath}`, conns, durationFor(o, conns), envOf(t));
          const cpu = P.cpuSeconds(pids) - cpu0;
          const run = { rep, conns, target: t, rps: w.rps, p50_us: w.p50_us, p99_us: w.p99_us, p90_us: w.p90_us,
            requests: w.requests, errors: w.errors, cpu_s: cpu, cpu_per_1000: (cpu / w.requests) * 1000 };
          results.runs.push(run);
          log(`rep ${rep + 1} c=${conns} ${t}: ${f0(w.rps)} req/s p50 ${w.p50_us}us p99 ${w.p99_us}us ` +
            `cpu/1k ${f3(run.cpu_per_1000)}s${w.errors ? ` ERRORS ${w.errors}` : ''}`);
        }
      }
    }
    results.spillway_peak_rss_mib = Math.max(main.peakMiB, P.statusMiB([main.child.pid], 'VmHWM'));
    if (targets.nginx) results.nginx_peak_rss_mib = P.statusMiB(targets.nginx.pids(), 'VmHWM');
    if (targets.portkey) results.portkey_peak_rss_mib = P.statusMiB(targets.portkey.pids(), 'VmHWM');
    await P.sleep(2000);
    results.spillway_rss_after_load_mib = P.statusMiB([main.child.pid], 'VmRSS');

    // --- streaming -------------------------------------------------------------------------------------
    if (o.streamRequests > 0) results.streaming = await streaming(o, tmp, main.ports.port, mockPorts, targets.portkey);

    // --- soak ------------------------------------------------------------------------------------------
    if (o.soak > 0) results.soak = await soak(o, main.child.pid, main.ports.port, main.ports.admin_port, chatPath, wrkEnv);

    results.machine.load_end = P.loadAverage();
    await P.stop(main.child);
    results.access_log_lines = countLines(path.join(swDir, 'access.log'));
    results.spillway_errors = errorSample(path.join(swDir, 'access.log'));
    if (results.spillway_errors.length) log(`spillway answered errors: ${JSON.stringify(results.spillway_errors)}`);
    try {
      results.usage_db_bytes = fs.statSync(path.join(swDir, 'usage.db')).size;
    } catch {
      results.usage_db_bytes = 0;
    }
    policies.usage_log = results.usage_db_bytes > 0;
    await P.stopAll();

    // --- tokenizer -------------------------------------------------------------------------------------
    const tokRun = path.join(repo, 'bench', 'tokenizer', 'run');
    if (o.tokenizer && fs.existsSync(tokRun)) {
      log('tokenizer: bench/tokenizer/run');
      try {
        results.tokenizer = execFileSync(tokRun, ['--bin', o.bin], { env: { ...process.env, SPILLWAY_BIN: o.bin }, timeout: 900_000,
          stdio: ['ignore', 'pipe', 'inherit'] }).toString();
      } catch (e) {
        results.tokenizer = `bench/tokenizer/run failed: ${e.message}`;
      }
    } else if (o.tokenizer) {
      results.tokenizer = 'bench/tokenizer/run does not exist yet';
    }

    report(o, results);
    if (o.out) fs.writeFileSync(o.out, JSON.stringify(results, null, 2));
  } finally {
    await cleanup();
  }
}

// wc -l: the access log of a soak is several GB, more than node reads into one buffer.
function countLines(file) {
  try {
    return Number(execFileSync('wc', ['-l', file]).toString().trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

// The non-200 answers in an access log (bench/run sends one request without a key on purpose), counted by
// status, error and attempts, so that a run with errors says what they were.
function errorSample(file) {
  let text = '';
  try {
    text = execFileSync('sh', ['-c', `grep -v '"status":200,' "$1" | head -n 100000`, 'sh', file],
      { maxBuffer: 256 << 20 }).toString();
  } catch {
    return [];
  }
  const counts = new Map();
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      const r = JSON.parse(line);
      const key = `${r.status} ${r.error || ''} ${r.attempt_log || ''}`.trim();
      counts.set(key, (counts.get(key) || 0) + 1);
    } catch {
      // not a record
    }
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([what, n]) => ({ what, n }));
}

// stream_client's "unexpected response: <head>\r\n\r\n<body>" as "<status line>: <body>"; another error's
// first line.
function streamFailure(message) {
  const m = /^unexpected response: (HTTP\/1\.1 [^\r\n]*)[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(message);
  return m ? `${m[1]}: ${m[2].slice(0, 200)}` : message.split('\n')[0];
}

// `portkey`: the Portkey target, when there is one (its streams go to the same mock-llm servers).
async function streaming(o, tmp, gatewayPort, mockPorts, portkey) {
  const out = {};
  // nginx in front of the same mock-llm servers, for scale: what any proxy hop adds to a stream here.
  const nginxPorts = {};
  if (o.targets.includes('nginx')) {
    const prefix = path.join(tmp, 'nginx-stream');
    const listens = [];
    for (const kind of ['paced', 'fast']) {
      nginxPorts[kind] = await P.freePort();
      listens.push({ port: nginxPorts[kind], upstreamPort: mockPorts[kind] });
    }
    const ng = await P.startNginx('nginx-stream', prefix, streamNginxConf(prefix, listens, o.workers), nginxPorts.paced);
    await P.waitPort(nginxPorts.fast, ng);
  }
  const sideNames = ['direct', ...(nginxPorts.paced ? ['nginx'] : []), 'spillway', ...(portkey ? ['portkey'] : [])];
  const headers = { 'api-key': CLIENT_KEY, 'x-user-id': 'alice@example.com', 'x-mock-completion-tokens': '0' };
  for (const [kind, tokens] of [['paced', 40], ['fast', 200]]) {
    headers['x-mock-completion-tokens'] = String(tokens);
    const body = JSON.stringify({ model: `stream-${kind}`, stream: true, messages: [{ role: 'user', content: 'Tell me a story.' }] });
    const sides = {
      direct: { port: mockPorts[kind] },
      nginx: { port: nginxPorts[kind] },
      spillway: { port: gatewayPort },
      portkey: portkey && { port: portkey.port, headers: {
        ...portkey.headers, 'x-portkey-custom-host': `http://127.0.0.1:${mockPorts[kind]}/v1` } },
    };
    const per = Object.fromEntries(sideNames.map((side) => [side, []]));
    // Portkey's first failed stream ends its part (1.15.2 on Node 20 answers every stream with a 500:
    // RESULTS.md); the others' failures end the run.
    const failed = {};
    // Interleave in batches so that every side sees the same machine state.
    const batch = Math.max(1, Math.min(5, o.streamRequests));
    for (let done = 0; done < o.streamRequests; done += batch) {
      for (const side of sideNames) {
        if (failed[side]) continue;
        const n = Math.min(batch, o.streamRequests - done);
        try {
          per[side].push(...(await measureStreams({ port: sides[side].port, path: '/v1/chat/completions',
            headers: { ...headers, ...sides[side].headers }, body, count: n })));
        } catch (e) {
          if (side !== 'portkey') throw e;
          failed[side] = streamFailure(e.message);
        }
      }
    }
    out[kind] = {};
    for (const side of sideNames) {
      if (failed[side]) {
        out[kind][side] = { error: failed[side] };
        continue;
      }
      const rs = per[side];
      const gaps = rs.flatMap((r) => r.gapsUs);
      out[kind][side] = {
        requests: rs.length,
        events_per_stream: median(rs.map((r) => r.events)),
        reads_per_stream: median(rs.map((r) => r.reads)),
        head_p50_us: median(rs.map((r) => r.headUs)),
        first_event_p50_us: median(rs.map((r) => r.firstEventUs)),
        first_event_p99_us: pct(rs.map((r) => r.firstEventUs), 99),
        gap_p50_us: pct(gaps, 50),
        gap_p99_us: pct(gaps, 99),
        total_p50_us: median(rs.map((r) => r.totalUs)),
      };
    }
    log(`stream ${kind}: ${JSON.stringify(out[kind])}`);
  }
  out.tokens = { paced: 40, fast: 200 };
  return out;
}

// Records the usage log has queued and not written yet (spillway_usage_log_waiting on /metrics), or null
// (no admin port, a build without the gauge, or no answer): a step in RSS with many records waiting was
// the writer falling behind, not a leak.
async function usageWaiting(adminPort) {
  if (!adminPort) return null;
  const m = await P.request(adminPort, { path: '/metrics' }).catch(() => null);
  const hit = m && m.status === 200 && /^spillway_usage_log_waiting (\d+)$/m.exec(m.body);
  return hit ? Number(hit[1]) : null;
}

async function soak(o, pid, port, adminPort, chatPath, wrkEnv) {
  log(`soak: ${o.soak}s at 64 connections, sampling RSS and the usage log's queue`);
  const samples = [];
  const interval = Math.max(1, Math.round(o.soak / 30));
  const t0 = Date.now();
  const wrkDone = P.runWrk(`http://127.0.0.1:${port}${chatPath}`, 64, o.soak, wrkEnv);
  let finished = false;
  wrkDone.finally(() => (finished = true)).catch(() => {});
  while (!finished && Date.now() - t0 < (o.soak + 40) * 1000) {
    await P.sleep(interval * 1000);
    if (!finished) {
      samples.push({ t_s: (Date.now() - t0) / 1000, rss_mib: P.statusMiB([pid], 'VmRSS'),
        anon_mib: P.statusMiB([pid], 'RssAnon'), file_mib: P.statusMiB([pid], 'RssFile'),
        shmem_mib: P.statusMiB([pid], 'RssShmem'), usage_waiting: await usageWaiting(adminPort) });
    }
  }
  const w = await wrkDone;
  await P.sleep(2000);
  const idleAfter = P.statusMiB([pid], 'VmRSS');
  // Growth: the last quarter's mean against the second quarter's (after warm-up), so one sample's noise
  // does not count as growth.
  const q = (a, b) => samples.filter((s) => s.t_s >= a * o.soak && s.t_s < b * o.soak).map((s) => s.rss_mib);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(q(0.25, 0.5));
  const late = mean(q(0.75, 1.01));
  // Where RSS moved by half a MiB or more between two samples, and in which part: anonymous memory (the
  // heap: the allocator, SQLite's page cache), file pages (the binary and the libraries, code touched
  // late, SQLite's mapped WAL index) or shared memory (tmpfs, SysV).
  const steps = [];
  for (let i = 1; i < samples.length; i++) {
    const [a, b] = [samples[i - 1], samples[i]];
    if (Math.abs(b.rss_mib - a.rss_mib) >= 0.5) {
      steps.push({ t_s: b.t_s, rss_mib: b.rss_mib - a.rss_mib, anon_mib: b.anon_mib - a.anon_mib,
        file_mib: b.file_mib - a.file_mib, shmem_mib: b.shmem_mib - a.shmem_mib });
    }
  }
  return { seconds: o.soak, requests: w.requests, rps: w.rps, errors: w.errors, samples, steps,
    rss_early_mib: early, rss_late_mib: late, growth_mib: late - early,
    rss_max_mib: Math.max(...samples.map((s) => s.rss_mib)), rss_idle_after_mib: idleAfter,
    usage_waiting_max: samples.some((s) => s.usage_waiting != null)
      ? Math.max(...samples.map((s) => s.usage_waiting ?? 0)) : null,
    peak_rss_mib: P.statusMiB([pid], 'VmHWM') };
}

function report(o, res) {
  const L = [];
  const m = res.machine;
  L.push(`## End-to-end: ${o.upstream === 'nginx' ? 'static nginx upstream' : 'mock-llm upstream'}`);
  L.push('');
  L.push(`Command: \`${res.command}\``);
  L.push(`Machine: ${m.nproc} CPUs (${m.cpu}), Linux ${m.kernel}; load average at start ${m.load_start}, at end ${m.load_end}`);
  L.push(`Spillway ${m.git} (binary: ${m.build}${m.baseline_build ? `; baseline: ${m.baseline_build}` : ''}); ${m.nginx}; ` +
    `${m.portkey ? `@portkey-ai/gateway ${m.portkey}; ` : ''}${m.wrk.split(' [')[0]}; node ${m.node}`);
  const restarts = res.restarts ? `, Spillway's targets restarted ${res.restarts}x (every ${o.restartEvery} repetitions)` : '';
  L.push(`Each configuration ${repsText(o)} ${durationText(o)}, interleaved${o.sync ? ', each run after a `sync`' : ''}${restarts}; ` +
    `figures are medians over the repetitions (added latency: per repetition, proxy minus direct, then the median).`);
  const pol = res.policies;
  L.push(`Spillway policies seen working: key auth ${pol.key_auth ? 'on' : 'OFF'}, token limit ${pol.token_limit ? 'on' : 'OFF'}, ` +
    `token metrics ${pol.token_metrics ? 'on' : 'OFF'} (user_hash ${pol.token_metrics_user_hash ? 'on' : 'OFF'}), ` +
    `usage log ${pol.usage_log ? `on (${(res.usage_db_bytes / 1048576).toFixed(1)} MiB sqlite)` : 'OFF'}; ` +
    `access log ${res.access_log_lines} lines.`);
  const errs = (res.spillway_errors || []).filter((e) => !e.what.startsWith('401 missing_api_key'));
  if (errs.length) L.push(`Spillway's non-200 answers (access log, first 100k): ${errs.map((e) => `${e.n}x ${e.what}`).join('; ')}.`);
  L.push('');
  L.push('| conns | target | req/s | p50 us | p99 us | added p50 us | added p99 us | CPU s / 1000 req | errors |');
  L.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
  const sel = (t, c) => res.runs.filter((r) => r.target === t && r.conns === c);
  const run = (t, c, rep) => res.runs.find((r) => r.target === t && r.conns === c && r.rep === rep);
  // The median over the repetitions `reps` (a repetition may be drawn twice) of target minus direct.
  const addedOver = (t, c, reps, key) => median(reps.map((rep) => {
    const a = run(t, c, rep);
    const d = run('direct', c, rep);
    return a && d ? a[key] - d[key] : NaN;
  }).filter(Number.isFinite));
  // The repetitions run at `c` connections (--reps, or --reps-at's count for `c`).
  const repsOf = (c) => [...new Set(res.runs.filter((r) => r.conns === c).map((r) => r.rep))];
  const added = (t, c, key) => addedOver(t, c, repsOf(c), key);
  const summary = {};
  for (const c of o.conns) {
    for (const t of ['direct', 'nginx', 'spillway', 'portkey', 'baseline', 'nolog', 'noest', 'bare']) {
      const rs = sel(t, c);
      if (!rs.length) continue;
      const s = {
        rps: median(rs.map((r) => r.rps)),
        rps_min: Math.min(...rs.map((r) => r.rps)),
        rps_max: Math.max(...rs.map((r) => r.rps)),
        p50_us: median(rs.map((r) => r.p50_us)),
        p99_us: median(rs.map((r) => r.p99_us)),
        added_p50_us: t === 'direct' ? 0 : added(t, c, 'p50_us'),
        added_p99_us: t === 'direct' ? 0 : added(t, c, 'p99_us'),
        cpu_per_1000: median(rs.map((r) => r.cpu_per_1000)),
        errors: rs.reduce((a, r) => a + r.errors, 0),
      };
      summary[`${t}@${c}`] = s;
      L.push(`| ${c} | ${t} | ${f0(s.rps)} (${f0(s.rps_min)}-${f0(s.rps_max)}) | ${f0(s.p50_us)} | ${f0(s.p99_us)} | ` +
        `${t === 'direct' ? '' : f0(s.added_p50_us)} | ${t === 'direct' ? '' : f0(s.added_p99_us)} | ${f3(s.cpu_per_1000)} | ${s.errors} |`);
    }
  }
  res.summary = summary;
  L.push('');
  L.push('Ratios, Spillway / nginx (targets: added latency <= 1.2, throughput at 64 >= 0.8):');
  L.push('');
  L.push('| conns | added p50 | added p99 | req/s | CPU / req |');
  L.push('|---:|---:|---:|---:|---:|');
  res.ratios = {};
  for (const c of o.conns) {
    const s = summary[`spillway@${c}`];
    const n = summary[`nginx@${c}`];
    if (!s || !n) continue;
    const r = { added_p50: s.added_p50_us / n.added_p50_us, added_p99: s.added_p99_us / n.added_p99_us,
      rps: s.rps / n.rps, cpu: s.cpu_per_1000 / n.cpu_per_1000 };
    res.ratios[c] = r;
    L.push(`| ${c} | ${f2(r.added_p50)} | ${f2(r.added_p99)} | ${f2(r.rps)} | ${f2(r.cpu)} |`);
  }
  // The same ratios with their 90% bootstrap intervals over the repetitions, and what they say about the
  // targets: "met" only when the whole interval is on the right side of the limit.
  const addedRatio = (c, key, target = 'spillway') => (draw) => {
    const n = addedOver('nginx', c, draw, key);
    return n > 0 ? addedOver(target, c, draw, key) / n : NaN;
  };
  const rpsRatio = (c, ref = 'nginx') => (draw) => {
    const of = (t) => median(draw.map((rep) => run(t, c, rep)?.rps).filter(Number.isFinite));
    return of('spillway') / of(ref);
  };
  const ivRows = [];
  for (const c of o.conns) {
    if (!summary[`spillway@${c}`] || !summary[`nginx@${c}`] || !summary[`direct@${c}`]) continue;
    const reps = repsOf(c);
    const p50 = bootstrapInterval(reps, addedRatio(c, 'p50_us'));
    const p99 = bootstrapInterval(reps, addedRatio(c, 'p99_us'));
    const rps = bootstrapInterval(reps, rpsRatio(c));
    res.ratios[c].intervals = { added_p50: p50, added_p99: p99, rps };
    const targeted = c === 1 || c === 64;
    ivRows.push(`| ${c} | ${fIv(p50)} | ${targeted ? verdict(p50, 1.2, true) : ''} | ${fIv(p99)} | ` +
      `${targeted ? verdict(p99, 1.2, true) : ''} | ${fIv(rps)} | ${c === 64 ? verdict(rps, 0.8, false) : ''} |`);
  }
  if (ivRows.length) {
    L.push('');
    const over = repsText(o) === `${o.reps}x` ? `the ${o.reps} repetitions` : "each connection count's repetitions";
    L.push(`The ratios' 90% intervals (bootstrap over ${over}) and the targets they decide; "not ` +
      'resolved": the interval straddles the limit, or the ratio is undefined in over 5% of the draws:');
    L.push('');
    L.push('| conns | added p50 | target | added p99 | target | req/s | target |');
    L.push('|---:|---:|---|---:|---|---:|---|');
    L.push(...ivRows);
  }
  // A table of `target` / `ref` ratios per connection count; against nginx, with the added p50's 90% interval
  // (the one Spillway's 64-connection target is decided on, here for this variant).
  const ratioTable = (title, target, ref) => {
    const withIv = ref === 'nginx';
    L.push('');
    L.push(title);
    L.push('');
    L.push(`| conns | added p50 |${withIv ? ' 90% interval |' : ''} added p99 | req/s | CPU / req |`);
    L.push(`|---:|---:|${withIv ? '---:|' : ''}---:|---:|---:|`);
    for (const c of o.conns) {
      const s = summary[`${target}@${c}`];
      const b = summary[`${ref}@${c}`];
      if (!s || !b) continue;
      const iv = withIv && summary[`direct@${c}`] ? fIv(bootstrapInterval(repsOf(c), addedRatio(c, 'p50_us', target))) : '';
      L.push(`| ${c} | ${f2(s.added_p50_us / b.added_p50_us)} |${withIv ? ` ${iv} |` : ''} ` +
        `${f2(s.added_p99_us / b.added_p99_us)} | ${f2(s.rps / b.rps)} | ${f2(s.cpu_per_1000 / b.cpu_per_1000)} |`);
    }
  };
  if (o.conns.some((c) => summary[`portkey@${c}`])) {
    ratioTable('Spillway / Portkey (the Portkey AI gateway from npm, with no policies; an added-latency ratio below 1: ' +
      'Spillway adds less):',
      'spillway', 'portkey');
    const rows = [];
    for (const c of o.conns) {
      if (!summary[`spillway@${c}`] || !summary[`portkey@${c}`]) continue;
      const iv = bootstrapInterval(repsOf(c), rpsRatio(c, 'portkey'));
      res.ratios.portkey = { ...res.ratios.portkey, [c]: { rps: summary[`spillway@${c}`].rps / summary[`portkey@${c}`].rps, interval: iv } };
      rows.push(`${c} connection${c === 1 ? '' : 's'} ${fIv(iv)}${c === 64 ? ` (target >= 10: ${verdict(iv, 10, false)})` : ''}`);
    }
    L.push('');
    L.push(`Spillway / Portkey req/s, 90% intervals: ${rows.join('; ')}.`);
  }
  if (o.baseline) ratioTable(`Spillway / baseline (${res.baseline_bin}):`, 'spillway', 'baseline');
  if (o.nolog) ratioTable('Spillway without the usage log ("nolog") / nginx:', 'nolog', 'nginx');
  if (o.noest) ratioTable('Spillway without the prompt estimate ("noest") / nginx:', 'noest', 'nginx');
  if (o.bare) {
    ratioTable('Spillway with no policies ("bare") / nginx: the proxy alone:', 'bare', 'nginx');
    ratioTable('Spillway / bare: what the default policies cost:', 'spillway', 'bare');
  }
  L.push('');
  L.push(`Memory: Spillway idle RSS ${f1(res.spillway_idle_rss_mib)} MiB at start, ${f1(res.spillway_rss_after_load_mib)} MiB ` +
    `idle after the runs, peak ${f1(res.spillway_peak_rss_mib)} MiB` +
    (res.nginx_peak_rss_mib !== undefined ? `; nginx (master + workers, summed) idle ${f1(res.nginx_idle_rss_mib)} MiB, peak ${f1(res.nginx_peak_rss_mib)} MiB` : '') +
    (res.portkey_peak_rss_mib !== undefined ? `; Portkey idle ${f1(res.portkey_idle_rss_mib)} MiB, peak ${f1(res.portkey_peak_rss_mib)} MiB` : '') + '.');
  if (res.soak) {
    const s = res.soak;
    L.push(`Soak: ${s.seconds}s at 64 connections, ${f0(s.rps)} req/s, ${s.requests} requests, ${s.errors} errors; RSS ` +
      `${f1(s.rss_early_mib)} MiB (2nd quarter mean) -> ${f1(s.rss_late_mib)} MiB (last quarter mean), growth ` +
      `${f2(s.growth_mib)} MiB, max ${f1(s.rss_max_mib)}, idle after ${f1(s.rss_idle_after_mib)} MiB` +
      (s.usage_waiting_max != null ? `; usage records waiting at most ${s.usage_waiting_max} when sampled.` : '.'));
    if (s.samples && s.samples.length) {
      L.push(`Soak samples (s: RSS MiB${s.usage_waiting_max != null ? ' / usage records waiting' : ''}): ` +
        s.samples.map((x) => `${f0(x.t_s)}: ${f1(x.rss_mib)}${x.usage_waiting != null ? ` / ${x.usage_waiting}` : ''}`)
          .join(', '));
    }
    const last = s.samples && s.samples[s.samples.length - 1];
    if (last && last.anon_mib !== undefined) {
      L.push(`Soak RSS at the last sample: anonymous ${f1(last.anon_mib)}, file ${f1(last.file_mib)}, shared ` +
        `${f1(last.shmem_mib)} MiB; steps of 0.5 MiB or more between samples: ` +
        (s.steps && s.steps.length
          ? s.steps.map((x) => `at ${f0(x.t_s)} s ${sign1(x.rss_mib)} (anonymous ${sign1(x.anon_mib)}, file ` +
            `${sign1(x.file_mib)}, shared ${sign1(x.shmem_mib)})`).join('; ')
          : 'none') + '.');
    }
  }
  if (res.streaming) {
    const st = res.streaming;
    L.push('');
    L.push(`Streaming (mock-llm; ${o.streamRequests} streams per side, one keep-alive connection; paced: ` +
      `${st.tokens.paced} tokens at ${o.tps} tokens/s; fast: ${st.tokens.fast} tokens unpaced):`);
    L.push('');
    L.push('| stream | path | head p50 us | first event p50 us | first event p99 us | chunk gap p50 us | chunk gap p99 us | total p50 ms | reads/stream |');
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
    for (const kind of ['paced', 'fast']) {
      for (const side of ['direct', 'nginx', 'spillway', 'portkey']) {
        const x = st[kind][side];
        if (!x || x.error) continue;
        L.push(`| ${kind} | ${side} | ${f0(x.head_p50_us)} | ${f0(x.first_event_p50_us)} | ${f0(x.first_event_p99_us)} | ` +
          `${f0(x.gap_p50_us)} | ${f0(x.gap_p99_us)} | ${f2(x.total_p50_us / 1000)} | ${f0(x.reads_per_stream)} |`);
      }
    }
    const p = st.paced;
    const fast = st.fast;
    L.push('');
    L.push(`Added by Spillway: time to first event ${f0(p.spillway.first_event_p50_us - p.direct.first_event_p50_us)} us (p50, paced); ` +
      `end of a paced stream ${f0(p.spillway.total_p50_us - p.direct.total_p50_us)} us later; unpaced, ` +
      `${f1((fast.spillway.total_p50_us - fast.direct.total_p50_us) / st.tokens.fast)} us per token event.`);
    if (p.nginx) {
      L.push(`Added by nginx (proxy_buffering off): time to first event ${f0(p.nginx.first_event_p50_us - p.direct.first_event_p50_us)} us ` +
        `(p50, paced); end of a paced stream ${f0(p.nginx.total_p50_us - p.direct.total_p50_us)} us later; unpaced, ` +
        `${f1((fast.nginx.total_p50_us - fast.direct.total_p50_us) / st.tokens.fast)} us per token event.`);
    }
    if (p.portkey?.error || fast.portkey?.error) {
      L.push(`Portkey's streams failed: ${p.portkey?.error || fast.portkey.error}.`);
    } else if (p.portkey) {
      L.push(`Added by Portkey: time to first event ${f0(p.portkey.first_event_p50_us - p.direct.first_event_p50_us)} us ` +
        `(p50, paced); end of a paced stream ${f0(p.portkey.total_p50_us - p.direct.total_p50_us)} us later; unpaced, ` +
        `${f1((fast.portkey.total_p50_us - fast.direct.total_p50_us) / st.tokens.fast)} us per token event.`);
    }
  }
  if (res.tokenizer) {
    L.push('');
    L.push('Tokenizer (bench/tokenizer/run):');
    L.push('');
    L.push('```');
    L.push(res.tokenizer.trim());
    L.push('```');
  }
  console.log(L.join('\n'));
}

main().catch(async (e) => {
  console.error(`bench: ${e.stack || e.message}`);
  await P.stopAll();
  process.exit(1);
});
