// Statistics of bench/run's report (run.mjs), in a module of their own so that tests can reach them.

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// How sure a ratio of two proxies' figures is, given how much the repetitions differ. A bootstrap over the
// repetitions: draw o.reps repetition numbers with replacement (the same draw for every target, since a
// repetition's runs share the machine's state), compute the ratio from the drawn repetitions as the report
// does from all of them, 2000 times; the interval is the 5th to 95th percentile of those ratios (90%).
// A draw where the reference's added latency is not positive has no ratio (the two proxies differ by less
// than the direct upstream's run-to-run noise); `undefinedShare` says how often that happened. Seeded, so
// the same runs give the same interval.
const kBootstrapDraws = 2000;
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
// ratioOf(repNumbers) -> a ratio, or NaN where it has none.
export function bootstrapInterval(reps, ratioOf) {
  const rand = mulberry32(20261206);
  const ratios = [];
  let undefinedDraws = 0;
  for (let i = 0; i < kBootstrapDraws; i++) {
    const draw = Array.from({ length: reps.length }, () => reps[Math.floor(rand() * reps.length)]);
    const r = ratioOf(draw);
    if (Number.isFinite(r)) ratios.push(r);
    else undefinedDraws += 1;
  }
  return { lo: pct(ratios, 5), hi: pct(ratios, 95), undefinedShare: undefinedDraws / kBootstrapDraws };
}
// A target's verdict from its interval: at most `limit` (latency) or at least (throughput).
export function verdict(iv, limit, atMost) {
  if (!Number.isFinite(iv.lo) || iv.undefinedShare > 0.05) return 'not resolved';
  if (atMost) return iv.hi <= limit ? 'met' : iv.lo > limit ? 'not met' : 'not resolved';
  return iv.lo >= limit ? 'met' : iv.hi < limit ? 'not met' : 'not resolved';
}
