// Seeded random data for the calibrator tests (no dependency: mulberry32 + Box–Muller).

/** Uniform [0, 1) generator from a 32-bit seed (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n samples of N(mean, sigma²). */
export function gaussian(n: number, seed: number, sigma = 1, mean = 0): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - u()));
    const th = 2 * Math.PI * u();
    out[i] = mean + sigma * r * Math.cos(th);
    if (i + 1 < n) out[i + 1] = mean + sigma * r * Math.sin(th);
  }
  return out;
}

/** n samples of a Laplace(0, b) distribution. */
export function laplace(n: number, seed: number, b = 1): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = u() - 0.5;
    out[i] = -b * Math.sign(v) * Math.log(1 - 2 * Math.abs(v));
  }
  return out;
}

/** n samples uniform on [lo, hi). */
export function uniform(n: number, seed: number, lo: number, hi: number): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * u();
  return out;
}

export const relu = (x: Float32Array): Float32Array => x.map((v) => (v > 0 ? v : 0));

/** Split into batches of `size` (views, no copy). */
export function batches(x: Float32Array, size: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < x.length; i += size) out.push(x.subarray(i, Math.min(x.length, i + size)));
  return out;
}

/** Exact empirical quantile of |x|: the smallest |x| with at least q·n values <= it. */
export function absQuantile(x: Float32Array, q: number): number {
  const a = Float64Array.from(x, Math.abs).sort();
  return a[Math.max(0, Math.ceil(q * a.length) - 1)]!;
}

export function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

/**
 * Reference |x| histogram over [0, range] with `bins` bins, binned directly (no growth).
 * `closedEdges`: earlier, smaller ranges of a histogram that grew. A value exactly equal
 * to one of them sat in that histogram's (closed) last bin, which re-binning keeps
 * below the edge, so here it goes to the bin just below that edge too.
 */
export function directHistogram(x: Float32Array, bins: number, range: number, closedEdges: number[] = []): number[] {
  const h = new Array<number>(bins).fill(0);
  for (const v of x) {
    const a = Math.abs(v);
    const k = closedEdges.includes(a) ? (a * bins) / range - 1 : Math.min(bins - 1, Math.floor((a * bins) / range));
    h[k]! += 1;
  }
  return h;
}

/** Gaussian samples with |x| < bound (the rare larger ones are halved until inside). */
export function boundedGaussian(n: number, seed: number, sigma: number, bound: number): Float32Array {
  const x = gaussian(n, seed, sigma);
  for (let i = 0; i < n; i++) while (Math.abs(x[i]!) >= bound) x[i]! *= 0.5;
  return x;
}

/** `count` histograms of 300–599 bins: decaying mass, random holes, a few spikes. */
export function irregularHistograms(seed: number, count: number): Float64Array[] {
  const u = rng(seed);
  return Array.from({ length: count }, () => {
    const n = 300 + Math.floor(u() * 300);
    const hist = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const r = u();
      hist[j] = r < 0.2 ? 0 : Math.floor(1e5 * Math.exp(-j / (40 + 80 * u())) * (r > 0.97 ? 20 : 1) + (u() < 0.5 ? 1 : 0));
    }
    return hist;
  });
}
