// Two builds of the gateway side by side, under load at the same time: which one spends less CPU per
// request. On a machine whose speed changes from one minute to the next (bench/RESULTS.md: the same binary
// at 20k or 30k req/s), runs one after the other compare the machine's moods as much as the builds; two
// gateways loaded together share them. Each build gets its own `spillway serve` (the bench/run config,
// usage log on, its own usage file) in front of one static nginx upstream, and its own wrk with half the
// connections; both wrk runs start together. Per round: each side's req/s, p50, p99 and CPU time per
// request (user + system, from /proc), and B's ratios to A. The sides' wrk runs start in turn first, round
// by round.
//
//   node bench/e2e/ab.mjs --a PATH --b PATH [--seconds 10] [--rounds 6] [--conns 32] [--workers 2]
//                         [--nolog-a] [--nolog-b] [--usage-opts-a 'batch_size: 1024'] [--usage-opts-b ...]
//
// A and B may be the same binary with different settings: --nolog-X runs side X without the usage log,
// --usage-opts-X adds usage_log settings to side X's config.
//
// The verdict is the median of the rounds' ratios, with their range: a difference smaller than that range
// is not one this machine can show.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as P from './procs.mjs';
import { CLIENT_KEY, SPILLWAY_ENV, spillwayConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const o = { a: null, b: null, seconds: 10, rounds: 6, conns: 32, workers: 2, nologA: false, nologB: false,
  usageOptsA: '', usageOptsB: '' };
const argv = process.argv.slice(2);
const num = (v, lo, hi) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new Error(`expected an integer in [${lo}, ${hi}], got ${v}`);
  return n;
};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--a') o.a = path.resolve(argv[++i]);
  else if (a === '--b') o.b = path.resolve(argv[++i]);
  else if (a === '--seconds') o.seconds = num(argv[++i], 1, 120);
  else if (a === '--rounds') o.rounds = num(argv[++i], 1, 50);
  else if (a === '--conns') o.conns = num(argv[++i], 1, 512);
  else if (a === '--workers') o.workers = num(argv[++i], 1, 64);
  else if (a === '--nolog-a') o.nologA = true;
  else if (a === '--nolog-b') o.nologB = true;
  else if (a === '--usage-opts-a') o.usageOptsA = argv[++i];
  else if (a === '--usage-opts-b') o.usageOptsB = argv[++i];
  else throw new Error(`unknown option ${a}`);
}
if (!o.a || !o.b) throw new Error('usage: ab.mjs --a PATH --b PATH [--seconds 10] [--rounds 6] [--conns 32]');
for (const bin of [o.a, o.b]) {
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`${bin}: not an executable file`);
  }
}

// What chat.lua needs: the client key and the ~1 KB request body.
const wrkEnv = { BENCH_API_KEY: CLIENT_KEY, BENCH_BODY_FILE: path.join(here, 'chat-body.json') };
const wrkChat = (port, conns, seconds) => P.runWrk(`http://127.0.0.1:${port}/v1/chat/completions`, conns, seconds, wrkEnv);

async function startGateway(dir, bin, upPort, nolog, usageOpts) {
  fs.mkdirSync(dir, { recursive: true });
  const conf = path.join(dir, 'gateway.yaml');
  let text = spillwayConf(dir, upPort, upPort, upPort, o.workers, !nolog);
  if (usageOpts) text = text.replace(/usage_log: \{ sqlite: (\S+) \}/, `usage_log: { sqlite: $1, ${usageOpts} }`);
  fs.writeFileSync(conf, text);
  const ready = path.join(dir, 'ready.json');
  const child = P.start(`spillway ${path.basename(dir)}`, bin, ['serve', '--config', conf, '--ready-file', ready, '--log-level', 'warn'],
    { env: SPILLWAY_ENV, stdoutFile: path.join(dir, 'access.log'), stderrFile: path.join(dir, 'spillway.log') });
  const ports = await P.waitReadyFile(ready, child, 30000);
  return { child, port: ports.port };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-ab-'));
  let keep = false;
  try {
    const { port: upPort } = await P.startStaticUpstream(tmp);
    const sides = {
      A: { bin: o.a, ...(await startGateway(path.join(tmp, 'a'), o.a, upPort, o.nologA, o.usageOptsA)) },
      B: { bin: o.b, ...(await startGateway(path.join(tmp, 'b'), o.b, upPort, o.nologB, o.usageOptsB)) },
    };
    const describe = (bin, nolog, opts) => `${bin}${nolog ? ' (no usage log)' : opts ? ` (usage_log: ${opts})` : ''}`;
    console.log(`A: ${describe(o.a, o.nologA, o.usageOptsA)}\nB: ${describe(o.b, o.nologB, o.usageOptsB)}`);
    console.log(`${o.rounds} rounds of ${o.seconds} s, ${o.conns} connections to each side at once, ${o.workers} workers each`);
    await Promise.all([wrkChat(sides.A.port, o.conns, 2), wrkChat(sides.B.port, o.conns, 2)]);  // warm-up
    const rows = [];
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 === 0 ? ['A', 'B'] : ['B', 'A'];
      const cpu0 = Object.fromEntries(order.map((k) => [k, P.cpuSeconds([sides[k].child.pid])]));
      const runs = order.map((k) => wrkChat(sides[k].port, o.conns, o.seconds));
      const done = await Promise.all(runs);
      const w = Object.fromEntries(order.map((k, i) => [k, done[i]]));
      const r = {};
      for (const k of ['A', 'B']) {
        const cpu = P.cpuSeconds([sides[k].child.pid]) - cpu0[k];
        r[k] = { rps: w[k].rps, p50: w[k].p50_us, p99: w[k].p99_us, cpu_us: (cpu / w[k].requests) * 1e6,
          errors: w[k].errors };
      }
      rows.push(r);
      const f = (x) => x.toFixed(0);
      console.log(`round ${round + 1}: A ${f(r.A.rps)} req/s p50 ${r.A.p50} p99 ${r.A.p99} us, ${r.A.cpu_us.toFixed(1)} us CPU/req` +
        `${r.A.errors ? ` ERRORS ${r.A.errors}` : ''} | B ${f(r.B.rps)} req/s p50 ${r.B.p50} p99 ${r.B.p99} us, ` +
        `${r.B.cpu_us.toFixed(1)} us CPU/req${r.B.errors ? ` ERRORS ${r.B.errors}` : ''} | B/A req/s ${(r.B.rps / r.A.rps).toFixed(3)} ` +
        `CPU/req ${(r.B.cpu_us / r.A.cpu_us).toFixed(3)}`);
    }
    const summary = (name, fn) => {
      const xs = rows.map(fn);
      return `${name} ${median(xs).toFixed(3)} (${Math.min(...xs).toFixed(3)}-${Math.max(...xs).toFixed(3)})`;
    };
    console.log(`B/A, median (range) of ${rows.length} rounds: ${summary('req/s', (r) => r.B.rps / r.A.rps)}, ` +
      `${summary('CPU/req', (r) => r.B.cpu_us / r.A.cpu_us)}, ${summary('p50', (r) => r.B.p50 / r.A.p50)}, ` +
      `${summary('p99', (r) => r.B.p99 / r.A.p99)}`);
    const totalErrors = rows.reduce((n, r) => n + r.A.errors + r.B.errors, 0);
    if (totalErrors) {
      keep = true;
      console.error(`ab: ${totalErrors} failed requests (kept ${tmp}; see {a,b}/access.log)`);
      process.exitCode = 1;
    }
  } finally {
    await P.stopAll();
    if (!keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  console.error(e);
  await P.stopAll();
  process.exit(1);
});
