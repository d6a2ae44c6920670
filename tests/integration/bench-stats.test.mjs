// bench/run's verdicts on the performance targets (bench/e2e/stats.mjs): a ratio's bootstrap interval over
// the repetitions, and what it decides. No binary involved; here because this suite is where the project's
// JavaScript is tested.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { bootstrapInterval, median, verdict } from '../../bench/e2e/stats.mjs';

// Per repetition: the direct upstream's, nginx's and Spillway's p99 in us.
function addedRatio(runs) {
  return (draw) => {
    const added = (t) => median(draw.map((rep) => runs[rep][t] - runs[rep].direct));
    const n = added('nginx');
    return n > 0 ? added('spillway') / n : NaN;
  };
}

describe('bench/run statistics', () => {
  test('repetitions that agree give an interval of one value', () => {
    const runs = [0, 1, 2, 3, 4].map(() => ({ direct: 100, nginx: 150, spillway: 200 }));
    const iv = bootstrapInterval([0, 1, 2, 3, 4], addedRatio(runs));
    assert.deepEqual(iv, { lo: 2, hi: 2, undefinedShare: 0 });
    assert.equal(verdict(iv, 1.2, true), 'not met');
  });

  test('the interval spans what the repetitions allow, and is the same every time', () => {
    // Spillway adds 40 us where nginx adds 50 in three repetitions, 90 in two (ratios 0.8 and 1.8).
    const runs = [
      { direct: 100, nginx: 150, spillway: 140 },
      { direct: 100, nginx: 150, spillway: 190 },
      { direct: 100, nginx: 150, spillway: 140 },
      { direct: 100, nginx: 150, spillway: 190 },
      { direct: 100, nginx: 150, spillway: 140 },
    ];
    const iv = bootstrapInterval([0, 1, 2, 3, 4], addedRatio(runs));
    assert.equal(iv.lo, 0.8);
    assert.equal(iv.hi, 1.8);
    assert.equal(verdict(iv, 1.2, true), 'not resolved');
    assert.deepEqual(bootstrapInterval([0, 1, 2, 3, 4], addedRatio(runs)), iv);
  });

  test('a reference that adds nothing measurable leaves the target unrated', () => {
    const runs = [0, 1, 2].map((i) => ({ direct: 100, nginx: 95 + i, spillway: 120 }));
    const iv = bootstrapInterval([0, 1, 2], addedRatio(runs));
    assert.ok(iv.undefinedShare > 0.05, JSON.stringify(iv));
    assert.equal(verdict(iv, 1.2, true), 'not resolved');
  });

  test('verdicts: latency at most the limit, throughput at least', () => {
    assert.equal(verdict({ lo: 0.7, hi: 1.2, undefinedShare: 0 }, 1.2, true), 'met');
    assert.equal(verdict({ lo: 1.21, hi: 3, undefinedShare: 0 }, 1.2, true), 'not met');
    assert.equal(verdict({ lo: 0.8, hi: 1.1, undefinedShare: 0 }, 0.8, false), 'met');
    assert.equal(verdict({ lo: 0.5, hi: 0.79, undefinedShare: 0 }, 0.8, false), 'not met');
    assert.equal(verdict({ lo: 0.7, hi: 0.9, undefinedShare: 0 }, 0.8, false), 'not resolved');
    assert.equal(verdict({ lo: 0.7, hi: 1.0, undefinedShare: 0.2 }, 1.2, true), 'not resolved');
  });
});
