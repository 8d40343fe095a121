import type { Value } from '../ir/value.js';
import type { Tensor } from '../ir/tensor.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { CalibrationRange } from '../calibrate/calibrator.js';
import { integerRange, type TensorQuantConfig } from './config.js';
import { fakeQuantizeInPlace, scaleFor, scalesFor, type Quantizer } from './quantizer.js';
import { channelExtrema, scaledChannelExtrema } from './weight-extrema.js';

/**
 * A weight quantizer: per output channel (or per tensor), with scales taken from the
 * weights themselves, so weights are ready before any calibration data is seen.
 */
export class WeightFakeQuantize implements Quantizer {
  readonly kind = 'WeightFakeQuantize' as const;
  enabled = true;
  readonly calibrated = true;
  readonly axis: number | null;
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  /** Per-channel |w| maxima. */
  readonly amax: Float32Array;
  private readonly _matches: PatternMatch[] = [];

  constructor(readonly tensor: Value, readonly config: TensorQuantConfig, axis: number) {
    const w = WeightFakeQuantize.weightOf(tensor);
    if (axis < 0 || axis >= w.dims.length) throw new Error(`weight ${tensor.name} ${w.describe()} has no axis ${axis}`);
    this.axis = config.perChannel ? axis : null;
    const channels = this.axis === null ? 1 : w.dims[this.axis]!;
    this.scale = new Float32Array(channels);
    this.zeroPoint = new Int32Array(channels);
    this.amax = new Float32Array(channels);
    this.observe(w);
  }

  private static weightOf(v: Value): Tensor {
    const t = v.constant();
    if (!t) throw new Error(`WeightFakeQuantize: ${v.name} is not a constant`);
    return t;
  }

  /** Takes per-channel ranges from the weight values. */
  private observe(w: Tensor): void {
    // External weights are read for the extrema and dropped, not cached on the tensor: a
    // model over 2 GB keeps no FP32 copy of its weights in JS (onnxruntime holds the one).
    const values = () => (w.isExternal ? w.toFloat32Copy() : w.toFloat32OrBytes());
    const channels = this.scale.length;
    const inner = this.axis === null ? w.size : w.dims.slice(this.axis + 1).reduce((a, b) => a * b, 1);
    // A folded BatchNorm not computed yet: the extrema follow from the unscaled weight's.
    const f = w.channelFactors();
    const { min, max } = f && (channels === 1 || (channels === f.factor.length && inner === f.inner))
      ? scaledChannelExtrema(f.base, f.factor, f.inner, channels)
      : channelExtrema(values(), channels, inner);
    for (let c = 0; c < channels; c++) this.amax[c] = Math.max(-min[c]!, max[c]!);
    scalesFor(min, max, this.amax, this.config, this.scale, this.zeroPoint);
  }

  /** Re-reads the per-channel ranges from the weight's current value (after QAT changed it). */
  refresh(): void {
    this.observe(WeightFakeQuantize.weightOf(this.tensor));
  }

  /**
   * Takes per-channel scales learned by QAT (LSQ on weights) as they are: the export clips
   * to them instead of spanning max |w|. A later refresh() goes back to max |w| / qmax.
   */
  setScales(scales: Float32Array): void {
    if (scales.length !== this.scale.length) throw new Error(`WeightFakeQuantize ${this.tensor.name}: ${scales.length} scales for ${this.scale.length} channels`);
    if (!this.config.symmetric) throw new Error(`WeightFakeQuantize ${this.tensor.name}: learned scales are symmetric only`);
    const { qmax } = integerRange(this.config);
    this.scale.set(scales);
    this.zeroPoint.fill(0);
    for (let c = 0; c < scales.length; c++) this.amax[c] = scales[c]! * qmax;
  }

  get matches(): readonly PatternMatch[] {
    return this._matches;
  }

  addRequest(match: PatternMatch): void {
    if (!this._matches.includes(match)) this._matches.push(match);
  }

  /** Overrides the range (all channels). Weights normally keep their own ranges. */
  setRange(range: CalibrationRange): void {
    const { scale, zeroPoint } = scaleFor(range, this.config);
    this.scale.fill(scale);
    this.zeroPoint.fill(zeroPoint);
    this.amax.fill(range.amax);
  }

  fakeQuantize(values: Float32Array, dims?: readonly number[]): Float32Array {
    if (!this.enabled) return values;
    return fakeQuantizeInPlace(values, this.scale, this.zeroPoint, this.config, this.axis, dims ?? WeightFakeQuantize.weightOf(this.tensor).dims);
  }

  describe(): string {
    const t = this.tensor.constant();
    const mode = this.axis === null ? 'per-tensor' : `per-channel axis ${this.axis} (${this.scale.length} channels)`;
    return `WeightFakeQuantize(${this.tensor.name} ${t?.describe() ?? ''}: ${mode}; for ${this._matches.map((m) => m.pattern.name).join(', ')})`;
  }
}
