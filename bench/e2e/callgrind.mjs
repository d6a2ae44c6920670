// Instructions per request, measured with valgrind's callgrind: deterministic, so it shows the effect of a
// change even on a busy machine where wrk's figures are noise. Starts the static nginx upstream and
// `spillway serve` (one worker, the bench/run config with the default policies) under callgrind, warms
// up, zeroes the counters, runs wrk for a fixed time, dumps, and prints instructions per request; with
// --split, the functions with the most instructions of their own (counted from start-up).
//
//   node bench/e2e/callgrind.mjs [--bin PATH] [--seconds 10] [--conns 4] [--keep] [--split [--top 40]] [--nolog]
//
// --nolog: without the usage log (the difference is what the log costs a request).

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as P from './procs.mjs';
import { SPILLWAY_ENV, spillwayConf } from './configs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..', '..');

const o = { bin: process.env.SPILLWAY_BIN || path.join(repo, 'build', 'spillway'), seconds: 10, conns: 4, keep: false, top: 40, split: false };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--bin') o.bin = path.resolve(argv[++i]);
  else if (a === '--seconds') o.seconds = Math.min(120, Number(argv[++i]));
  else if (a === '--conns') o.conns = Math.min(64, Number(argv[++i]));
  else if (a === '--top') o.top = Number(argv[++i]);
  else if (a === '--keep') o.keep = true;
  else if (a === '--split') o.split = true;
  else if (a === '--nolog') o.nolog = true;
  else throw new Error(`unknown option ${a}`);
}

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-callgrind-'));
  try {
    const { child: up, port: upPort } = await P.startStaticUpstream(tmp);
    // The streaming pools are not used here; any port will do.
    const conf = path.join(tmp, 'gateway.yaml');
    fs.writeFileSync(conf, spillwayConf(tmp, upPort, upPort, upPort, 1, !o.nolog));
    const ready = path.join(tmp, 'ready.json');
    const outFile = path.join(tmp, 'callgrind.out');
    const sw = P.start('spillway (callgrind)', 'valgrind',
      ['--tool=callgrind', `--callgrind-out-file=${outFile}`, o.bin, 'serve', '--config', conf, '--ready-file', ready, '--log-level', 'warn'],
      { env: SPILLWAY_ENV, stdoutFile: path.join(tmp, 'access.log'), stderrFile: path.join(tmp, 'valgrind.log') });
    const ports = await P.waitReadyFile(ready, sw, 120000);
    const warm = P.wrkChat(ports.port, o.conns, 2);
    // Zeroing after the warm-up gives the exact steady-state total, but callgrind then charges everything to
    // the threads' entry points; --split keeps the counters (start-up included) to show the functions.
    if (!o.split) execFileSync('callgrind_control', ['-z', String(sw.pid)], { timeout: 30000, stdio: 'ignore' });
    // Other ticket numbers than the warm-up's: a message the warm-up sent would be a token-count cache hit.
    const w = P.wrkChat(ports.port, o.conns, o.seconds, 1, { BENCH_TICKET_BASE: '50000000' });
    if (!o.split) execFileSync('callgrind_control', ['-d', String(sw.pid)], { timeout: 30000, stdio: 'ignore' });
    await P.stop(sw, 20000);
    await P.stop(up);
    const annotate = (file) => execFileSync('callgrind_annotate', [file], { maxBuffer: 64 << 20 }).toString();
    const dumps = fs.readdirSync(tmp).filter((f) => /^callgrind\.out\.\d+$/.test(f)).sort();
    const text = annotate(o.split ? outFile : path.join(tmp, dumps[0]));
    const total = Number((text.match(/([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS/) || [0, '0'])[1].replace(/,/g, ''));
    const requests = o.split ? warm.requests + w.requests : w.requests;
    console.log(`${o.bin}: ${requests} requests (${w.err_status} non-2xx), ${total.toLocaleString('en')} instructions, ` +
      `${Math.round(total / requests).toLocaleString('en')} per request (all threads, usage-log writer included` +
      `${o.split ? ', start-up too' : ''})`);
    if (o.split) {
      const lines = text.split('\n');
      const start = lines.findIndex((l) => /Ir\s+file:function/.test(l));
      for (const l of lines.slice(start + 2, start + 2 + o.top)) {
        const m = l.match(/^\s*([\d,]+)\s+\(\s*([\d.]+)%\)\s+(.*)$/);
        if (!m) continue;
        const per = Math.round(Number(m[1].replace(/,/g, '')) / requests);
        console.log(`${String(per).padStart(8)} ${m[2].padStart(6)}%  ${m[3].replace(/\(.*$/, '').replace(/^\?\?\?:/, '').slice(0, 150)}`);
      }
    }
    if (o.keep) console.log(`kept ${tmp}`);
  } finally {
    await P.stopAll();
    if (!o.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(async (e) => {
  console.error(`callgrind: ${e.stack || e.message}`);
  await P.stopAll();
  process.exit(1);
});
