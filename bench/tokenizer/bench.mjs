// Tokenizer throughput, Spillway against the npm reference in the same run: the same corpus (the realistic
// part of bench/tokenizer/corpus.mjs: English prose, C++/JS code, non-Latin scripts, emoji and marks) is
// encoded by the `tiktoken` npm package (WASM build of OpenAI's tiktoken), the `gpt-tokenizer` package
// (pure JS, for information) and `spillway tokens count` (native), for cl100k_base and o200k_base.
// Every figure is encode time only (rank loading excluded on both sides), best of --reps runs, and the
// token counts must agree.
//   bench/tokenizer/run [--reps 3] [--bin build/spillway] [--json]

import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';

import { buildCorpus, nodeModules, repoRoot } from './corpus.mjs';

const require = createRequire(path.join(nodeModules, 'noop.js'));
const { get_encoding } = require('tiktoken');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const reps = Number(opt('--reps', 3));
const bin = path.resolve(opt('--bin', process.env.SPILLWAY_BIN || path.join(repoRoot, 'build', 'spillway')));
const asJson = args.includes('--json');

const kSections = ['prose', 'repo-code', 'npm-code', 'scripts', 'emoji-marks'];
const { buffer, sections } = buildCorpus();
const corpus = Buffer.concat(sections.filter((s) => kSections.includes(s.name)).map((s) => buffer.subarray(s.start, s.end)));
const text = corpus.toString('utf8');
const mb = corpus.length / 1e6;

function best(fn) {
  let bestSecs = Infinity;
  let result;
  for (let i = 0; i < reps; i++) {
    const t = process.hrtime.bigint();
    result = fn();
    bestSecs = Math.min(bestSecs, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return { secs: bestSecs, result };
}

async function gptTokenizer(name) {
  const mod = await import(path.join(nodeModules, 'gpt-tokenizer', 'esm', 'encoding', `${name}.js`));
  const opts = { disallowedSpecial: new Set() };
  mod.encode('warm up', opts);
  return best(() => mod.encode(text, opts).length);
}

function spillway(name) {
  const r = spawnSync(bin, ['tokens', 'count', '--encoding', name, '--stats', '--repeat', String(reps)], {
    input: corpus,
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`${bin} failed: ${r.stderr}`);
  const stats = JSON.parse(r.stderr.toString().trim().split('\n').pop());
  return { secs: stats.best_seconds, result: stats.tokens, load: stats.load_seconds };
}

const rows = [];
for (const name of ['cl100k_base', 'o200k_base']) {
  const enc = get_encoding(name);
  enc.encode_ordinary('warm up');
  const ref = best(() => enc.encode_ordinary(text).length);
  enc.free();
  const gpt = await gptTokenizer(name);
  const ours = spillway(name);
  if (ours.result !== ref.result) throw new Error(`${name}: spillway counted ${ours.result}, tiktoken ${ref.result}`);
  rows.push({
    encoding: name,
    bytes: corpus.length,
    tokens: ref.result,
    tiktoken_mb_s: mb / ref.secs,
    gpt_tokenizer_mb_s: mb / gpt.secs,
    spillway_mb_s: mb / ours.secs,
    ratio_vs_tiktoken: ref.secs / ours.secs,
    spillway_load_ms: ours.load * 1000,
  });
}

if (asJson) {
  console.log(JSON.stringify(rows, null, 2));
} else {
  const f = (x) => x.toFixed(1);
  console.log(`corpus: ${corpus.length} bytes (${kSections.join(', ')}), best of ${reps}, encode time only`);
  console.log('| encoding | tokens | tiktoken npm MB/s | gpt-tokenizer npm MB/s | spillway MB/s | spillway / tiktoken |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.encoding} | ${r.tokens} | ${f(r.tiktoken_mb_s)} | ${f(r.gpt_tokenizer_mb_s)} | ` +
      `${f(r.spillway_mb_s)} | ${f(r.ratio_vs_tiktoken)}x |`);
  }
  console.log(`spillway rank loading (once per process): ${rows.map((r) => `${r.encoding} ${f(r.spillway_load_ms)} ms`).join(', ')}`);
}
