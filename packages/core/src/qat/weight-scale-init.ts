/**
 * Per-channel MSE-optimal weight scales. At 4 bits a per-channel max |w| / qmax spends
 * levels on one outlier; the MSE scale clips each channel where the round-to-grid error
 * Σ (w − s·clamp(round(w/s)))² is least, over clip ratios of its max |w|. It starts learned
 * weight scales (weightScaleInit "mse") or is recomputed each step (mseWeightClip).
 */
import { roundHalfEven } from '../quantize/rounding.js';
import { channelExtrema } from '../quantize/weight-extrema.js';

/** Clip ratios tried, as fractions of a channel's max |w|. */
const RATIOS = Array.from({ length: 71 }, (_, i) => 0.3 + i * 0.01);

/**
 * Per-channel MSE-optimal symmetric scales of `w` on the grid ±qmax, where the channel of
 * element i is ⌊i / inner⌋ mod channels (as channelExtrema). A channel of zeros gets 1 (the
 * export's choice: any scale gives zeros).
 */
export function mseWeightScales(w: Float32Array, channels: number, inner: number, qmax: number): Float32Array {
  const { min, max } = channelExtrema(w, channels, inner);
  const amax = max.map((hi, c) => Math.max(hi, -min[c]!));
  const errors = new Float64Array(channels * RATIOS.length);
  for (let start = 0; start < w.length; start += inner) {
    const c = (start / inner) % channels;
    const a = amax[c]!;
    if (!(a > 0)) continue;
    for (let r = 0; r < RATIOS.length; r++) {
      const s = (RATIOS[r]! * a) / qmax;
      let e = 0;
      for (let i = start; i < start + inner; i++) {
        const x = w[i]!;
        const d = x - Math.min(qmax, Math.max(-qmax, roundHalfEven(x / s))) * s;
        e += d * d;
      }
      errors[c * RATIOS.length + r] += e;
    }
  }
  const out = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const a = amax[c]!;
    if (!(a > 0)) {
      out[c] = 1;
      continue;
    }
    let best = RATIOS.length - 1;
    for (let r = 0; r < RATIOS.length; r++) if (errors[c * RATIOS.length + r]! < errors[c * RATIOS.length + best]!) best = r;
    out[c] = (RATIOS[best]! * a) / qmax;
  }
  return out;
}
