/** How one kind of tensor is quantized (the seed's TensorQuantConfig). */
export interface TensorQuantConfig {
  /** Integer width; ranges are ±(2^(nBits-1) − 1) when symmetric. */
  nBits: number;
  /** Symmetric (zero point 0, int8; what TensorRT requires) or asymmetric (uint8 with a zero point). */
  symmetric: boolean;
  /** One scale per output channel (weights) instead of one per tensor. */
  perChannel: boolean;
  /**
   * Symmetric below 8 bits on a tensor that is never negative (a ReLU's output): the grid
   * [0, 2^nBits − 1] with zero point 0 instead of ±(2^(nBits−1) − 1), half of which such a
   * tensor never uses. insertQdq sets it; it fits the int8 container, so the export stays
   * int8 Q/DQ with a Clip on the integers.
   */
  unsigned?: boolean;
}

/** Where quantizers go and how they quantize (the seed's QuantConfig). */
export interface QuantConfig {
  activation: TensorQuantConfig;
  weight: TensorQuantConfig;
  /** Pattern names or op types whose weights stay in float (e.g. LayerNormalization). */
  skipWeightQuantFor: string[];
}

export type TensorQuantConfigInput = Partial<TensorQuantConfig>;
export interface QuantConfigInput {
  activation?: TensorQuantConfigInput;
  weight?: TensorQuantConfigInput;
  skipWeightQuantFor?: string[];
}

/** Fills a TensorQuantConfig's defaults: 8 bits, symmetric, per-tensor. */
export function tensorQuantConfig(c: TensorQuantConfigInput = {}): TensorQuantConfig {
  const cfg = { nBits: 8, symmetric: true, perChannel: false, ...c };
  if (!Number.isInteger(cfg.nBits) || cfg.nBits < 2 || cfg.nBits > 8) {
    throw new Error(`TensorQuantConfig.nBits must be an integer from 2 to 8 (int8 containers), got ${String(c.nBits)}`);
  }
  return cfg;
}

/** TensorRT's defaults: INT8 symmetric activations per tensor, weights per output channel. */
export function quantConfig(c: QuantConfigInput = {}): QuantConfig {
  return {
    activation: tensorQuantConfig(c.activation),
    weight: tensorQuantConfig({ perChannel: true, ...c.weight }),
    skipWeightQuantFor: [...(c.skipWeightQuantFor ?? ['LayerNormalization'])],
  };
}

/** The integers an int8 (symmetric) or uint8 Q/DQ container holds: QuantizeLinear's saturation bounds. */
export function containerRange(symmetric: boolean): { qmin: number; qmax: number } {
  return symmetric ? { qmin: -128, qmax: 127 } : { qmin: 0, qmax: 255 };
}

/**
 * The integers a QDQ export of this config computes: the container's at 8 bits (the
 * export's QuantizeLinear saturates there, −128 included), the nBits grid below (its
 * Q → Clip → DQ). QAT's fake quant trains on this range, so a model exports what it trained.
 */
export function exportedIntegerRange(c: TensorQuantConfig): { qmin: number; qmax: number } {
  return c.nBits >= 8 ? containerRange(c.symmetric) : integerRange(c);
}

/** Integer range of a config: symmetric int8 uses [-127, 127] (TensorRT), asymmetric uint8 [0, 255]. */
export function integerRange(c: TensorQuantConfig): { qmin: number; qmax: number } {
  if (c.symmetric) {
    if (c.unsigned && c.nBits < 8) return { qmin: 0, qmax: 2 ** c.nBits - 1 };
    const q = 2 ** (c.nBits - 1) - 1;
    return { qmin: -q, qmax: q };
  }
  return { qmin: 0, qmax: 2 ** c.nBits - 1 };
}
