import { roundHalfEven } from '@qdeploy/core';
import { maxBound } from './options.js';

// The entropy and mse sweeps in their plain form: every candidate, evaluated in full. They
// define the result: the WebAssembly sweeps (../assembly/sweeps.ts) return exactly their
// candidate, faster, and they are what runs where WebAssembly is not available.

/** entropy (entropy.ts): the cut with the smallest KL divergence, the larger one on a tie. */
export function plainEntropyCutBin(counts: ArrayLike<number>, levels: number, startBin: number, stride: number): number {
  const n = counts.length;
  const C = new Float64Array(n + 1); // prefix sums of h
  const HL = new Float64Array(n + 1); // prefix sums of h ln h
  const NZ = new Int32Array(n + 1); // prefix counts of non-zero bins
  const tail = new Float64Array(n + 1); // suffix sums of h (summed from the end: no cancellation)
  const h = new Float64Array(n);
  for (let j = 0; j < n; j++) h[j] = counts[j]!;
  if (n > 1) h[0] = h[1]!;
  for (let j = 0; j < n; j++) {
    const v = h[j]!;
    C[j + 1] = C[j]! + v;
    HL[j + 1] = HL[j]! + (v > 0 ? v * Math.log(v) : 0);
    NZ[j + 1] = NZ[j]! + (v > 0 ? 1 : 0);
  }
  for (let j = n - 1; j >= 0; j--) tail[j] = tail[j + 1]! + h[j]!;
  const T = C[n]!;
  if (!(T > 0)) return n;

  let best = Infinity;
  let bestCut = n;
  for (let i = startBin; i <= n; i += stride) {
    const beyond = tail[i]!;
    const hLast = h[i - 1]!;
    if (beyond > 0 && hLast === 0) continue; // P[i-1] > 0 = Q[i-1]: infinite divergence
    let sum = 0;
    for (let k = 0; k < levels; k++) {
      const lo = Math.ceil((k * i) / levels);
      const hi = k === levels - 1 ? i : Math.ceil(((k + 1) * i) / levels);
      if (lo >= hi) continue;
      const m = NZ[hi]! - NZ[lo]!;
      if (m === 0) continue;
      const S = C[hi]! - C[lo]!;
      if (hi === i && beyond > 0) {
        const pLast = hLast + beyond;
        sum += HL[hi - 1]! - HL[lo]! + pLast * Math.log(pLast) - (S + beyond) * Math.log(S / m);
      } else {
        sum += HL[hi]! - HL[lo]! - S * Math.log(S / m);
      }
    }
    const kl = sum / T + Math.log(C[i]! / T);
    if (kl <= best) {
      best = kl;
      bestCut = i;
    }
  }
  return bestCut;
}

/** mse (mse.ts): the bin whose center minimises the squared error, the first one on a tie. */
export function plainMseBestBin(counts: ArrayLike<number>, startBin: number, stride: number, nBits: number): number {
  const n = counts.length;
  const qmax = maxBound(nBits);
  // Non-zero bins, compacted: centers and counts.
  const idx = new Int32Array(n);
  let nz = 0;
  for (let j = 0; j < n; j++) if (counts[j]! > 0) idx[nz++] = j;
  // Suffix sums over bins j >= k of n, n·c, n·c².
  const sN = new Float64Array(n + 1);
  const sC = new Float64Array(n + 1);
  const sCC = new Float64Array(n + 1);
  for (let j = n - 1; j >= 0; j--) {
    const w = counts[j]!;
    const c = j + 0.5;
    sN[j] = sN[j + 1]! + w;
    sC[j] = sC[j + 1]! + w * c;
    sCC[j] = sCC[j + 1]! + w * c * c;
  }
  let best = Infinity;
  let bestBin = Math.max(0, Math.min(startBin, n - 1));
  let p = 0; // first non-zero bin above the candidate, in idx
  for (let i = startBin; i < n - 1; i += stride) {
    const amax = i + 0.5;
    const scale = qmax / amax;
    while (p < nz && idx[p]! <= i) p++;
    let err = 0;
    for (let q = 0; q < p; q++) {
      const j = idx[q]!;
      const c = j + 0.5;
      const d = c - roundHalfEven(c * scale) / scale; // c · scale <= qmax < 2^15: in its range
      err += counts[j]! * d * d;
    }
    const clipped = sCC[i + 1]! - 2 * amax * sC[i + 1]! + amax * amax * sN[i + 1]!;
    if (clipped > 0) err += clipped;
    if (err < best) {
      best = err;
      bestBin = i;
    }
  }
  return bestBin;
}
