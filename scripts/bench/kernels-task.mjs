// The weight kernels against a copy of the same bytes (npm run bench's kernel rows), in one
// process: a 2048 × 2048 float32 weight (16 MiB) reduced along contiguous runs (as [N, K]
// along axis 0) and across rows (as PyTorch's MatMul [K, N] along axis 1), by the
// WebAssembly kernels and by their plain loops (scaling: both into a fresh array, as
// FoldBatchNorm needs). Median CPU time of 7 calls each (3 for the
// plain loops), after one warm-up call. Prints one JSON line.
import { channelExtrema, plainExtrema } from '../../packages/core/dist/quantize/weight-extrema.js';
import { plainQuantizeInto, quantizeInto } from '../../packages/core/dist/quantize/rounding.js';
import { plainScaleChannels, scaleChannels } from '../../packages/core/dist/quantize/scale-channels.js';

const n = 2048;
const w = new Float32Array(n * n).map((_, i) => Math.sin(i) * 3);
const copy = new Float32Array(n * n);
const ints = new Int8Array(n * n);
const scale = new Float32Array(n).fill(0.05);
const zero = new Int32Array(n);
const factor = new Float32Array(n).fill(1.5);
const cpuMs = (f, reps = 7) => {
  f();
  const xs = [];
  for (let r = 0; r < reps; r++) {
    const c = process.cpuUsage();
    f();
    const d = process.cpuUsage(c);
    xs.push((d.user + d.system) / 1000);
  }
  return xs.sort((a, b) => a - b)[reps >> 1];
};
const out = { mib: (w.byteLength / 2 ** 20), copyMs: cpuMs(() => copy.set(w)) };
for (const [layout, inner] of [['runs', n], ['across', 1]]) {
  out[`extrema_${layout}`] = cpuMs(() => channelExtrema(w, n, inner));
  out[`quantize_${layout}`] = cpuMs(() => quantizeInto(w, ints, scale, zero, inner, -127, 127));
  out[`scale_${layout}`] = cpuMs(() => scaleChannels(w, factor, inner));
  out[`plainExtrema_${layout}`] = cpuMs(() => plainExtrema(w, n, inner, new Float32Array(n), new Float32Array(n)), 3);
  out[`plainQuantize_${layout}`] = cpuMs(() => plainQuantizeInto(w, ints, scale, zero, inner, -127, 127), 3);
  out[`plainScale_${layout}`] = cpuMs(() => plainScaleChannels(w, new Float32Array(n * n), factor, inner), 3);
}
console.log(JSON.stringify(out));
