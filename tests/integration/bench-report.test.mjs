// bench/run's report of a saved run (`--report FILE`): with --reps-at, each connection count's figures
// and intervals come from its own repetitions. No binary involved; here because this suite is where the
// project's JavaScript is tested.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spillway-bench-report-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

// A saved run: `reps` repetitions at one connection, `reps64` at 64. At 64 connections Spillway adds 300 us
// at p50 in the first two repetitions and 100 in the others; nginx adds 200 in every one.
function savedRun({ reps, reps64, repsAt, durationAt }) {
  const runs = [];
  const add = (rep, conns, target, p50) =>
    runs.push({ rep, conns, target, rps: 10000, p50_us: p50, p99_us: p50 * 2, p90_us: p50, requests: 100000,
      errors: 0, cpu_s: 1, cpu_per_1000: 0.01 });
  for (let rep = 0; rep < reps; rep++) {
    add(rep, 1, 'direct', 50);
    add(rep, 1, 'nginx', 75);
    add(rep, 1, 'spillway', 70);
  }
  for (let rep = 0; rep < reps64; rep++) {
    add(rep, 64, 'direct', 700);
    add(rep, 64, 'nginx', 900);
    add(rep, 64, 'spillway', rep < 2 ? 1000 : 800);
  }
  const options = { upstream: 'nginx', reps, conns: [1, 64], duration: 10, sync: true, targets: ['direct', 'nginx', 'spillway'] };
  if (repsAt) options.repsAt = repsAt;
  if (durationAt) options.durationAt = durationAt;
  return {
    machine: { nproc: 2, cpu: 'test', kernel: 'test', load_start: '0 0 0', load_end: '0 0 0', git: 'test',
      build: 'test', nginx: 'nginx test', wrk: 'wrk test', node: 'test' },
    options, runs, summary: {}, command: 'bench/run (test)',
    policies: { key_auth: true, token_limit: true, token_metrics: true, token_metrics_user_hash: true, usage_log: true },
    usage_db_bytes: 0, access_log_lines: 0, spillway_errors: [],
  };
}

function report(saved, name) {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, JSON.stringify(saved));
  return execFileSync('node', [path.join(repo, 'bench', 'e2e', 'run.mjs'), '--report', file], { encoding: 'utf8' });
}

// The table row of `target` at `conns`: its cells.
function row(text, conns, target) {
  const line = text.split('\n').find((l) => l.startsWith(`| ${conns} | ${target} |`));
  assert.ok(line, `no row for ${target} at ${conns}`);
  return line.split('|').map((c) => c.trim()).slice(1, -1);
}

describe('bench/run --report', () => {
  test('--reps-at: the 64-connection figures come from all of its repetitions', () => {
    const text = report(savedRun({ reps: 2, reps64: 4, repsAt: { 64: 4 } }), 'reps-at.json');
    assert.match(text, /Each configuration 2x \(4x at 64 connections\) 10s/);
    assert.match(text, /bootstrap over each connection count's repetitions/);
    // Added p50 at 64: the median of 300, 300, 100, 100 (all four repetitions), not 300 (the first two).
    assert.equal(row(text, 64, 'spillway')[5], '200');
    assert.equal(row(text, 64, 'nginx')[5], '200');
    assert.equal(row(text, 1, 'spillway')[5], '20');
  });

  test('--duration-at: the report states the run length of each connection count', () => {
    const text = report(savedRun({ reps: 4, reps64: 2, repsAt: { 64: 2 }, durationAt: { 1: 2 } }), 'duration-at.json');
    assert.match(text, /Each configuration 4x \(2x at 64 connections\) 10s \(2s at 1 connection\), interleaved/);
    assert.equal(row(text, 1, 'spillway')[5], '20');
    assert.equal(row(text, 64, 'spillway')[5], '300');
  });

  test('--bare: the proxy alone against nginx, and what the policies cost against it', () => {
    const saved = savedRun({ reps: 2, reps64: 2 });
    saved.options.bare = true;
    for (const rep of [0, 1]) {
      saved.runs.push({ rep, conns: 64, target: 'bare', rps: 12500, p50_us: 800, p99_us: 1600, p90_us: 800,
        requests: 100000, errors: 0, cpu_s: 0.8, cpu_per_1000: 0.008 });
    }
    const text = report(saved, 'bare.json');
    assert.equal(row(text, 64, 'bare')[5], '100');
    const table = (title) => {
      const lines = text.split('\n');
      const at = lines.findIndex((l) => l.startsWith(title));
      assert.ok(at >= 0, `no table "${title}"`);
      return lines.slice(at + 4).find((l) => l.startsWith('| 64 |')).split('|').map((c) => c.trim()).slice(1, -1);
    };
    // bare / nginx: added p50 100 against 200 in both repetitions (so every draw's ratio is 0.50), p99 200
    // against 400, req/s 12500 against 10000, CPU 0.008 against 0.01.
    assert.deepEqual(table('Spillway with no policies ("bare") / nginx').slice(1),
      ['0.50', '0.50 to 0.50', '0.50', '1.25', '0.80']);
    // spillway / bare: added p50 300 against 100 (p99 600 against 200), CPU 0.01 against 0.008.
    assert.deepEqual(table('Spillway / bare').slice(1), ['3.00', '3.00', '0.80', '1.25']);
  });

  test('--noest: the gateway without the prompt estimate against nginx, with its added p50 interval', () => {
    const saved = savedRun({ reps: 2, reps64: 8 });
    saved.options.noest = true;
    // Against nginx's 200 us: 100 us added in half the repetitions, 300 in the other half.
    for (let rep = 0; rep < 8; rep++) {
      const p50 = rep % 2 ? 1000 : 800;
      saved.runs.push({ rep, conns: 64, target: 'noest', rps: 10000, p50_us: p50, p99_us: 2 * p50, p90_us: p50,
        requests: 100000, errors: 0, cpu_s: 0.9, cpu_per_1000: 0.009 });
    }
    const text = report(saved, 'noest.json');
    assert.equal(row(text, 64, 'noest')[5], '200');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('Spillway without the prompt estimate ("noest") / nginx'));
    assert.ok(at >= 0, 'no noest table');
    assert.equal(lines[at + 2], '| conns | added p50 | 90% interval | added p99 | req/s | CPU / req |');
    const cells = lines.slice(at + 4).find((l) => l.startsWith('| 64 |')).split('|').map((c) => c.trim()).slice(1, -1);
    // Median 200 against 200; draws of mostly 100s or mostly 300s put the interval's ends at 0.50 and 1.50.
    assert.deepEqual(cells, ['64', '1.00', '0.50 to 1.50', '1.00', '1.00', '0.90']);
  });

  test('--restart-every: the report says how often the Spillway targets were restarted', () => {
    const saved = savedRun({ reps: 4, reps64: 4 });
    saved.options.restartEvery = 2;
    saved.restarts = 1;
    const text = report(saved, 'restart.json');
    assert.match(text, /interleaved, each run after a `sync`, Spillway's targets restarted 1x \(every 2 repetitions\);/);
    // Without restarts, nothing is said.
    assert.doesNotMatch(report(savedRun({ reps: 2, reps64: 2 }), 'no-restart.json'), /restarted/);
  });

  test('--restart-every takes a whole number of repetitions from 1', () => {
    for (const bad of ['0', '1.5', 'x']) {
      assert.throws(
        () => execFileSync('node', [path.join(repo, 'bench', 'e2e', 'run.mjs'), '--restart-every', bad, '--report', '/nonexistent'],
          { encoding: 'utf8', stdio: 'pipe' }),
        (e) => /--restart-every: expected a (number in \[1, 50\]|whole number of repetitions)/.test(String(e.stderr)),
        `--restart-every ${bad}`,
      );
    }
  });

  test('the portkey target: Spillway / Portkey ratios, and the 10x throughput target at 64 connections', () => {
    const saved = savedRun({ reps: 2, reps64: 2 });
    saved.options.targets.push('portkey');
    saved.machine.portkey = '1.15.2';
    saved.portkey_idle_rss_mib = 78;
    saved.portkey_peak_rss_mib = 218;
    for (const rep of [0, 1]) {
      saved.runs.push({ rep, conns: 1, target: 'portkey', rps: 1250, p50_us: 650, p99_us: 1300, p90_us: 650,
        requests: 10000, errors: 0, cpu_s: 7, cpu_per_1000: 0.7 });
      saved.runs.push({ rep, conns: 64, target: 'portkey', rps: rep === 0 ? 800 : 1200, p50_us: 40700, p99_us: 81400,
        p90_us: 40700, requests: 10000, errors: 0, cpu_s: 7, cpu_per_1000: 0.7 });
    }
    const text = report(saved, 'portkey.json');
    assert.match(text, /@portkey-ai\/gateway 1\.15\.2;/);
    assert.equal(row(text, 64, 'portkey')[5], '40000');
    const lines = text.split('\n');
    const at = lines.findIndex((l) => l.startsWith('Spillway / Portkey ('));
    assert.ok(at >= 0, text);
    const cells = (c) => lines.slice(at + 4).find((l) => l.startsWith(`| ${c} |`)).split('|').map((x) => x.trim()).slice(1, -1);
    // 1 connection: added p50 20 against 600, req/s 10000 against 1250, CPU 0.01 against 0.7.
    assert.deepEqual(cells(1), ['1', '0.03', '0.03', '8.00', '0.01']);
    // 64: added p50 200 (the median of 300 and 100) against 40000; req/s 10000 against the median 1000.
    assert.deepEqual(cells(64), ['64', '0.01', '0.01', '10.00', '0.01']);
    // The interval over the draws: 10000 / 1200 = 8.33 to 10000 / 800 = 12.5; it straddles 10.
    assert.match(text, /Spillway \/ Portkey req\/s, 90% intervals: 1 connection 8\.00 to 8\.00; 64 connections 8\.33 to 12\.50 \(target >= 10: not resolved\)\./);
    assert.match(text, /Portkey idle 78\.0 MiB, peak 218\.0 MiB\./);
    // Without the target, nothing about Portkey.
    assert.doesNotMatch(report(savedRun({ reps: 2, reps64: 2 }), 'no-portkey.json'), /Portkey/);
  });

  test('streaming: each side has its rows, and what nginx and Portkey add is said as for Spillway', () => {
    const saved = savedRun({ reps: 2, reps64: 2 });
    saved.options.streamRequests = 20;
    saved.options.tps = 100;
    // A side whose first event comes `first` us after the request and whose stream ends `total` us after it.
    const side = (first, total) => ({ requests: 20, events_per_stream: 41, reads_per_stream: 41, head_p50_us: first,
      first_event_p50_us: first, first_event_p99_us: first * 2, gap_p50_us: 10000, gap_p99_us: 10100,
      total_p50_us: total });
    saved.streaming = {
      paced: { direct: side(200, 400000), nginx: side(350, 400200), spillway: side(330, 400100), portkey: side(1200, 402000) },
      fast: { direct: side(100, 20000), nginx: side(150, 22000), spillway: side(140, 21000), portkey: side(900, 60000) },
      tokens: { paced: 40, fast: 200 },
    };
    const text = report(saved, 'streaming.json');
    for (const s of ['direct', 'nginx', 'spillway', 'portkey']) assert.match(text, new RegExp(`^\\| paced \\| ${s} \\|`, 'm'));
    assert.match(text, /^\| fast \| portkey \| 900 \| 900 \| 1800 \| 10000 \| 10100 \| 60\.00 \| 41 \|$/m);
    assert.match(text, /Added by Spillway: time to first event 130 us \(p50, paced\); end of a paced stream 100 us later; unpaced, 5\.0 us per token event\./);
    assert.match(text, /Added by nginx \(proxy_buffering off\): time to first event 150 us/);
    assert.match(text, /Added by Portkey: time to first event 1000 us \(p50, paced\); end of a paced stream 2000 us later; unpaced, 200\.0 us per token event\./);

    // Portkey's streams failed: no rows of its own, and the report says why.
    const error = 'HTTP/1.1 500 Internal Server Error: {"status":"failure","message":"Something went wrong"}';
    saved.streaming.paced.portkey = { error };
    saved.streaming.fast.portkey = { error };
    const failed = report(saved, 'streaming-failed.json');
    assert.doesNotMatch(failed, /^\| (paced|fast) \| portkey \|/m);
    assert.doesNotMatch(failed, /Added by Portkey/);
    assert.ok(failed.includes(`Portkey's streams failed: ${error}.`), failed);
    assert.match(failed, /^\| fast \| spillway \| 140 \|/m);
  });

  test('a run saved before --reps-at reads as before', () => {
    const text = report(savedRun({ reps: 2, reps64: 2 }), 'plain.json');
    assert.match(text, /Each configuration 2x 10s/);
    assert.match(text, /bootstrap over the 2 repetitions/);
    assert.equal(row(text, 64, 'spillway')[5], '300');
  });
});
