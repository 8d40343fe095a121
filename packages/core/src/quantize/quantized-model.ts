import type { Model } from '../ir/model.js';
import type { PatternMatch } from '../patterns/pattern.js';
import type { Exportable } from '../onnx/save.js';
import type { Quantizer, QuantizerKind } from './quantizer.js';
import type { QuantConfig } from './config.js';
import { QuantStub } from './quant-stub.js';
import { WeightFakeQuantize } from './weight-fake-quantize.js';
import { exportQdq, type ExportOptions } from './export-qdq.js';
import type { ExcludedMatch, ExcludeRules } from './exclude.js';
import type { QuantOverrides } from './overrides.js';

/** What insertQdq left out, and why. */
export interface PlacementInfo {
  /** Matches kept in float, each with the rule that caught it. */
  excluded: readonly ExcludedMatch[];
  /** Exclude rules that caught nothing (usually a typo). */
  unusedExcludeRules: readonly string[];
  /** The rules insertQdq was given (to re-place the same model with more exclusions). */
  exclude?: ExcludeRules;
  overrides?: QuantOverrides;
}

/**
 * A transformed FP32 model with its quantizers attached. The graph itself stays float
 * (calibration runs it as is); `toExportModel()` writes the Q/DQ nodes.
 */
export class QuantizedModel implements Exportable {
  constructor(
    /** The transformed FP32 model the quantizers refer to. */
    readonly model: Model,
    readonly matches: readonly PatternMatch[],
    private readonly _quantizers: readonly Quantizer[],
    readonly config: QuantConfig,
    readonly placement: PlacementInfo = { excluded: [], unusedExcludeRules: [] },
  ) {}

  quantizers(kind?: QuantizerKind): Quantizer[] {
    return kind ? this._quantizers.filter((q) => q.kind === kind) : [...this._quantizers];
  }

  stubs(): QuantStub[] {
    return this._quantizers.filter((q): q is QuantStub => q instanceof QuantStub);
  }

  weightQuantizers(): WeightFakeQuantize[] {
    return this._quantizers.filter((q): q is WeightFakeQuantize => q instanceof WeightFakeQuantize);
  }

  /** Quantizer counts by type. */
  counts(): Record<QuantizerKind, number> {
    return { QuantStub: this.stubs().length, WeightFakeQuantize: this.weightQuantizers().length };
  }

  /** The quantizers a match asked for. */
  quantizersOf(match: PatternMatch): Quantizer[] {
    return this._quantizers.filter((q) => q.matches.includes(match));
  }

  /** Activation quantizers not calibrated yet (their scales are placeholders). */
  uncalibrated(): QuantStub[] {
    return this.stubs().filter((s) => !s.calibrated);
  }

  /** A standalone QDQ ONNX model (QuantizeLinear/DequantizeLinear, opset ≥ 13). */
  toExportModel(options: ExportOptions = {}): Model {
    const pending = this.uncalibrated().filter((s) => s.enabled);
    if (pending.length && !options.quiet) {
      process.emitWarning(
        `${pending.length} of ${this.stubs().length} activation quantizers are not calibrated; their scales are placeholders (1.0). Run calibrate() before deploying.`,
        { type: 'QdeployWarning', code: 'QDEPLOY_UNCALIBRATED' },
      );
    }
    return exportQdq(this, options);
  }
}
