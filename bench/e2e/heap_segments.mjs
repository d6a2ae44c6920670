// Where a running gateway's anonymous memory sits: the resident KiB of each of mimalloc's 32 MiB segments
// (from /proc/PID/pagemap), each with the thread that owns it, and the rest of the anonymous memory. A
// segment's header holds its owner's thread pointer, which lies at the top of that thread's stack; a thread
// blocked in a system call shows its stack pointer in /proc/PID/task/TID/syscall. (The main thread's
// pointer is not on its stack: its segment shows as "main?".) Root, or the same user with ptrace allowed.
//
//   node bench/e2e/heap_segments.mjs --pid PID [--every S --count N] [--json]
//
// bench/RESULTS.md ("The soak's slow growth") used it to tell which threads' heaps kept memory.

import fs from 'node:fs';

const kSegment = 32n * 1024n * 1024n;
const kHighAnon = 0x7e0000000000n;  // mimalloc's segments lie below; thread stacks and libraries above

function parseArgs(argv) {
  const a = { every: 0, count: 1, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--pid') a.pid = Number(argv[++i]);
    else if (k === '--every') a.every = Number(argv[++i]);
    else if (k === '--count') a.count = Number(argv[++i]);
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown option ${k}`);
  }
  if (!Number.isInteger(a.pid) || a.pid <= 0) throw new Error('--pid PID is required');
  if (!(a.count >= 1) || !(a.every >= 0)) throw new Error('--every S and --count N must be positive');
  return a;
}

function mappings(pid) {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n').map((line) => {
    const f = line.split(/\s+/);
    const [start, end] = f[0].split('-').map((x) => BigInt(`0x${x}`));
    return { start, end, perms: f[1], name: f.slice(5).join(' ') };
  });
}

// tid -> { name, stack: the mapping holding its stack pointer } for threads blocked in a system call.
function threads(pid, maps) {
  const out = new Map();
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    let fields;
    try {
      fields = fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').trim().split(' ');
    } catch {
      continue;  // gone
    }
    const name = fs.readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    const sp = fields.length >= 9 ? BigInt(fields[7]) : null;
    const stack = sp === null ? null : maps.find((m) => m.start <= sp && sp < m.end);
    out.set(Number(tid), { name, stack });
  }
  return out;
}

function residentPages(fd, start, end) {
  const pages = Number((end - start) >> 12n);
  const buf = Buffer.alloc(pages * 8);
  fs.readSync(fd, buf, 0, buf.length, Number((start >> 12n) * 8n));
  const present = [];
  for (let i = 0; i < pages; i++) {
    if (buf.readBigUInt64LE(i * 8) >> 63n) present.push(start + (BigInt(i) << 12n));
  }
  return present;
}

function owner(memFd, segment, threadList, pid) {
  const header = Buffer.alloc(1024);
  try {
    fs.readSync(memFd, header, 0, header.length, Number(segment));
  } catch {
    return '?';
  }
  for (let off = 0; off < header.length; off += 8) {
    const word = header.readBigUInt64LE(off);
    for (const [tid, t] of threadList) {
      if (t.stack && t.stack.start <= word && word < t.stack.end && tid !== pid) return `${t.name}/${tid}`;
    }
  }
  return 'main?';
}

export function sample(pid) {
  const maps = mappings(pid);
  const threadList = threads(pid, maps);
  const pagemap = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  const mem = fs.openSync(`/proc/${pid}/mem`, 'r');
  const segments = new Map();  // segment start -> KiB
  const isSegmentStart = (seg) => maps.some((m) => m.name === '' && m.start <= seg && seg < m.end);
  let otherAnon = 0;
  try {
    for (const m of maps) {
      const anonymous = m.name === '' && m.perms.startsWith('rw');
      if (!anonymous) continue;
      const present = residentPages(pagemap, m.start, m.end);
      if (m.start >= kHighAnon) {
        otherAnon += present.length * 4;
        continue;
      }
      for (const page of present) {
        const seg = (page / kSegment) * kSegment;
        // A segment is mapped from its aligned start (mimalloc reserves all 32 MiB); anything else here
        // (the binary's .bss, a library's) is not one.
        if (!isSegmentStart(seg)) {
          otherAnon += 4;
          continue;
        }
        segments.set(seg, (segments.get(seg) ?? 0) + 4);
      }
    }
    const rows = [...segments.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([seg, kib]) => ({
      segment: `0x${seg.toString(16)}`, kib, owner: owner(mem, seg, threadList, pid),
    }));
    return { at: new Date().toISOString(), segments: rows, otherAnonKib: otherAnon,
      segmentsKib: rows.reduce((s, r) => s + r.kib, 0) };
  } finally {
    fs.closeSync(pagemap);
    fs.closeSync(mem);
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  for (let i = 0; i < args.count; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, args.every * 1000));
    const s = sample(args.pid);
    if (args.json) {
      console.log(JSON.stringify(s));
      continue;
    }
    console.log(`${s.at}: segments ${s.segmentsKib} KiB, other anonymous (stacks, libraries' data) ${s.otherAnonKib} KiB`);
    for (const r of s.segments) console.log(`  ${r.segment} ${String(r.kib).padStart(7)} KiB  ${r.owner}`);
  }
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fs.realpathSync(new URL(import.meta.url).pathname)) {
  main().catch((e) => {
    console.error(`heap_segments: ${e.message}`);
    process.exit(1);
  });
}
