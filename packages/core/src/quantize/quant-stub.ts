import type { Use, Value } from '../ir/value.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { CalibrationRange } from '../calibrate/calibrator.js';
import type { TensorQuantConfig } from './config.js';
import { fakeQuantizeInPlace, scaleFor, type Quantizer } from './quantizer.js';

/**
 * An activation quantizer: a QuantizeLinear → DequantizeLinear pair on one tensor, feeding
 * only the node inputs that the requesting patterns consume (other readers keep float).
 */
export class QuantStub implements Quantizer {
  readonly kind = 'QuantStub' as const;
  readonly axis = null;
  enabled = true;
  readonly scale = new Float32Array([1]);
  readonly zeroPoint = new Int32Array([0]);
  /** The observed range (after calibration). */
  range: CalibrationRange | null = null;
  /** A range the user fixed (an override's amax): calibration leaves it alone. */
  fixed = false;
  private readonly _matches: PatternMatch[] = [];
  private readonly _uses: Use[] = [];

  constructor(readonly tensor: Value, readonly config: TensorQuantConfig) {}

  get matches(): readonly PatternMatch[] {
    return this._matches;
  }

  /** The node inputs that read the dequantized tensor. */
  get uses(): readonly Use[] {
    return this._uses;
  }

  get calibrated(): boolean {
    return this.range !== null;
  }

  /** Records that `match` wants this tensor quantized where its nodes read it. */
  addRequest(match: PatternMatch, uses: readonly Use[]): void {
    if (!this._matches.includes(match)) this._matches.push(match);
    for (const u of uses) if (!this._uses.some((x) => x.node === u.node && x.index === u.index)) this._uses.push(u);
  }

  setRange(range: CalibrationRange): void {
    this.range = { ...range };
    const { scale, zeroPoint } = scaleFor(range, this.config);
    this.scale[0] = scale;
    this.zeroPoint[0] = zeroPoint;
  }

  /** Fixes the range to [-amax, amax] (calibration skips this stub). */
  fixRange(amax: number): void {
    this.setRange({ amax, min: -amax, max: amax });
    this.fixed = true;
  }

  fakeQuantize(values: Float32Array): Float32Array {
    return this.enabled ? fakeQuantizeInPlace(values, this.scale, this.zeroPoint, this.config, null) : values;
  }

  describe(): string {
    const r = this.range ? `amax ${this.range.amax.toPrecision(4)}, scale ${this.scale[0]!.toPrecision(4)}` : 'not calibrated';
    return `QuantStub(${this.tensor.name}: ${r}; for ${this._matches.map((m) => m.pattern.name).join(', ')})`;
  }
}
