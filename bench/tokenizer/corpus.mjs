// The tokenizer corpus: several MB of deterministic text (a seeded generator plus this repository's own
// source and the pinned `openai` npm package's JavaScript) covering English prose, code, non-Latin scripts,
// emoji, combining marks, long runs, special-token text, random code points and invalid UTF-8. Used by the
// oracle test (tests/integration/tokenizer-oracle.test.mjs) and the benchmark (bench/tokenizer/run).

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const nodeModules = path.join(repoRoot, 'tests', 'integration', 'node_modules');

// mulberry32: small, fast, deterministic.
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (n) => Math.floor(next() * n);
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

const cp = (...cps) => String.fromCodePoint(...cps);

function filesUnder(dir, exts, out = []) {
  let entries;
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === 'node_modules' || e.name.startsWith('.') || e.name.startsWith('build')) continue;
      filesUnder(p, exts, out);
    } else if (exts.some((x) => e.name.endsWith(x))) {
      out.push(p);
    }
  }
  return out;
}

function concatFiles(files, limit) {
  const parts = [];
  let size = 0;
  for (const f of files) {
    if (size >= limit) break;
    const b = fs.readFileSync(f);
    parts.push(b.subarray(0, Math.min(b.length, limit - size)));
    size += parts[parts.length - 1].length;
  }
  return Buffer.concat(parts);
}

const words = (
  'the of and to in is that it was for on are as with his they at be this from have or by one had not but ' +
  'what all were when we there can an your which their said if do will each about how up out them then she ' +
  'many some so these would other into has more her two like him see time could no make than first been its ' +
  'who now people my made over did down only way find use may water long little very after words called just ' +
  'where most know gateway token tokenizer request response backend latency throughput quota limit stream ' +
  'encoding merge rank piece budget capacity deployment subscription telemetry reservation estimate ' +
  'internationalization antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis ' +
  'naïve café résumé coöperate façade jalapeño Zürich São Paulo Kraków Ångström'
).split(' ');
const contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ve", "'LL", "'D", "'ſ", "'x"];

function prose(r, bytes) {
  let s = '';
  while (s.length < bytes) {
    let sentence = '';
    const n = 4 + r.int(18);
    for (let i = 0; i < n; i++) {
      let w = r.pick(words);
      const roll = r();
      if (i === 0 || roll < 0.05) w = w[0].toUpperCase() + w.slice(1);
      else if (roll < 0.07) w = w.toUpperCase();
      else if (roll < 0.09) w = w + r.pick(contractions);
      else if (roll < 0.12) w = String(r.int(roll < 0.1 ? 100 : 10000000));
      else if (roll < 0.13) w = `"${w}"`;
      else if (roll < 0.14) w = `(${w})`;
      else if (roll < 0.15) w = `${w}-${r.pick(words)}`;
      else if (roll < 0.16) w = `${r.int(100)}.${r.int(100)}%`;
      sentence += (i ? (r() < 0.08 ? ', ' : ' ') : '') + w;
    }
    s += sentence + r.pick(['.', '.', '.', '?', '!', '...', ':', ';']);
    const gap = r();
    s += gap < 0.7 ? ' ' : gap < 0.85 ? '\n' : gap < 0.93 ? '\n\n' : gap < 0.97 ? '\r\n' : '  ';
  }
  return s;
}

// Script samples: [base code point ranges, optional combining-mark ranges, word length range].
const scripts = {
  cjk: [[[0x4e00, 0x9fff]], null, [1, 6]],
  kana: [[[0x3041, 0x3096], [0x30a1, 0x30fa]], null, [2, 8]],
  hangul: [[[0xac00, 0xd7a3]], null, [1, 5]],
  arabic: [[[0x0621, 0x064a]], [[0x064b, 0x0652]], [2, 9]],
  hebrew: [[[0x05d0, 0x05ea]], [[0x05b0, 0x05bc]], [2, 8]],
  devanagari: [[[0x0915, 0x0939]], [[0x093e, 0x094d]], [2, 9]],
  bengali: [[[0x0995, 0x09b9]], [[0x09be, 0x09cd]], [2, 8]],
  tamil: [[[0x0b95, 0x0bb9]], [[0x0bbe, 0x0bcd]], [2, 8]],
  thai: [[[0x0e01, 0x0e2e]], [[0x0e31, 0x0e3a]], [3, 12]],
  cyrillic: [[[0x0410, 0x044f]], null, [2, 12]],
  greek: [[[0x0391, 0x03a9], [0x03b1, 0x03c9]], [[0x0301, 0x0301]], [2, 10]],
  georgian: [[[0x10d0, 0x10fa]], null, [2, 10]],
  armenian: [[[0x0531, 0x0556], [0x0561, 0x0586]], null, [2, 10]],
  ethiopic: [[[0x1200, 0x135a]], null, [2, 6]],
  vietnamese: [[[0x61, 0x7a]], [[0x0300, 0x0303], [0x0323, 0x0323]], [1, 7]],
};

function fromRanges(r, ranges) {
  const [lo, hi] = r.pick(ranges);
  return lo + r.int(hi - lo + 1);
}

function scriptText(r, bytes) {
  const names = Object.keys(scripts);
  let s = '';
  let size = 0;
  while (size < bytes) {
    const [bases, marks, [minLen, maxLen]] = scripts[r.pick(names)];
    const nWords = 3 + r.int(20);
    let line = '';
    for (let i = 0; i < nWords; i++) {
      let w = '';
      const len = minLen + r.int(maxLen - minLen + 1);
      for (let j = 0; j < len; j++) {
        w += cp(fromRanges(r, bases));
        if (marks && r() < 0.4) w += cp(fromRanges(r, marks));
      }
      const roll = r();
      if (roll < 0.05) w += String(r.int(1000));
      else if (roll < 0.1) w += r.pick(['،', '।', '。', '、', '؟', '!', '«', '»', '—', '”']);
      line += (i ? r.pick([' ', ' ', ' ', '', '\u3000', '\u00a0']) : '') + w;
    }
    line += r.pick(['\n', '. ', '。', '\n\n', ' ']);
    s += line;
    size += Buffer.byteLength(line);
  }
  return s;
}

const emojiBases = [0x1f600, 0x1f64f, 0x1f300, 0x1f5ff, 0x1f680, 0x1f6ff, 0x1f900, 0x1f9ff, 0x2600, 0x26ff];
function emojiText(r, bytes) {
  const zwjFamilies = [
    cp(0x1f468, 0x200d, 0x1f469, 0x200d, 0x1f467, 0x200d, 0x1f466),
    cp(0x1f469, 0x200d, 0x2764, 0xfe0f, 0x200d, 0x1f48b, 0x200d, 0x1f468),
    cp(0x1f3f3, 0xfe0f, 0x200d, 0x1f308),
    cp(0x1f9d1, 0x1f3fd, 0x200d, 0x1f4bb),
    cp(0x1f441, 0xfe0f, 0x200d, 0x1f5e8, 0xfe0f),
  ];
  const out = [];
  let size = 0;
  while (size < bytes) {
    let s = '';
    const roll = r();
    if (roll < 0.3) {
      const k = r.int(emojiBases.length / 2) * 2;
      s += cp(emojiBases[k] + r.int(emojiBases[k + 1] - emojiBases[k] + 1));
      if (r() < 0.2) s += cp(0x1f3fb + r.int(5)); // skin tone
      if (r() < 0.2) s += '\ufe0f';
    } else if (roll < 0.4) {
      s += r.pick(zwjFamilies);
    } else if (roll < 0.47) {
      s += cp(0x1f1e6 + r.int(26), 0x1f1e6 + r.int(26)); // flag
    } else if (roll < 0.5) {
      s += cp(0x30 + r.int(10), 0xfe0f, 0x20e3); // keycap
    } else if (roll < 0.65) {
      // Latin letters with stacked combining marks ("zalgo"), and marks after spaces or punctuation.
      let w = r.pick(['', ' ', '(', '-', "'"]);
      const n = 1 + r.int(8);
      for (let i = 0; i < n; i++) {
        w += String.fromCharCode((r() < 0.3 ? 0x41 : 0x61) + r.int(26));
        for (let m = r.int(4); m > 0; m--) w += cp(0x300 + r.int(0x70));
      }
      s += w;
    } else {
      s += r.pick(words) + r.pick([' ', '', '\n', '!', ' — ']);
    }
    if (r() < 0.3) s += ' ';
    out.push(s);
    size += Buffer.byteLength(s);
  }
  return out.join('');
}

// Letters of o200k's case classes, and whitespace that is not ASCII.
const specials = [
  '\u01c5', '\u01c8', '\u1f88', // Lt
  '\u02b0', '\u02c6', '\u3005', '\uff70', // Lm
  '\u00aa', '\u01bb', '\u05d0', '\u4e00', // Lo
  '\u0300', '\u0903', '\u20dd', // Mn Mc Me
  '\u00b2', '\u2160', '\u0660', '\u00bd', '\u2460', // numbers
  '\u0085', '\u00a0', '\u1680', '\u2000', '\u2028', '\u2029', '\u202f', '\u3000', '\ufeff', '\u200b', '\u180e',
  '\u017f', '\u212a', '\u0130', '\u0131', 'ß', 'ẞ',
];
function edgeText(r, bytes) {
  const fixed = [
    '<|endoftext|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|endofprompt|>', '<|im_start|>',
    'HTTPServer iPhone XMLHttpRequest camelCaseWord snake_case_word SCREAMING_CASE McDonald\'s O\'Neil',
    "don't DON'T I'm we'll they're you've she'd it's IT'S 's 't 'll ''s '''",
    "'ſ 'ſx 'K", 'a\r\nb\r\n\r\nc \r\n d\n \n \n e\t\t\nf', '   \n   \n', ' \u0301 \u0301a', '1234567890 1,234,567.89',
    '\u00b2\u00b3\u00b9 \u2160\u2161\u2162\u2163', '//\n//\r\n/\n', '/* comment */ // line\n', '\\n\\t\\r',
    '\u0041\u030a \u00c5 \u212b', 'ǅungla ǈubljana ῈΣ', 'ʰʲʷ xʰy', 'ABCdef ABCΣσς', '...!!!???;;;:::',
  ];
  let s = fixed.join('\n') + '\n';
  const alphabet = [
    'a', 'Z', ' ', '  ', '\n', '\r\n', '\r', '\t', "'", "'s", "'LL", '1', '12', '/', '.', ',', '-', '_',
    ...specials,
  ];
  const out = [s];
  let size = Buffer.byteLength(s);
  while (size < bytes) {
    let t = '';
    const n = 1 + r.int(12);
    for (let i = 0; i < n; i++) t += r.pick(alphabet);
    if (r() < 0.3) t += r.pick(fixed);
    out.push(t);
    size += Buffer.byteLength(t);
  }
  return out.join('');
}

function longRuns(r) {
  const lower = () => String.fromCharCode(0x61 + r.int(26));
  let letters = '';
  for (let i = 0; i < 12000; i++) letters += lower();
  let mixedCase = '';
  for (let i = 0; i < 6000; i++) mixedCase += r() < 0.5 ? lower() : lower().toUpperCase();
  let digits = '';
  for (let i = 0; i < 20000; i++) digits += String(r.int(10));
  let spaces = '';
  for (let i = 0; i < 20000; i++) spaces += r.pick([' ', ' ', ' ', '\t', '\n', '\u3000', '\u00a0', '\r\n']);
  let punct = '';
  for (let i = 0; i < 10000; i++) punct += r.pick(['!', '.', '-', '=', '*', '/', '#', '\u2014', '\u00bf']);
  let cjk = '';
  for (let i = 0; i < 6000; i++) cjk += cp(0x4e00 + r.int(0x5000));
  return [
    'a'.repeat(12000), ' ' + letters, mixedCase, 'ab'.repeat(5000), digits, ' '.repeat(15000) + 'x',
    '\n'.repeat(5000), spaces, punct, cjk, '😀'.repeat(2000), 'ä'.repeat(6000), 'A'.repeat(8000) + 'a',
  ].join('\n');
}

// Code points from every plane (assigned or not, surrogates excluded), in short runs.
function randomCodePoints(r, bytes) {
  let s = '';
  let size = 0;
  while (size < bytes) {
    const roll = r();
    let c;
    if (roll < 0.5) c = r.int(0x3000);
    else if (roll < 0.8) c = r.int(0x10000);
    else if (roll < 0.95) c = 0x10000 + r.int(0x30000);
    else c = r.int(0x110000);
    if (c >= 0xd800 && c <= 0xdfff) continue;
    let t = cp(c);
    if (r() < 0.15) t += r.pick([' ', "'s", '\n', 'a', 'Z']);
    s += t;
    size += Buffer.byteLength(t);
  }
  return s;
}

// Random tokens of both vocabularies, concatenated: exercises merges across token boundaries. Built from
// the rank files (base64 lines); the bytes are decoded as UTF-8 (partial sequences become U+FFFD).
function vocabularySalad(r, bytes) {
  const out = [];
  let size = 0;
  for (const name of ['cl100k_base', 'o200k_base']) {
    const lines = fs
      .readFileSync(path.join(nodeModules, 'gpt-tokenizer', 'data', `${name}.tiktoken`), 'utf8')
      .split('\n')
      .filter(Boolean);
    while (size < (bytes * (name === 'cl100k_base' ? 1 : 2)) / 2) {
      const b = Buffer.from(r.pick(lines).split(' ')[0], 'base64');
      out.push(b);
      size += b.length;
      if (r() < 0.1) out.push(Buffer.from(r.pick([' ', '\n', ''])));
    }
  }
  return Buffer.concat(out);
}

// Ill-formed UTF-8 among text: lone continuation bytes, truncated sequences, overlongs, encoded
// surrogates, bytes above F4, and random bytes.
function invalidUtf8(r, bytes) {
  const bad = [
    [0x80], [0xbf], [0xc0, 0xaf], [0xc1, 0x81], [0xc2], [0xe0, 0x80, 0x80], [0xe0, 0xa0], [0xed, 0xa0, 0x80],
    [0xed, 0xbf, 0xbf], [0xf0, 0x80, 0x80, 0x80], [0xf0, 0x9f, 0x98], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80],
    [0xff], [0xfe, 0xff], [0xe2, 0x82], [0xf0, 0x9f], [0xc3, 0x28], [0xe2, 0x28, 0xa1],
  ];
  const out = [];
  let size = 0;
  while (size < bytes) {
    const roll = r();
    let b;
    if (roll < 0.4) b = Buffer.from(r.pick(bad));
    else if (roll < 0.6) b = Buffer.from(Array.from({ length: 1 + r.int(6) }, () => r.int(256)));
    else b = Buffer.from(r.pick(words) + r.pick([' ', "'s", '', 'é', '😀']));
    out.push(b);
    size += b.length;
  }
  return Buffer.concat(out);
}

// Returns { buffer, sections: [{ name, start, end }] } of about `scale` x 5 MB.
export function buildCorpus({ scale = 1 } = {}) {
  const r = rng(0x5eed);
  const kb = (n) => Math.round(n * 1024 * scale);
  const sections = [];
  const parts = [];
  let offset = 0;
  const add = (name, data) => {
    const b = Buffer.isBuffer(data) ? data : Buffer.from(data, 'utf8');
    sections.push({ name, start: offset, end: offset + b.length });
    parts.push(b, Buffer.from('\n'));
    offset += b.length + 1;
  };
  add('prose', prose(r, kb(900)));
  add('repo-code', concatFiles(filesUnder(path.join(repoRoot, 'src'), ['.cpp', '.h']).concat(
    filesUnder(path.join(repoRoot, 'tests'), ['.cpp', '.mjs']), filesUnder(path.join(repoRoot, 'docs'), ['.md'])),
  kb(700)));
  add('npm-code', concatFiles(filesUnder(path.join(nodeModules, 'openai'), ['.js', '.ts', '.md']).filter(
    (f) => !f.includes(`${path.sep}node_modules${path.sep}openai${path.sep}node_modules`)), kb(1000)));
  add('scripts', scriptText(r, kb(900)));
  add('emoji-marks', emojiText(r, kb(400)));
  add('edge', edgeText(r, kb(250)));
  add('long-runs', longRuns(r));
  add('random-code-points', randomCodePoints(r, kb(300)));
  add('vocabulary-salad', vocabularySalad(r, kb(400)));
  add('invalid-utf8', invalidUtf8(r, kb(150)));
  return { buffer: Buffer.concat(parts), sections };
}

// The corpus without its invalid UTF-8 (what the benchmark encodes).
export function validCorpus(opts) {
  const { buffer, sections } = buildCorpus(opts);
  const keep = sections.filter((s) => s.name !== 'invalid-utf8' && s.name !== 'vocabulary-salad');
  return Buffer.from(new TextDecoder().decode(Buffer.concat(keep.map((s) => buffer.subarray(s.start, s.end + 1)))));
}
