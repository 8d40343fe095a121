// The entropy and mse sweeps (../src/entropy.ts, ../src/mse.ts), in AssemblyScript, compiled
// to WebAssembly by `npm run gen:wasm` into
// ../src/wasm/sweeps.wasm.ts (../src/wasm-sweeps.ts loads it).
//
// Why WebAssembly: a calibration runs each sweep once per tensor, a few dozen times in a
// process, so JavaScript ran them mostly before V8 had optimised them — ~25 ms for the
// fashion-MNIST ResNet's 15 tensors, against ~8 once warm. WebAssembly is compiled before
// the first call: ~8 ms from the start.
//
// Each function returns exactly the candidate the plain sweeps of ../src/plain-sweeps.ts
// return — the same float64 arithmetic, in the same order, for every candidate it
// evaluates — but evaluates only the candidates that can win. `log` is JavaScript's
// Math.log, imported: V8 calls the same C function for it as for Math.log in JavaScript,
// so the logarithms are bit for bit those of the plain sweeps.
//
// Memory: the caller writes the counts (float64) at base() after reserve(workBytes), and
// everything else lives after them; nothing is allocated, nothing kept between calls.

@external("env", "log")
declare function log(x: f64): f64;

/** Unit roundoff of float64, 2^-53. */
const U: f64 = 1.1102230246251565e-16;

// @ts-ignore: decorator
@inline function ld(p: usize, i: i32): f64 {
  return load<f64>(p + ((<usize>i) << 3));
}
// @ts-ignore: decorator
@inline function st(p: usize, i: i32, v: f64): void {
  store<f64>(p + ((<usize>i) << 3), v);
}
// @ts-ignore: decorator
@inline function ldi(p: usize, i: i32): i32 {
  return load<i32>(p + ((<usize>i) << 2));
}
// @ts-ignore: decorator
@inline function sti(p: usize, i: i32, v: i32): void {
  store<i32>(p + ((<usize>i) << 2), v);
}
/** Bytes of `count` float64 (or int32 rounded up to 8 bytes) values. */
// @ts-ignore: decorator
@inline function f64s(count: i32): usize {
  return (<usize>count) << 3;
}
// @ts-ignore: decorator
@inline function i32s(count: i32): usize {
  return (((<usize>count) << 2) + 7) & ~(<usize>7);
}

/** Where the counts go: the first free 8-aligned address. */
export function base(): usize {
  return (__heap_base + 7) & ~(<usize>7);
}

/** Grows the memory so that `bytes` fit from base(); false when it cannot. */
export function reserve(bytes: f64): bool {
  const total = bytes + <f64>base();
  if (!(total <= 4294901760)) return false; // 65535 pages of 64 KiB
  const need = <i32>Math.ceil(total / 65536);
  const have = memory.size();
  return need <= have || memory.grow(need - have) >= 0;
}

// ---------------------------------------------------------------------------------------
// entropy: the KL sweep (TensorRT's entropy calibration, as pytorch-quantization computes it)
//
// For each cut i (bins kept; amax = edge i), with h = the counts with h[0] replaced by h[1]:
// P = h[0..i-1] with all the mass beyond the cut folded into P[i-1]; Q = h[0..i-1] merged
// into `levels` groups of bins (bin j to level ⌊j·levels/i⌋) and spread back evenly over
// each group's non-zero bins; KL(P‖Q) of P and Q normalised to sum 1. The best cut has the
// smallest KL (the larger cut on a tie); a cut whose last kept bin is empty while mass lies
// beyond has infinite KL and is skipped.
//
// KL in O(levels): with prefix sums of h, of h·ln h and of the count of non-zero bins, each
// level's contribution to Σ_j P_j ln(P_j / Q_j) = Σ_level [ Σ_{j∈level} h_j ln h_j − S ln(S / m) ]
// (S = the level's mass, m = its non-zero bins, so Q_j = S/m on them) is O(1). Then
//   KL = (1/T) Σ_j P_j ln(P_j/Q_j) + ln(Z/T)
// with T = Σ P (all the mass) and Z = Σ Q (the mass of the first i bins). Only the last
// level (ending at the cut) needs the folded tail. A level's term depends only on its bin
// range, which most cuts share, so terms are cached by (width, first bin).
//
// Which cuts can win: every level's term is ≥ 0 (log-sum inequality: P and Q have the same
// mass on a level, more for P on the folded one), so the last level's term plus ln(Z/T) is
// a lower bound of a cut's KL, and so is any partial sum of its terms, once the rounding of
// the terms not summed yet is allowed for (`lowerBound`). The sweep takes the best of the
// three cuts with the smallest such bound as a first upper bound, then goes through the
// cuts in order, skipping (or abandoning half-way) every cut whose lower bound exceeds the
// best KL found so far: that cut cannot be the minimum, and every cut that reaches the
// minimum is summed in full, in the plain sweep's order. On activation-like histograms
// (2048 bins, 128 levels) it starts ~10 % of the cuts and sums ~1 % in full. Histograms
// outside the range the error bound covers (negative, non-finite or extreme counts) take
// every cut.
// ---------------------------------------------------------------------------------------

let n: i32 = 0;
let levels: i32 = 0;
/** Level widths never exceed ⌈n/levels⌉ + 1 (< W). */
let W: i32 = 0;
let h: usize = 0; // the counts, h[0] replaced by h[1]
let C: usize = 0; // prefix sums of h
let HL: usize = 0; // prefix sums of h ln h
let tail: usize = 0; // suffix sums of h (summed from the end: no cancellation)
let NZ: usize = 0; // prefix counts of non-zero bins (int32)
let cache: usize = 0; // terms by (width, first bin), NaN until computed
let useCache: bool = false; // false when n·W is too large (few levels: few terms anyway)
let lower: usize = 0; // each cut's first lower bound
let lnZs: usize = 0; // each cut's ln(Z/T)
let T: f64 = 0;
let errorPerTerm: f64 = 0;

/** Bytes of memory entropyCutBin needs from base(). */
export function entropyWorkBytes(bins: i32, lv: i32, startBin: i32, stride: i32): f64 {
  const b = <f64>bins;
  const w = Math.ceil(b / <f64>lv) + 2;
  const terms = b * w <= 4194304 ? b * w : 0;
  const cuts = Math.max(0, Math.floor(<f64>(bins - startBin) / <f64>stride) + 1);
  return 8 * (2 * b + 4 * (b + 1) + terms + 2 * cuts) + 64;
}

/** Prefix sums and error bound of the counts at base(); whether the bound holds. */
function entropySetup(bins: i32, lv: i32, cuts: i32): bool {
  n = bins;
  levels = lv;
  const counts = base();
  h = counts + f64s(bins);
  C = h + f64s(bins);
  HL = C + f64s(bins + 1);
  tail = HL + f64s(bins + 1);
  NZ = tail + f64s(bins + 1);
  cache = NZ + i32s(bins + 1);
  W = <i32>Math.ceil(<f64>bins / <f64>lv) + 2;
  useCache = <f64>bins * <f64>W <= 4194304;
  lower = useCache ? cache + f64s(bins * W) : cache;
  lnZs = lower + f64s(cuts);
  if (useCache) memory.fill(cache, 0xff, f64s(bins * W)); // all-ones bits: a NaN

  for (let j = 0; j < bins; j++) st(h, j, ld(counts, j));
  if (bins > 1) st(h, 0, ld(h, 1));
  let absHL: f64 = 0; // Σ |h ln h|
  let hMin: f64 = Infinity; // smallest non-zero count
  let sane = true;
  st(C, 0, 0);
  st(HL, 0, 0);
  sti(NZ, 0, 0);
  for (let j = 0; j < bins; j++) {
    const v = ld(h, j);
    const vlv = v > 0 ? v * log(v) : 0;
    st(C, j + 1, ld(C, j) + v);
    st(HL, j + 1, ld(HL, j) + vlv);
    sti(NZ, j + 1, ldi(NZ, j) + (v > 0 ? 1 : 0));
    absHL += Math.abs(vlv);
    if (v > 0 && v < hMin) hMin = v;
    if (!(v >= 0 && v < Infinity)) sane = false;
  }
  st(tail, bins, 0);
  for (let j = bins - 1; j >= 0; j--) st(tail, j, ld(tail, j + 1) + ld(h, j));
  T = ld(C, bins);
  // Error of a term vs. the exact one of the same counts: the prefix differences carry
  // only the roundings made inside the level (≤ W of them, each ≤ U·prefix), logs and
  // products a few more. S is known to ~(W+1)·U·T, fine for ln(S/m) while that is
  // ≤ 1e-3 of the smallest non-zero count; Λ bounds |ln(S/m)| (hMin ≤ S/m ≤ T).
  // Twice the bound worked out for safety.
  const lambda = Math.max(Math.abs(log(hMin)), Math.abs(log(T))) + 1;
  errorPerTerm = 2 * (<f64>W + 8) * U * (absHL * 1.01 + T * (lambda + 3));
  return sane && T > 0 && T < 1e290 && (<f64>W + 1) * U * 1.01 * T <= 1e-3 * hMin;
}

/** A cut whose last kept bin is empty while mass lies beyond: P > 0 = Q there, infinite KL. */
// @ts-ignore: decorator
@inline function infinite(i: i32): bool {
  return ld(tail, i) > 0 && ld(h, i - 1) == 0;
}

/** Σ_{j∈[lo,hi)} h_j ln h_j − S ln(S/m); 0 for a level with no non-zero bin (skipped). */
function term(lo: i32, hi: i32): f64 {
  const m = ldi(NZ, hi) - ldi(NZ, lo);
  if (m == 0) return 0;
  const S = ld(C, hi) - ld(C, lo);
  return ld(HL, hi) - ld(HL, lo) - S * log(S / <f64>m);
}

/** `term` through the cache. */
// @ts-ignore: decorator
@inline function cachedTerm(lo: i32, hi: i32): f64 {
  if (!useCache) return term(lo, hi);
  const key = (hi - lo) * n + lo;
  let t = ld(cache, key);
  if (t != t) {
    t = term(lo, hi);
    st(cache, key, t);
  }
  return t;
}

/** Start of the last non-empty level of cut i: levels hold ⌊i/levels⌋ or one more bins. */
// @ts-ignore: decorator
@inline function lastLo(i: i32): i32 {
  return max(0, i - max(1, i / levels)); // cut 0: no level
}

/** The last level's term; with mass beyond the cut, folded into bin i-1 (P only). */
function lastTerm(i: i32): f64 {
  const lo = lastLo(i);
  const beyond = ld(tail, i);
  if (!(beyond > 0)) return cachedTerm(lo, i);
  const m = ldi(NZ, i) - ldi(NZ, lo);
  if (m == 0) return 0;
  const S = ld(C, i) - ld(C, lo);
  const pLast = ld(h, i - 1) + beyond;
  return ld(HL, i - 1) - ld(HL, lo) + pLast * log(pLast) - (S + beyond) * log(S / <f64>m);
}

/**
 * A lower bound of a cut's KL as `kl` computes it, given the running `sum` of its first
 * levels, at most `rest` levels left besides the last, the `last` level's term and the
 * cut's ln(Z/T). Each
 * term left is ≥ 0 exactly, so ≥ −errorPerTerm as computed; adding them one by one to the
 * running sum can lower it by no more than `slack`. Rounding is monotonic, so the rest of
 * `kl`'s arithmetic done on that lower sum gives a lower bound.
 */
function lowerBound(sum: f64, rest: i32, last: f64, lnZT: f64): f64 {
  const e = <f64>rest * errorPerTerm;
  const slack = e * 1.001 + 2 * U * <f64>rest * (Math.abs(sum) + e);
  return (sum - slack + last) / T + lnZT;
}

/** ln(Z/T) of cut i: the same for every bound and for the KL of the cut, so computed once. */
// @ts-ignore: decorator
@inline function lnZT(i: i32): f64 {
  return log(ld(C, i) / T);
}

/**
 * KL of cut i, summed as the plain sweep does: the terms in level order, the last level
 * last, then + ln(Z/T) (`lnZ`, the cut's lnZT). When `bound` is finite, gives up (NaN) as
 * soon as a lower bound exceeds it: checked every 4 levels (a bound costs a few flops).
 */
function kl(i: i32, bound: f64, lnZ: f64): f64 {
  // Level k covers [⌈k·i/levels⌉, ⌈(k+1)·i/levels⌉); its upper edge is stepped in
  // integers (quotient, remainder). Empty levels (lo = hi, when i < levels) add nothing.
  const qi = i / levels;
  const ri = i - qi * levels;
  const lastLoI = lastLo(i);
  const last = lastTerm(i);
  let q = 0;
  let rem = 0;
  let sum: f64 = 0;
  let lo = 0;
  let k = 0;
  while (lo < lastLoI) {
    q += qi;
    rem += ri;
    if (rem >= levels) {
      rem -= levels;
      q++;
    }
    const hi = rem > 0 ? q + 1 : q;
    if (lo < hi) {
      sum += cachedTerm(lo, hi);
      lo = hi;
    }
    if ((++k & 3) == 0 && bound < Infinity && lowerBound(sum, levels - k, last, lnZ) > bound) return NaN;
  }
  return (sum + last) / T + lnZ;
}

/**
 * The best cut (bins kept) of the `bins` counts at base(), over cuts startBin, startBin +
 * stride, ... <= bins, into `lv` levels. `bins` when every count is 0.
 */
export function entropyCutBin(bins: i32, lv: i32, startBin: i32, stride: i32): i32 {
  const count = max(0, (bins - startBin) / stride + 1);
  const boundable = entropySetup(bins, lv, count);
  if (!(T > 0)) return bins;
  let best: f64 = Infinity;
  let bestCut = bins;
  if (!boundable) {
    for (let i = startBin; i <= bins; i += stride) {
      if (infinite(i)) continue;
      const v = kl(i, Infinity, lnZT(i));
      if (v <= best) {
        best = v;
        bestCut = i;
      }
    }
    return bestCut;
  }

  // Lower bounds of every cut from its last level alone (NaN: infinite KL, skipped), and a
  // first upper bound: the exact KL of the (up to) three cuts with the lowest.
  let low0 = -1;
  let low1 = -1;
  let low2 = -1;
  for (let c = 0, i = startBin; c < count; c++, i += stride) {
    let b: f64 = NaN;
    if (!infinite(i)) {
      const z = lnZT(i);
      st(lnZs, c, z);
      b = lowerBound(0, levels - 1, lastTerm(i), z);
    }
    st(lower, c, b);
    if (!(b < (low2 < 0 ? Infinity : ld(lower, low2)))) continue;
    low2 = c;
    if (low1 < 0 || b < ld(lower, low1)) {
      low2 = low1;
      low1 = c;
    }
    if (low0 < 0 || b < ld(lower, low0)) {
      low1 = low0;
      low0 = c;
    }
  }
  let bound: f64 = Infinity;
  for (let t = 0; t < 3; t++) {
    const c = t == 0 ? low0 : t == 1 ? low1 : low2;
    const v = c >= 0 ? kl(startBin + c * stride, Infinity, ld(lnZs, c)) : NaN;
    if (v < bound) bound = v;
  }

  for (let c = 0, i = startBin; c < count; c++, i += stride) {
    if (!(ld(lower, c) <= bound)) continue; // infinite, or cannot reach the minimum
    const v = kl(i, bound, ld(lnZs, c)); // NaN when abandoned half-way: above the bound
    if (v < bound) bound = v;
    if (v <= best) {
      best = v;
      bestCut = i;
    }
  }
  return bestCut;
}

// ---------------------------------------------------------------------------------------
// mse: the amax minimising the squared quantization error (pytorch-quantization's
// `_compute_amax_mse`)
//
// Candidates are bin centers i + 0.5 (in units of bin widths, which scales every error by
// the same factor and so does not move the minimum). For each, every non-zero bin center
// c <= amax is fake-quantized symmetrically (scale = qmax / amax, round half to even) and
// the error is Σ count · (c − q(c))²; bins above the candidate are all clamped to amax, so
// their error Σ n (c − amax)² comes from suffix sums in O(1). The first minimum wins.
//
// Which candidates can win:
//   - the clipped error alone is a lower bound of a candidate's error (the rounded part is
//     a sum of terms ≥ 0, and rounding is monotonic), and so is any partial sum of it;
//   - the rounded part is, level by level, Σ n (c − q)² over the bins that round to level
//     q; from per-level sums of n, n·u, n·u² (u = offset in the level, all terms ≥ 0, no
//     cancellation) that costs O(levels) instead of O(bins), within a proven error bound
//     (`levelError`).
// The sweep keeps the smallest upper bound seen, skips every candidate whose lower bound
// exceeds it, and computes the exact (bin by bin, as the plain sweep) error only of those
// whose interval reaches it — every candidate with the minimal error is among them. On
// activation-like histograms (2048 bins, 8 bits) ~40 % of the candidates get an interval
// and about one an exact error. Histograms the bounds do not cover (negative, non-finite
// or enormous counts) take every candidate exactly.
// ---------------------------------------------------------------------------------------

let qmax: f64 = 0;
let counts: usize = 0;
let idx: usize = 0; // the non-zero bins in order (int32)
let nzBelow: usize = 0; // how many non-zero bins lie below each bin (int32)
let sN: usize = 0; // suffix sums over bins j >= k of n, n·c, n·c²
let sC: usize = 0;
let sCC: usize = 0;
let mass: usize = 0; // prefix sums of n (for the error bounds only)
let lowerErr: usize = 0; // each candidate's error interval; NaN: not computed or above the bound
let upperErr: usize = 0;
/** Per-level sums (see `buildLevels`), when `useLevels`. */
let levelSums: usize = 0;
/** A level holds at most maxWidth bins. */
let maxWidth: i32 = 0;
let useLevels: bool = false;

/** Largest level of a symmetric nBits quantizer: 2^(nBits-1) − 1. */
// @ts-ignore: decorator
@inline function maxBound(nBits: i32): f64 {
  return <f64>((1 << (nBits - 1)) - 1);
}

/** Whether the level sums are used (narrow levels, not too many): sets their size. */
function levelsFit(bins: i32, q: f64, boundable: bool): bool {
  return boundable && Math.floor((2 * <f64>bins - 3) / (2 * q)) + 1 <= 40 && 4 * (q + 1) <= <f64>bins;
}

/** Bytes of memory mseBestBin needs from base(). */
export function mseWorkBytes(bins: i32, startBin: i32, stride: i32, nBits: i32): f64 {
  const b = <f64>bins;
  const q = maxBound(nBits);
  const sums = levelsFit(bins, q, true) ? b * (Math.floor((2 * b - 3) / (2 * q)) + 2) * 3 : 0;
  const candidates = startBin < bins - 1 ? Math.floor(<f64>(bins - 2 - startBin) / <f64>stride) + 1 : 0;
  return 8 * (b + (b + 2) + 4 * (b + 1) + 2 * candidates + sums) + 64;
}

/** Sums of the counts at base(); whether the error bounds hold (finite counts >= 0 of a sane size). */
function mseSetup(bins: i32, nBits: i32, candidates: i32): bool {
  n = bins;
  qmax = maxBound(nBits);
  counts = base();
  idx = counts + f64s(bins);
  nzBelow = idx + i32s(bins);
  sN = nzBelow + i32s(bins + 1);
  sC = sN + f64s(bins + 1);
  sCC = sC + f64s(bins + 1);
  mass = sCC + f64s(bins + 1);
  lowerErr = mass + f64s(bins + 1);
  upperErr = lowerErr + f64s(candidates);
  levelSums = upperErr + f64s(candidates);
  let nz = 0;
  let sane = true;
  sti(nzBelow, 0, 0);
  for (let j = 0; j < bins; j++) {
    const v = ld(counts, j);
    if (v > 0) sti(idx, nz++, j);
    sti(nzBelow, j + 1, nz);
    if (!(v >= 0 && v < Infinity)) sane = false;
  }
  st(sN, bins, 0);
  st(sC, bins, 0);
  st(sCC, bins, 0);
  for (let j = bins - 1; j >= 0; j--) {
    const w = ld(counts, j);
    const c = <f64>j + 0.5;
    st(sN, j, ld(sN, j + 1) + w);
    st(sC, j, ld(sC, j + 1) + w * c);
    st(sCC, j, ld(sCC, j + 1) + w * c * c);
  }
  st(mass, 0, 0);
  for (let j = 0; j < bins; j++) st(mass, j + 1, ld(mass, j) + ld(counts, j));
  // Sizes keep every error < 1e300 and the level edges exact (see `levelSum`).
  const b = <f64>bins;
  const boundable = sane && ld(sN, 0) * ((2 * b + 2) * (2 * b + 2)) < 1e290 && (2 * b + 1) * qmax < 1125899906842624.0 && bins < 1 << 26;
  // A level holds at most ⌊step⌋ + 1 bins, step = amax / qmax <= (n - 1.5) / qmax.
  maxWidth = <i32>Math.floor((2 * b - 3) / (2 * qmax)) + 1;
  useLevels = levelsFit(bins, qmax, boundable);
  if (useLevels) buildLevels();
  return boundable;
}

/** The error of the bins above candidate i, all clamped to amax (added when > 0). */
// @ts-ignore: decorator
@inline function clipped(i: i32): f64 {
  const amax = <f64>i + 0.5;
  return ld(sCC, i + 1) - 2 * amax * ld(sC, i + 1) + amax * amax * ld(sN, i + 1);
}

/**
 * Candidate i's error exactly as the plain sweep computes it: each non-zero bin at or below
 * it rounded (half to even: `nearest`) in order, then the clipped part. With a finite
 * `bound`, gives up (NaN) once the error so far exceeds it: the terms are >= 0, so the
 * running sum only grows, and rounding is monotonic.
 */
function exact(i: i32, bound: f64): f64 {
  const amax = <f64>i + 0.5;
  const scale = qmax / amax;
  const cl = clipped(i);
  const rest = cl > 0 ? cl : 0;
  const p = ldi(nzBelow, i + 1);
  let err: f64 = 0;
  for (let q = 0; q < p; q++) {
    const j = ldi(idx, q);
    const c = <f64>j + 0.5;
    const d = c - nearest(c * scale) / scale;
    err += ld(counts, j) * d * d;
    if ((q & 63) == 63 && err + rest > bound) return NaN;
  }
  if (cl > 0) err += cl;
  return err;
}

/**
 * Per-level sums: for each start bin a and width w <= maxWidth, Σ n, Σ n·u, Σ n·u² over
 * bins a..a+w-1 with u = bin - a, at levelSums[(a·(maxWidth+1) + w)·3 ..]. Summed in bin
 * order from terms >= 0: each within (maxWidth+1) roundings of exact.
 */
function buildLevels(): void {
  const W1 = maxWidth + 1;
  for (let a = 0; a < n; a++) {
    const top = min(maxWidth, n - a);
    let o = a * W1 * 3;
    let l0: f64 = 0;
    let l1: f64 = 0;
    let l2: f64 = 0;
    for (let u = 0; u < top; u++) {
      const v = ld(counts, a + u);
      const uf = <f64>u;
      l0 += v;
      l1 += v * uf;
      l2 += v * (uf * uf);
      o += 3;
      st(levelSums, o, l0);
      st(levelSums, o + 1, l1);
      st(levelSums, o + 2, l2);
    }
  }
}

/**
 * Σ over levels of Σ n (c − q)², from the per-level sums: with δ = a + 0.5 − q (a = the
 * level's first bin), Σ n (u + δ)² = Σn·u² + δ (2 Σn·u + δ Σn). Level r holds the bins
 * whose (j + 0.5)·qmax/(i + 0.5) rounds to r. That ratio, (2j+1)·qmax / (2i+1), is never
 * within 1/(2(2i+1)) of a half-integer (odd over even), far more than the plain sweep's
 * rounding error in c·scale, so its levels are these exact integer ones: level r >= 1
 * starts at ⌈f/2⌉, f = ⌊(2r−1)(2i+1) / (2·qmax)⌋, stepped below in integers. With a
 * finite `bound`, gives up (NaN) once the levels so far prove the error above it.
 */
function levelSum(i: i32, bound: f64, e: f64, g: f64, rest: f64): f64 {
  const Q = <i32>qmax;
  const W1 = maxWidth + 1;
  const D = 2 * Q;
  const stp = (<f64>i + 0.5) / qmax;
  const inc = 2 * (2 * i + 1);
  const incQ = inc / D;
  const incR = inc - incQ * D;
  let f = (2 * i + 1) / D; // for r = 1
  let rem = 2 * i + 1 - f * D;
  let a = 0;
  let v: f64 = 0;
  for (let r = 0; r <= Q; r++) {
    const next = r < Q ? (f + 1) >> 1 : i + 1;
    f += incQ;
    rem += incR;
    if (rem >= D) {
      rem -= D;
      f++;
    }
    const w = next - a;
    if (w > 0) {
      const o = (a * W1 + w) * 3;
      const d = <f64>a + 0.5 - <f64>r * stp;
      v += ld(levelSums, o + 2) + d * (2 * ld(levelSums, o + 1) + d * ld(levelSums, o));
      a = next;
    }
    if ((r & 31) == 31 && (max<f64>(0, v - e) * (1 - g) + rest) * (1 - g) > bound) return NaN;
  }
  return v;
}

/**
 * A bound of |levelSum − Σ n (c − q)²| for candidate i, with q as the plain sweep computes
 * it (r / scale; d = c − q is then exact, Sterbenz). q there and r·step here differ by <= 4
 * roundings of a value <= amax: Δ = 5.1·U·amax covers that and δ's own rounding; it moves a
 * level's sum by <= Δ·(2Σn·u + (2|δ|+Δ)Σn) <= Δ·(3·step + 3)·Σn. The per-level sums'
 * roundings (<= maxWidth), the combination's and those of summing the levels (<= qmax + 1)
 * are relative to Σ n (u + |δ|)² <= (1.5·step + 1)²·Σn, as u <= step and |δ| <= step/2
 * (+ Δ). Twice that, for safety.
 */
function levelError(i: i32): f64 {
  const amax = <f64>i + 0.5;
  const step = amax / qmax;
  const m = ld(mass, i + 1);
  const delta = 5.1 * U * amax;
  const rounding = (<f64>maxWidth + 2 * qmax + 12) * U;
  const spread = 1.5 * step + 1;
  return 2.02 * m * (delta * (3 * step + 3) + rounding * (spread * spread));
}

/** Bounds of candidate i's error into lowerErr[c], upperErr[c] (NaN when proven above `bound`); exact without level sums. */
function interval(i: i32, bound: f64, c: i32): void {
  if (!useLevels) {
    const x = exact(i, bound);
    st(lowerErr, c, x);
    st(upperErr, c, x);
    return;
  }
  const cl = clipped(i);
  const rest = cl > 0 ? cl : 0;
  const e = levelError(i);
  const g = 2 * (<f64>n + 8) * U; // the plain sweep's own summation error, relative, with room
  const v = levelSum(i, bound, e, g, rest);
  st(lowerErr, c, (max<f64>(0, v - e) * (1 - g) + rest) * (1 - g));
  st(upperErr, c, ((v + e) * (1 + g) + rest) * (1 + g));
}

/**
 * The bin whose center, taken as amax, minimises the squared error of the `bins` counts
 * at base(), over candidates startBin, startBin + stride, ... < bins − 1, for an nBits
 * symmetric quantizer.
 */
export function mseBestBin(bins: i32, startBin: i32, stride: i32, nBits: i32): i32 {
  const candidates = startBin < bins - 1 ? (bins - 2 - startBin) / stride + 1 : 0;
  const boundable = mseSetup(bins, nBits, candidates);
  let best: f64 = Infinity;
  let bestBin = max(0, min(startBin, bins - 1));
  if (!boundable) {
    for (let i = startBin; i < bins - 1; i += stride) {
      const err = exact(i, Infinity);
      if (err < best) {
        best = err;
        bestBin = i;
      }
    }
    return bestBin;
  }

  memory.fill(lowerErr, 0xff, f64s(2 * candidates)); // NaN: no interval yet
  let bound: f64 = Infinity;
  // A first bound from a coarse grid of candidates, then every candidate in order.
  const grid = max(1, candidates / 32);
  for (let c = grid >> 1; c < candidates; c += grid) interval(startBin + c * stride, Infinity, c);
  for (let c = 0; c < candidates; c++) if (ld(upperErr, c) < bound) bound = ld(upperErr, c);
  for (let c = 0, i = startBin; c < candidates; c++, i += stride) {
    const lo = ld(lowerErr, c);
    if (lo == lo || clipped(i) > bound) continue;
    interval(i, bound, c);
    if (ld(upperErr, c) < bound) bound = ld(upperErr, c);
  }
  for (let c = 0, i = startBin; c < candidates; c++, i += stride) {
    if (!(ld(lowerErr, c) <= bound)) continue;
    const err = useLevels ? exact(i, min<f64>(best, bound)) : ld(lowerErr, c);
    if (err < best) {
      best = err;
      bestBin = i;
    }
  }
  return bestBin;
}
