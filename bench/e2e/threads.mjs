// CPU time per thread of `spillway serve` under wrk load (the bench/run config, static nginx upstream):
// utime and stime from /proc/<pid>/task/<tid>/stat, before and after, per thread name, in microseconds per
// request. Shows where a request's CPU goes between the workers and the usage-log writer, user and kernel.
//
//   node bench/e2e/threads.mjs [--bin PATH] [--seconds 10] [--conns 64] [--workers 2] [--strace] [--nginx]
//
// --strace: syscalls per request instead (strace -c -f attached during the run; slows the gateway down).
// --nginx: the nginx reverse proxy of bench/run instead of Spillway (its master and workers).
// --nolog: Spillway without the usage log; --usage-opts 'batch_size: 32, ...': more usage_log settings;
// --no-estimate: the token limit without the prompt-token estimate (reservations from max_tokens only);
// --access-log FILE: where Spillway's access log (stdout) goes (default: the temp dir; /dev/null to drop it).
// --smaps: after the run and 3 s idle, the gateway's RSS by mapping (anonymous, heap, libraries, the binary).
// Spillway's own count of usage records written, taken over and waiting at most is printed at the end.
// --perf FILE: also `perf record -g` the gateway during the run into FILE (read it with `perf report -i FILE`);
// --call-graph dwarf,16384: unwind with DWARF instead (the system libraries have no frame pointers, so -g
// loses the callers of, say, malloc; the files get large: keep the run short).
// --gaps: also record the gateway's system calls (perf's raw_syscalls tracepoints) during the run, and report
// per thread name how long each kind of call took and how long the thread ran between two calls (e.g.
// "sendmsg > recvfrom": from a response's write to the next read), median, p90 and p99 in us: the
// gateway's own timeline of a request, side by side with nginx's (--nginx).
// --sched: also record the scheduler's switches and wake-ups on every CPU during the run, and report the
// wake-ups that waited longer than 250 us for their CPU, by the task that held it and the kernel function
// it was in when it let go; then, for every task woken often, the distribution of its waits from wake-up
// to running.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as P from './procs.mjs';
import { SPILLWAY_ENV, proxyNginxConf, spillwayConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const o = { bin: process.env.SPILLWAY_BIN || path.join(repo, 'build', 'spillway'), seconds: 10, conns: 64, workers: os.cpus().length, strace: false, gaps: false, perf: '', nginx: false, smaps: false, sched: false, nolog: false, usageOpts: '', accessLog: '' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--bin') o.bin = path.resolve(argv[++i]);
  else if (a === '--seconds') o.seconds = Math.min(120, Number(argv[++i]));
  else if (a === '--conns') o.conns = Math.min(256, Number(argv[++i]));
  else if (a === '--workers') o.workers = Number(argv[++i]);
  else if (a === '--strace') o.strace = true;
  else if (a === '--gaps') o.gaps = true;
  else if (a === '--nginx') o.nginx = true;
  else if (a === '--smaps') o.smaps = true;
  else if (a === '--nolog') o.nolog = true;
  else if (a === '--no-estimate') o.noEstimate = true;
  else if (a === '--usage-opts') o.usageOpts = argv[++i];
  else if (a === '--access-log') o.accessLog = path.resolve(argv[++i]);
  else if (a === '--perf') o.perf = path.resolve(argv[++i]);
  else if (a === '--call-graph') o.callGraph = argv[++i];
  else if (a === '--sched') o.sched = true;
  else throw new Error(`unknown option ${a}`);
}

// {name: {utime, stime}} in clock ticks, summed over the threads of that name.
function threadTimes(pids) {
  const out = {};
  for (const pid of [pids].flat()) for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let stat;
    try { stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'); } catch { continue; }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const t = out[name] || (out[name] = { utime: 0, stime: 0, threads: 0 });
    t.utime += Number(f[11]);
    t.stime += Number(f[12]);
    t.threads += 1;
  }
  return out;
}

// The lines of `perf script -F fields` of the record `file`, streamed through a file next to it: a busy
// run gives hundreds of megabytes to gigabytes of text, more than a string holds.
function perfScript(file, fields) {
  const script = `${file}.txt`;
  const out = fs.openSync(script, 'w');
  try {
    execFileSync('perf', ['script', '-i', file, '-F', fields], { stdio: ['ignore', out, 'ignore'], timeout: 600000 });
  } finally {
    fs.closeSync(out);
  }
  return readline.createInterface({ input: fs.createReadStream(script), crlfDelay: Infinity });
}

// Wake-ups that waited more than 250 us for their CPU, grouped by the task that held it meanwhile (the
// one switched out when the wait ended) and the kernel function that task let go of the CPU in: a kernel
// without preemption of kernel code (PREEMPT_NONE) lets a long system call hold a woken task back, even
// one of a thread at idle priority.
async function reportSchedDelays(file, requests) {
  const woken = new Map();  // tid -> wake-up time (s)
  const byHolder = new Map();
  const running = new Map();  // CPU -> the task on it (from the switches seen so far)
  const wokenOnto = new Map();  // tid of a woken wrk thread -> { cpu: the CPU it was woken onto, holder }
  const wrkHeld = new Map();  // holder at wrk's wake-up -> { n, total (s) }: wrk's waits over 10 us
  let wrkWakeups = 0;
  const waits = new Map();  // woken task's name -> its waits for a CPU (s)
  let pending = null;  // a long wait whose holder's stack lines follow
  let count = 0;
  for await (const line of perfScript(file, 'comm,tid,cpu,time,event,trace,ip,sym')) {
    if (/^\s/.test(line)) {
      const sym = (line.trim().split(/\s+/)[1] || '').replace(/\+0x.*$/, '');
      if (pending && sym && !/^(__schedule|schedule|io_schedule|schedule_timeout|preempt_schedule\w*)$/.test(sym)) {
        pending.where.set(sym, (pending.where.get(sym) || 0) + 1);
        pending = null;
      }
      continue;
    }
    pending = null;
    const m = line.match(/^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+sched:(sched_\w+):\s+(.*)$/);
    if (!m) continue;
    const t = Number(m[4]);
    if (m[5] === 'sched_wakeup') {
      const w = m[6].match(/comm=(.*) pid=(\d+) .*target_cpu=(\d+)/);
      if (w) {
        woken.set(Number(w[2]), t);
        if (w[1].startsWith('wrk')) {
          const cpu = Number(w[3]);
          wokenOnto.set(Number(w[2]), { cpu, holder: running.get(cpu) || '?' });
        }
      }
      continue;
    }
    const s = m[6].match(/prev_comm=(.*) prev_pid=(\d+) .*==> next_comm=(.*) next_pid=(\d+)/);
    if (!s) continue;
    running.set(Number(m[3]), s[3].replace(/[:/]\d+$/, ''));
    const since = woken.get(Number(s[4]));
    woken.delete(Number(s[4]));
    const onto = wokenOnto.get(Number(s[4]));
    wokenOnto.delete(Number(s[4]));
    if (onto && since !== undefined) {
      wrkWakeups += 1;
      if (t - since > 10e-6) {
        // The task on that CPU when wrk was woken (the waker itself when wrk was woken onto its CPU).
        const h = wrkHeld.get(onto.holder) || { n: 0, total: 0 };
        h.n += 1;
        h.total += t - since;
        wrkHeld.set(onto.holder, h);
      }
    }
    if (since !== undefined) {
      const woke = s[3].replace(/[:/]\d+$/, '');
      if (!waits.has(woke)) waits.set(woke, []);
      waits.get(woke).push(t - since);
    }
    if (since === undefined || t - since < 250e-6) continue;
    count += 1;
    const holder = s[1].replace(/[:/]\d+$/, '');
    const h = byHolder.get(holder) || { n: 0, max: 0, total: 0, where: new Map() };
    h.n += 1;
    h.total += t - since;
    h.max = Math.max(h.max, t - since);
    byHolder.set(holder, h);
    pending = h;
  }
  console.log(`wake-ups that waited > 250 us for a CPU: ${count} (${((count / requests) * 100).toFixed(3)} per 100 requests), by the task holding it:`);
  for (const [holder, h] of [...byHolder].sort((a, b) => b[1].total - a[1].total).slice(0, 10)) {
    const where = [...h.where].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([f, n]) => `${f} ${n}`).join(', ');
    console.log(`  ${holder.padEnd(18)} ${String(h.n).padStart(5)}  max ${(h.max * 1e3).toFixed(2)} ms  total ${(h.total * 1e3).toFixed(1)} ms  (${where})`);
  }
  // wrk's wake-ups are the ends of requests: the ones that waited more than 10 us, by the task on the CPU
  // wrk was woken onto (at one connection, a thread of the gateway's here is one a request waited for).
  const held = [...wrkHeld].reduce((a, [, h]) => a + h.n, 0);
  console.log(`wrk's wake-ups that waited > 10 us for a CPU: ${held} of ${wrkWakeups}, by the task on the CPU it was woken onto (n, mean us):`);
  for (const [holder, h] of [...wrkHeld].sort((a, b) => b[1].total - a[1].total).slice(0, 8)) {
    const label = holder === 'swapper' ? 'swapper (idle CPU)' : holder;  // the CPU's wake from idle
    console.log(`  ${label.padEnd(18)} ${String(h.n).padStart(6)}  mean ${((h.total / h.n) * 1e6).toFixed(0)}`);
  }
  // Every wake-up, not only the long ones: how long each task waited from being woken to running.
  console.log('wait from wake-up to running, by the task woken (us; tasks woken 1000 times or more):');
  for (const [name, w] of [...waits].filter(([, w]) => w.length >= 1000).sort((a, b) => b[1].length - a[1].length)) {
    w.sort((a, b) => a - b);
    const at = (q) => (w[Math.min(w.length - 1, Math.floor(q * w.length))] * 1e6).toFixed(0);
    const perRequest = (w.length / requests).toFixed(2);
    console.log(`  ${name.padEnd(18)} ${String(w.length).padStart(8)} (${perRequest} per request)  p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  p99.9 ${at(0.999)}`);
  }
}

// x86-64 system call numbers of the calls a proxy makes per request; others are shown by number.
const SYSCALL_NAMES = { 0: 'read', 1: 'write', 3: 'close', 7: 'poll', 16: 'ioctl', 17: 'pread64', 18: 'pwrite64', 19: 'readv',
  20: 'writev', 24: 'sched_yield', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg', 55: 'getsockopt', 72: 'fcntl',
  202: 'futex', 228: 'clock_gettime', 232: 'epoll_wait', 233: 'epoll_ctl', 281: 'epoll_pwait', 286: 'timerfd_settime',
  288: 'accept4', 441: 'epoll_pwait2' };

// The gateway's system calls (`perf record -e raw_syscalls:*` of its threads): per thread name, each call's
// duration ("in X") and the time the thread ran between two calls ("X > Y"), the common ones first.
async function reportSyscallGaps(file, requests) {
  const threads = new Map();  // thread name -> { last: Map(tid -> {t, nr}), entered: Map(tid -> t), spans: Map(key -> [us]) }
  for await (const line of perfScript(file, 'comm,tid,time,event,trace')) {
    const m = line.match(/^\s*(.+?)\s+(\d+)\s+([\d.]+):\s+raw_syscalls:sys_(enter|exit):\s+NR (\d+)/);
    if (!m) continue;
    const name = m[1].replace(/[:/]\d+$/, '');
    const tid = m[2], t = Number(m[3]) * 1e6, nr = SYSCALL_NAMES[m[5]] || `#${m[5]}`;
    let th = threads.get(name);
    if (!th) threads.set(name, (th = { last: new Map(), entered: new Map(), spans: new Map() }));
    const add = (key, us) => {
      if (!th.spans.has(key)) th.spans.set(key, []);
      th.spans.get(key).push(us);
    };
    if (m[4] === 'enter') {
      const last = th.last.get(tid);
      if (last) add(`${last.nr} > ${nr}`, t - last.t);
      th.entered.set(tid, t);
    } else {
      const since = th.entered.get(tid);
      if (since !== undefined) add(`in ${nr}`, t - since);
      th.last.set(tid, { t, nr });
    }
  }
  console.log('system calls (in X: its duration) and the time between them (X > Y), by thread name; us:');
  for (const [name, th] of threads) {
    const total = [...th.spans].reduce((a, [k, v]) => a + (k.startsWith('in ') ? v.length : 0), 0);
    if (total === 0) continue;
    console.log(`  ${name}: ${(total / requests).toFixed(2)} calls per request`);
    for (const [key, v] of [...th.spans].sort((a, b) => b[1].length - a[1].length)) {
      if (v.length < total / 50) continue;  // rarer than one call in 50
      v.sort((a, b) => a - b);
      const at = (q) => v[Math.min(v.length - 1, Math.floor(q * v.length))].toFixed(1).padStart(7);
      console.log(`    ${key.padEnd(28)} ${(v.length / requests).toFixed(2).padStart(6)} per request  p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}`);
    }
  }
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-threads-'));
  try {
    const { child: up, port: upPort } = await P.startStaticUpstream(tmp);
    let sw, ports, pids;
    if (o.nginx) {
      const port = await P.freePort();
      const px = path.join(tmp, 'nginx-proxy');
      sw = await P.startNginx('nginx-proxy', px, proxyNginxConf(px, port, upPort, o.workers), port);
      ports = { port };
      pids = [sw.pid, ...P.childPids(sw.pid)];
    } else {
      const conf = path.join(tmp, 'gateway.yaml');
      let text = spillwayConf(tmp, upPort, upPort, upPort, o.workers, !o.nolog, !o.noEstimate);
      if (o.usageOpts) text = text.replace(/usage_log: \{ sqlite: (\S+) \}/, `usage_log: { sqlite: $1, ${o.usageOpts} }`);
      fs.writeFileSync(conf, text);
      const ready = path.join(tmp, 'ready.json');
      sw = P.start('spillway', o.bin, ['serve', '--config', conf, '--ready-file', ready, '--log-level', 'info'],
        { env: SPILLWAY_ENV, stdoutFile: o.accessLog || path.join(tmp, 'access.log'), stderrFile: path.join(tmp, 'spillway.log') });
      ports = await P.waitReadyFile(ready, sw, 30000);
      pids = [sw.pid];
    }
    P.wrkChat(ports.port, o.conns, 2, o.conns > 1 ? 2 : 1);
    if (o.strace) {
      const file = path.join(tmp, 'strace.txt');
      const st = spawn('strace', ['-c', '-f', '-o', file, ...pids.flatMap((p) => ['-p', String(p)])], { stdio: 'ignore' });
      await P.sleep(500);
      const w = P.wrkChat(ports.port, o.conns, o.seconds, o.conns > 1 ? 2 : 1);
      st.kill('SIGINT');
      await new Promise((r) => st.on('exit', r));
      console.log(`${w.requests} requests at ${o.conns} connections; syscalls per request:`);
      for (const l of fs.readFileSync(file, 'utf8').split('\n')) {
        const m = l.match(/^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d*)\s*(\w+)$/);
        if (m) console.log(`  ${m[3].padEnd(18)} ${(Number(m[1]) / w.requests).toFixed(3)}${m[2] ? `  (errors ${(Number(m[2]) / w.requests).toFixed(3)})` : ''}`);
      }
      await P.stop(sw, 20000);
      return;
    }
    const before = threadTimes(pids);
    const callGraph = o.callGraph ? ['--call-graph', o.callGraph] : ['-g'];
    const rec = o.perf ? spawn('perf', ['record', ...callGraph, '-o', o.perf, '-p', pids.join(',')], { stdio: 'ignore' }) : null;
    const gapsFile = path.join(tmp, 'syscalls.data');
    const gaps = o.gaps
      ? spawn('perf', ['record', '-e', 'raw_syscalls:sys_enter', '-e', 'raw_syscalls:sys_exit', '-o', gapsFile, '-p', pids.join(',')], { stdio: 'ignore' })
      : null;
    const schedFile = path.join(tmp, 'sched.data');
    const sched = o.sched
      ? spawn('perf', ['record', '-a', '-g', '-e', 'sched:sched_switch', '-e', 'sched:sched_wakeup', '-o', schedFile], { stdio: 'ignore' })
      : null;
    if (rec || sched || gaps) await P.sleep(500);
    const w = P.wrkChat(ports.port, o.conns, o.seconds, o.conns > 1 ? 2 : 1);
    const after = threadTimes(pids);
    for (const r of [rec, sched, gaps]) {
      if (!r) continue;
      r.kill('SIGINT');
      await new Promise((done) => r.on('exit', done));
    }
    const tick = 1e6 / P.CLK_TCK;
    console.log(`${o.nginx ? 'nginx' : o.bin}: ${w.requests} requests at ${o.conns} connections, ${Math.round(w.requests / o.seconds)} req/s, ` +
      `latency p50 ${w.p50_us} p99 ${w.p99_us} p99.9 ${w.p999_us} max ${w.max_us} us; CPU us per request:`);
    let tu = 0, ts = 0;
    for (const [name, a] of Object.entries(after)) {
      const b = before[name] || { utime: 0, stime: 0 };
      const u = ((a.utime - b.utime) * tick) / w.requests, s = ((a.stime - b.stime) * tick) / w.requests;
      tu += u; ts += s;
      if (u + s > 0) console.log(`  ${name.padEnd(16)} x${a.threads}  user ${u.toFixed(2)}  sys ${s.toFixed(2)}`);
    }
    console.log(`  ${'all'.padEnd(16)}     user ${tu.toFixed(2)}  sys ${ts.toFixed(2)}`);
    if (sched) await reportSchedDelays(schedFile, w.requests);
    if (gaps) await reportSyscallGaps(gapsFile, w.requests);
    if (o.smaps) {
      await P.sleep(3000);
      const rss = {};
      let name = '';
      for (const l of fs.readFileSync(`/proc/${sw.pid}/smaps`, 'utf8').split('\n')) {
        const head = l.match(/^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/);
        if (head) { name = head[1] ? path.basename(head[1]) : '[anon]'; continue; }
        const m = l.match(/^Rss:\s+(\d+) kB/);
        if (m) rss[name] = (rss[name] || 0) + Number(m[1]);
      }
      const total = Object.values(rss).reduce((a, b) => a + b, 0);
      console.log(`RSS after 3 s idle: ${(total / 1024).toFixed(1)} MiB`);
      for (const [n, kb] of Object.entries(rss).sort((a, b) => b[1] - a[1]).slice(0, 12)) {
        console.log(`  ${(kb / 1024).toFixed(2).padStart(7)} MiB  ${n}`);
      }
    }
    await P.stop(sw, 20000);
    await P.stop(up);
    if (!o.nginx) {
      const closed = fs.readFileSync(path.join(tmp, 'spillway.log'), 'utf8').split('\n').find((l) => l.includes('usage log: closed'));
      if (closed) console.log(closed.replace(/^.*usage log: closed \S+ /, 'usage log: '));
      // The file after the last connection closed (WAL checkpointed into it): its bytes per row written.
      const written = closed && /\((\d+) records written/.exec(closed);
      const db = path.join(tmp, 'usage.db');
      if (written && Number(written[1]) > 0 && fs.existsSync(db)) {
        const bytes = fs.statSync(db).size;
        console.log(`usage file: ${(bytes / 1048576).toFixed(1)} MiB, ${(bytes / Number(written[1])).toFixed(1)} bytes per row`);
      }
    }
  } finally {
    await P.stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// A reader that stops early (`| head`) must not kill the script before it stops the gateway and nginx.
process.stdout.on('error', () => {});

main().catch(async (e) => {
  console.error(`threads: ${e.stack || e.message}`);
  await P.stopAll();
  process.exit(1);
});
