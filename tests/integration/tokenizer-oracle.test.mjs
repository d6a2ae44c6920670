// The native tokenizer against the reference: the `tiktoken` npm package (the WASM build of OpenAI's
// tiktoken) encodes a deterministic multi-MB corpus (bench/tokenizer/corpus.mjs: prose, code, non-Latin
// scripts, emoji, combining marks, long runs, special-token text, random code points, invalid UTF-8) and
// `spillway tokens count --ids` must produce the very same ids, for cl100k_base and o200k_base.
// Invalid UTF-8: the reference sees JavaScript strings, so the corpus bytes go through TextDecoder (each
// maximal invalid subpart becomes U+FFFD) on its side, and raw on ours.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';

import { get_encoding } from 'tiktoken';

import { buildCorpus } from '../../bench/tokenizer/corpus.mjs';
import { binPath } from './lib/harness.mjs';

const kEncodings = ['cl100k_base', 'o200k_base'];

// Runs `spillway tokens ...` with `input` on stdin; resolves {code, stdout, stderr}. Killed after timeoutMs.
function runTokens(args, input, { timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(binPath(), ['tokens', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    const err = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on('error', () => {}); // the child may exit before reading everything (usage errors)
    child.stdin.end(input);
  });
}

function parseIds(stdout) {
  const line = stdout.trim();
  return line === '' ? [] : line.split(' ').map(Number);
}

function reference(name, bytes) {
  const enc = get_encoding(name);
  try {
    return Array.from(enc.encode_ordinary(new TextDecoder('utf-8').decode(bytes)));
  } finally {
    enc.free();
  }
}

// Where two id lists first differ, with the text around it, for a readable failure.
function firstDifference(name, ref, ours) {
  let i = 0;
  while (i < ref.length && i < ours.length && ref[i] === ours[i]) i++;
  if (i === ref.length && i === ours.length) return null;
  const enc = get_encoding(name);
  try {
    const text = (ids) => new TextDecoder().decode(enc.decode(new Uint32Array(ids)));
    const offset = Buffer.byteLength(text(ref.slice(0, i)));
    return (
      `first difference at token ${i} (byte ${offset} of the decoded corpus): ` +
      `reference ${JSON.stringify(ref.slice(i, i + 8))} ${JSON.stringify(text(ref.slice(Math.max(0, i - 4), i + 8)))}, ` +
      `spillway ${JSON.stringify(ours.slice(i, i + 8))}`
    );
  } finally {
    enc.free();
  }
}

async function ours(name, bytes) {
  const r = await runTokens(['count', '--encoding', name, '--ids'], bytes);
  assert.equal(r.code, 0, r.stderr);
  return parseIds(r.stdout);
}

describe('tokenizer oracle: identical ids to the tiktoken npm package', () => {
  const corpus = buildCorpus();

  test('the corpus is several MB and covers every section', () => {
    assert.ok(corpus.buffer.length > 4 * 1024 * 1024, `corpus is ${corpus.buffer.length} bytes`);
    for (const s of corpus.sections) assert.ok(s.end - s.start > 100 * 1024 || s.name === 'long-runs', s.name);
  });

  for (const name of kEncodings) {
    test(`${name}: the whole corpus`, async () => {
      const [got, want] = [await ours(name, corpus.buffer), reference(name, corpus.buffer)];
      assert.ok(want.length > 1_000_000);
      const diff = firstDifference(name, want, got);
      assert.equal(diff, null, diff);
    });
  }

  test('edge cases: empty input, special-token text, invalid UTF-8, long runs', async () => {
    const cases = [
      Buffer.alloc(0),
      Buffer.from('<|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|><|endofprompt|>'),
      Buffer.from([0x61, 0xff, 0x62, 0xed, 0xa0, 0x80, 0xe2, 0x82, 0x20, 0xf0, 0x9f, 0x98, 0xc0, 0xaf, 0x80]),
      Buffer.from('x'.repeat(20000)),
      Buffer.from(' \u3000\u00a0\t'.repeat(3000)),
      Buffer.from("'s'S'ſ'LL're'Ve'm'd'T'x"),
    ];
    for (const name of kEncodings) {
      for (const input of cases) {
        const want = reference(name, input);
        const got = await ours(name, input);
        assert.deepEqual(got, want, `${name}: ${JSON.stringify(input.toString().slice(0, 60))}`);
      }
    }
    const special = await ours('cl100k_base', Buffer.from('<|endoftext|>'));
    assert.ok(!special.includes(100257), 'special-token text is plain text');
  });
});

describe('spillway tokens (CLI)', () => {
  test('count prints the number of tokens; empty input counts 0', async () => {
    let r = await runTokens(['count', '--encoding', 'cl100k_base'], 'hello world');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '2\n');
    r = await runTokens(['count'], '');
    assert.equal(r.stdout, '0\n');
    r = await runTokens(['count', '--ids'], '');
    assert.equal(r.stdout, '\n');
  });

  test('--model picks the encoding', async () => {
    const text = 'Model names select the encoding: 你好 🌍';
    for (const [model, name] of [['gpt-4', 'cl100k_base'], ['gpt-35-turbo', 'cl100k_base'], ['gpt-4o', 'o200k_base'],
      ['o3-mini', 'o200k_base'], ['gpt-5', 'o200k_base']]) {
      const r = await runTokens(['count', '--model', model, '--ids'], text);
      assert.deepEqual(parseIds(r.stdout), reference(name, Buffer.from(text)), model);
    }
  });

  test('usage errors exit 2', async () => {
    let r = await runTokens(['count', '--encoding', 'p50k_base'], 'x');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown encoding/);
    r = await runTokens(['frobnicate'], 'x');
    assert.equal(r.code, 2);
    r = await runTokens(['estimate'], '{}');
    assert.equal(r.code, 2);
  });

  test('a 1 MB run of letters (one piece) is encoded quickly and exactly', async () => {
    let s = '';
    let x = 1;
    for (let i = 0; i < 16384; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      s += String.fromCharCode(97 + ((x >>> 16) % 26));
    }
    // The reference merges quadratically: compare exactly on 16 KB, and time 1 MB on our side only.
    assert.deepEqual(await ours('o200k_base', Buffer.from(s)), reference('o200k_base', Buffer.from(s)));
    const big = Buffer.from(s.repeat(64));
    const start = Date.now();
    const r = await runTokens(['count', '--encoding', 'cl100k_base'], big, { timeoutMs: 20000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Number(r.stdout) > big.length / 4);
    assert.ok(Date.now() - start < 10000, `took ${Date.now() - start} ms`);
  });

  // OpenAI's cookbook num_tokens_from_messages, with the reference tokenizer.
  function cookbookCount(name, messages) {
    const enc = get_encoding(name);
    try {
      let n = 3;
      for (const m of messages) {
        n += 3;
        for (const [k, v] of Object.entries(m)) {
          n += enc.encode_ordinary(v).length;
          if (k === 'name') n += 1;
        }
      }
      return n;
    } finally {
      enc.free();
    }
  }

  test('estimate counts chat prompts as the cookbook does', async () => {
    const bodies = [
      [{ role: 'system', content: 'You are terse.' }, { role: 'user', content: 'Hello there! How are you?' }],
      [{ role: 'user', name: 'Ann', content: 'Résumé: 東京で働いています。 🚀🚀' },
        { role: 'assistant', content: "I'll help.\n\n```js\nconst x = 1;\n```" }],
      [{ role: 'user', content: '<|endoftext|>' + 'ab'.repeat(3000) }],
    ];
    for (const messages of bodies) {
      for (const [model, name] of [['gpt-4o', 'o200k_base'], ['gpt-4', 'cl100k_base']]) {
        const body = JSON.stringify({ model, messages });
        const r = await runTokens(['estimate', '--operation', 'chat.completions', '--model', model], body);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(Number(r.stdout), cookbookCount(name, messages), `${model}: ${body.slice(0, 80)}`);
      }
    }
  });
});
