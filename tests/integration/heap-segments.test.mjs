// bench/e2e/heap_segments.mjs against a running gateway: mimalloc's segments found in /proc/PID/pagemap,
// each with resident memory, and (as root, who may read /proc/PID/mem) the request workers' own segments
// named after their threads.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { binPath, http, repoRoot } from './lib/harness.mjs';
import { authHeaders, startStack } from './lib/stack.mjs';

const withMimalloc = execFileSync(binPath(), ['version'], { encoding: 'utf8' }).includes('mimalloc');

describe('bench/e2e/heap_segments.mjs', { skip: withMimalloc ? false : 'the binary does not use mimalloc' }, () => {
  let stack;

  before(async () => {
    stack = await startStack();
    // Each worker takes a few requests (connections are spread over the workers), so each allocates.
    for (let i = 0; i < 8; i++) {
      const r = await http(`${stack.gateway.url}/openai/v1/chat/completions`, {
        headers: authHeaders(stack),
        body: { model: 'gpt-mini', max_tokens: 3, messages: [{ role: 'user', content: `segments ${i}` }] },
      });
      assert.equal(r.status, 200, r.text);
    }
  });
  after(async () => {
    await stack?.stop();
  });

  test('lists resident segments and, as root, the workers that own them', () => {
    const pid = stack.gateway.pid;
    const out = execFileSync(process.execPath,
      [path.join(repoRoot, 'bench', 'e2e', 'heap_segments.mjs'), '--pid', String(pid), '--json'],
      { encoding: 'utf8', timeout: 30000 });
    const s = JSON.parse(out);
    assert.ok(s.segments.length >= 2, out);  // the main thread's and at least one worker's
    for (const seg of s.segments) {
      assert.match(seg.segment, /^0x[0-9a-f]+$/);
      assert.ok(BigInt(seg.segment) % (32n << 20n) === 0n, `${seg.segment} is 32 MiB-aligned`);
      assert.ok(seg.kib > 0, out);
    }
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssAnon = Number(/RssAnon:\s+(\d+)/.exec(status)[1]);
    assert.ok(s.segmentsKib > 0 && s.segmentsKib <= rssAnon, `segments ${s.segmentsKib} KiB, RssAnon ${rssAnon}`);
    if (process.getuid() === 0) {
      const tids = fs.readdirSync(`/proc/${pid}/task`).map(Number).filter((t) => t !== pid);
      const owned = s.segments.filter((seg) => /^spillway\/\d+$/.test(seg.owner));
      assert.ok(owned.length >= 1, `a worker's segment named: ${out}`);
      for (const seg of owned) assert.ok(tids.includes(Number(seg.owner.split('/')[1])), seg.owner);
    }
  });
});
