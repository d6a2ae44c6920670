// One connection, every request timed, lined up against when the usage log's threads were on a CPU: which
// requests does the usage writer slow down, and by how much? (bench/run's one-connection p99 with the log
// on is worse than without it; this shows where the difference lives.)
//
//   node bench/e2e/timeline.mjs [--bin PATH] [--seconds 10] [--nolog] [--usage-opts 'batch_size: 256']
//                               [--pin CPU] [--spinner idle|normal] [--spinner-cpu CPU] [--no-perf]
//                               [--access-log FILE]
//
// Spillway runs the bench/run config with 2 workers in front of the static nginx upstream. A small C client
// (timeline.c, built with cc into the temp dir) sends the chat request of chat.lua back to back on one
// keep-alive connection and records each request's start and latency on CLOCK_MONOTONIC.
// `perf record -a -k CLOCK_MONOTONIC -e sched:sched_switch` meanwhile records when the usage log's threads
// (spw-usage, spw-usage-idle) were on a CPU. The report splits the requests into those that overlapped
// such a time and the rest, with their percentiles and their share of the slowest 1%. It also counts the
// rescheduling and function-call interrupts (IPIs) per request, from /proc/interrupts.
//
// --pin CPU: the upstream, the gateway (all threads) and the client on one CPU, so that no wake-up in the
// request's path crosses CPUs. --spinner idle|normal: a process that keeps a CPU busy during the run, at
// SCHED_IDLE (as the background writer runs) or at normal priority; --spinner-cpu pins it. The two together
// tell whether a busy second CPU slows the requests by itself or through the wake-ups sent to it.
// --access-log FILE: where the gateway's access log (stdout) goes (default: the temp dir; /dev/null drops it).
// --no-perf: without the sched_switch record (perf is from Debian's linux-perf, not installed by
// scripts/setup), only the latencies and interrupts.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as P from './procs.mjs';
import { CLIENT_KEY, SPILLWAY_ENV, spillwayConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const o = { bin: process.env.SPILLWAY_BIN || path.join(repo, 'build', 'spillway'), seconds: 10, nolog: false, usageOpts: '', pin: null, spinner: '', spinnerCpu: null, perf: true, accessLog: null };
const argv = process.argv.slice(2);
const usage = (message) => {
  console.error(`timeline: ${message}`);
  process.exit(2);
};
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--bin') o.bin = path.resolve(argv[++i]);
  else if (a === '--seconds') o.seconds = Math.max(1, Math.min(60, Number(argv[++i])));
  else if (a === '--nolog') o.nolog = true;
  else if (a === '--usage-opts') o.usageOpts = argv[++i];
  else if (a === '--pin') o.pin = Number(argv[++i]);
  else if (a === '--spinner') o.spinner = argv[++i];
  else if (a === '--spinner-cpu') o.spinnerCpu = Number(argv[++i]);
  else if (a === '--no-perf') o.perf = false;
  else if (a === '--access-log') o.accessLog = path.resolve(argv[++i]);
  else usage(`unknown option ${a}`);
}
if (o.spinner && !['idle', 'normal'].includes(o.spinner)) usage('--spinner: idle or normal');
if (o.nolog && o.usageOpts) usage('--usage-opts needs the usage log');
for (const cpu of [o.pin, o.spinnerCpu]) {
  if (cpu !== null && !(Number.isInteger(cpu) && cpu >= 0 && cpu < os.cpus().length)) usage(`no CPU ${cpu}`);
}

// Rescheduling (RES) and function-call (CAL) interrupts, summed over the CPUs.
function interrupts() {
  const out = {};
  for (const line of fs.readFileSync('/proc/interrupts', 'utf8').split('\n')) {
    const m = line.match(/^\s*(RES|CAL):\s+([\d\s]+?)\s+[A-Za-z]/);
    if (m) out[m[1]] = m[2].trim().split(/\s+/).reduce((s, v) => s + Number(v), 0);
  }
  return out;
}

// The gateway's threads whose name starts with `prefix`: tid -> name.
function threads(pid, prefix) {
  const out = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    if (name.startsWith(prefix)) out.set(Number(tid), name);
  }
  return out;
}

// Every stretch of time a task was on a CPU, from a sched_switch record: [start, end, tid, name] in ns,
// sorted by start. `name` is the task's command without a trailing CPU or instance number (kworker/1:2
// -> kworker), so that the instances of a kernel thread add up.
async function onCpu(file) {
  const text = `${file}.txt`;
  const fd = fs.openSync(text, 'w');
  try {
    execFileSync('perf', ['script', '-i', file, '-F', 'cpu,time,trace'], { stdio: ['ignore', fd, 'ignore'], timeout: 300000 });
  } finally {
    fs.closeSync(fd);
  }
  const current = new Map();  // cpu -> [since, tid, name]
  const out = [];
  for await (const line of readline.createInterface({ input: fs.createReadStream(text), crlfDelay: Infinity })) {
    const m = line.match(/^\s*\[(\d+)\]\s+(\d+)\.(\d+):\s+prev_comm=(.*) prev_pid=(\d+) .*==> next_comm=(.*) next_pid=(\d+)/);
    if (!m) continue;
    const cpu = Number(m[1]);
    const t = Number(m[2]) * 1e9 + Number(m[3].padEnd(9, '0'));
    const was = current.get(cpu);
    if (was && was[1] === Number(m[5])) out.push([was[0], t, was[1], was[2]]);
    current.set(cpu, [t, Number(m[7]), m[6].replace(/\/[\w:]+$|:\d+$/, '')]);
  }
  for (const [t0, tid, name] of current.values()) out.push([t0, Infinity, tid, name]);
  return out.sort((a, b) => a[0] - b[0]);
}

// Which of `reqs` ([start, latency], in time order) overlap one of `stretches` ([start, end, ...], sorted
// by start): an array of booleans. A stretch that ends late can overlap many requests, so the scan keeps
// the latest end seen so far.
function overlapping(reqs, stretches) {
  const out = new Array(reqs.length);
  let i = 0, reach = -Infinity;
  for (let k = 0; k < reqs.length; k++) {
    const [s, l] = reqs[k];
    while (i < stretches.length && stretches[i][0] < s + l) reach = Math.max(reach, stretches[i++][1]);
    out[k] = reach > s;
  }
  return out;
}

const pct = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000 : NaN);
const summary = (lat) => {
  const s = [...lat].sort((a, b) => a - b);
  return `p50 ${pct(s, 0.5).toFixed(0)}  p90 ${pct(s, 0.9).toFixed(0)}  p99 ${pct(s, 0.99).toFixed(0)}  p99.9 ${pct(s, 0.999).toFixed(0)} us`;
};

function pinAll(pid, cpu) {
  const r = spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`taskset ${pid} failed`);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-timeline-'));
  let spinner = null, rec = null, recExit = null;
  try {
    const tool = path.join(tmp, 'timeline');
    execFileSync('cc', ['-O2', '-o', tool, path.join(here, 'timeline.c')], { stdio: 'inherit' });
    const { child: up, port: upPort } = await P.startStaticUpstream(tmp);
    const conf = path.join(tmp, 'gateway.yaml');
    let text = spillwayConf(tmp, upPort, upPort, upPort, 2, !o.nolog);
    if (o.usageOpts) text = text.replace(/usage_log: \{ sqlite: (\S+) \}/, `usage_log: { sqlite: $1, ${o.usageOpts} }`);
    fs.writeFileSync(conf, text);
    const ready = path.join(tmp, 'ready.json');
    const sw = P.start('spillway', o.bin, ['serve', '--config', conf, '--ready-file', ready, '--log-level', 'info'],
      { env: SPILLWAY_ENV, stdoutFile: o.accessLog ?? path.join(tmp, 'access.log'), stderrFile: path.join(tmp, 'spillway.log') });
    const ports = await P.waitReadyFile(ready, sw, 30000);
    if (o.pin !== null) for (const pid of [up.pid, ...P.childPids(up.pid), sw.pid]) pinAll(pid, o.pin);
    P.wrkChat(ports.port, 1, 2, 1);  // warm-up: connections, caches, the usage log's first pages

    const usage = threads(sw.pid, 'spw-usage');
    if (!o.nolog && usage.size === 0) throw new Error('no spw-usage thread in the gateway');
    const perfFile = path.join(tmp, 'sched.data');
    if (o.perf) {
      rec = spawn('perf', ['record', '-a', '-k', 'CLOCK_MONOTONIC', '-e', 'sched:sched_switch', '-o', perfFile], { stdio: 'ignore' });
      recExit = new Promise((resolve) => rec.on('exit', resolve));
      const failed = new Promise((resolve) => rec.on('error', resolve));
      const r = await Promise.race([failed, P.sleep(800).then(() => null)]);
      if (r) throw new Error(`perf: ${r.message} (install linux-perf, or pass --no-perf)`);
      if (rec.exitCode !== null) throw new Error(`perf record exited with ${rec.exitCode} (run as root, or pass --no-perf)`);
    }
    if (o.spinner) {
      const args = [...(o.spinnerCpu !== null ? ['taskset', '-c', String(o.spinnerCpu)] : []),
        ...(o.spinner === 'idle' ? ['chrt', '-i', '0'] : []), tool, 'spin', String(o.seconds + 2)];
      spinner = spawn(args[0], args.slice(1), { stdio: 'ignore' });
    }
    const before = interrupts();
    const latFile = path.join(tmp, 'lat.txt');
    const clientCmd = [...(o.pin !== null ? ['taskset', '-c', String(o.pin)] : []), tool, 'client', String(ports.port),
      String(o.seconds), path.join(here, 'chat-body.json'), CLIENT_KEY, latFile];
    execFileSync(clientCmd[0], clientCmd.slice(1), { timeout: (o.seconds + 30) * 1000, stdio: ['ignore', 'ignore', 'inherit'] });
    const after = interrupts();
    if (rec) {
      if (rec.exitCode === null) rec.kill('SIGINT');
      await recExit;
    }
    if (spinner) {
      spinner.kill('SIGKILL');
      spinner = null;
    }

    const reqs = fs.readFileSync(latFile, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
    const n = reqs.length;
    const lat = reqs.map((r) => r[1]);
    const span = (reqs[n - 1][0] + reqs[n - 1][1] - reqs[0][0]) / 1e9;
    console.log(`${o.bin}${o.nolog ? ' (no usage log)' : ''}${o.pin !== null ? `, pinned to CPU ${o.pin}` : ''}` +
      `${o.spinner ? `, ${o.spinner}-priority spinner${o.spinnerCpu !== null ? ` on CPU ${o.spinnerCpu}` : ''}` : ''}: ` +
      `${n} requests in ${span.toFixed(2)} s at one connection`);
    console.log(`  all            ${summary(lat)}`);
    console.log(`  interrupts per request: rescheduling ${((after.RES - before.RES) / n).toFixed(2)}, function call ${((after.CAL - before.CAL) / n).toFixed(2)}`);
    if (rec) {
      const stretches = await onCpu(perfFile);
      const t0 = reqs[0][0], t1 = reqs[n - 1][0] + reqs[n - 1][1];
      const cut = [...lat].sort((a, b) => a - b)[Math.floor(0.99 * n)];
      const slow = lat.filter((l) => l >= cut).length;
      const within = (a, b) => Math.max(0, Math.min(b, t1) - Math.max(a, t0));
      if (usage.size > 0) {
        const busy = stretches.filter((x) => usage.has(x[2]));
        const hits = overlapping(reqs, busy);
        const over = lat.filter((_, k) => hits[k]), clear = lat.filter((_, k) => !hits[k]);
        const slowOver = over.filter((l) => l >= cut).length;
        const byName = new Map();
        let busyNs = 0;
        for (const [a, b, tid] of busy) {
          const e = byName.get(usage.get(tid)) || { ns: 0, n: 0 };
          e.ns += within(a, b);
          e.n += 1;
          busyNs += within(a, b);
          byName.set(usage.get(tid), e);
        }
        const each = [...byName].map(([name, e]) => `${name} ${(e.ns / 1e6).toFixed(1)} ms in ${e.n}`).join(', ');
        console.log(`  the usage log's threads were on a CPU for ${(busyNs / 1e6).toFixed(1)} ms ` +
          `(${((100 * busyNs) / ((t1 - t0) || 1)).toFixed(2)}% of the run; ${each} stretches)`);
        console.log(`  overlapping    ${String(over.length).padStart(7)} requests (${((100 * over.length) / n).toFixed(2)}%)  ${summary(over)}`);
        console.log(`  not            ${String(clear.length).padStart(7)} requests (${((100 * clear.length) / n).toFixed(2)}%)  ${summary(clear)}`);
        console.log(`  of the slowest 1% (>= ${(cut / 1000).toFixed(0)} us), ${((100 * slowOver) / slow).toFixed(1)}% overlapped the usage log's threads`);
      }
      // Everything else that ran meanwhile: not the gateway, the upstream, the client, perf or the idle task.
      const own = new Set([...fs.readdirSync(`/proc/${sw.pid}/task`).map(Number), ...usage.keys()]);
      const upstream = new Set([up.pid, ...P.childPids(up.pid)]);
      const others = new Map();
      for (const x of stretches) {
        if (own.has(x[2]) || upstream.has(x[2]) || x[2] === 0 || ['timeline', 'perf', 'spillway'].includes(x[3])) continue;
        if (!others.has(x[3])) others.set(x[3], []);
        others.get(x[3]).push(x);
      }
      const rows = [];
      for (const [name, list] of others) {
        const hits = overlapping(reqs, list);
        let inSlow = 0, inAll = 0;
        for (let k = 0; k < n; k++) {
          if (!hits[k]) continue;
          inAll += 1;
          if (lat[k] >= cut) inSlow += 1;
        }
        if (inSlow > 0) rows.push([name, inSlow, inAll]);
      }
      rows.sort((a, b) => b[1] - a[1]);
      console.log(`  other tasks on a CPU during the slowest 1%: ${rows.length ? '' : 'none'}`);
      for (const [name, inSlow, inAll] of rows.slice(0, 8)) {
        console.log(`    ${name.padEnd(22)} ${((100 * inSlow) / slow).toFixed(1).padStart(5)}% of the slowest 1%, ${((100 * inAll) / n).toFixed(2).padStart(5)}% of all requests`);
      }
    }
    await P.stop(sw, 20000);
  } finally {
    if (spinner) spinner.kill('SIGKILL');
    if (rec && rec.exitCode === null) {
      rec.kill('SIGINT');
      await recExit;
    }
    await P.stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

process.stdout.on('error', () => {});
main().catch(async (e) => {
  console.error(`timeline: ${e.stack || e.message}`);
  await P.stopAll();
  process.exit(1);
});
