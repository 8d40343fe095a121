/**
 * Optimizers over Float32Arrays, updated in place: the weights stay in JavaScript memory
 * and are fed to onnxruntime as inputs each step, so an update is one pass per tensor.
 */
export interface Param {
  name: string;
  value: Float32Array;
  /** Weight decay applies (weights of rank ≥ 2; not biases, norms or scales). */
  decay: boolean;
  /** Multiplies the learning rate of this parameter's update (default 1; learned weight scales). */
  lrFactor?: number;
}

export interface OptimizerState {
  /** Updates applied so far (AdamW's bias correction). */
  step: number;
  /** Per-parameter buffers by `${param}/${slot}`. */
  buffers: Record<string, Float32Array>;
}

export interface Optimizer {
  readonly type: OptimizerType;
  /** Applies one update with learning rate `lr`; `grads[i]` belongs to `params[i]`. */
  step(params: readonly Param[], grads: readonly Float32Array[], lr: number): void;
  state(): OptimizerState;
  loadState(state: OptimizerState): void;
}

export type OptimizerType = 'sgd' | 'adamw';

export interface OptimizerSpec {
  type: OptimizerType;
  /** Default 2e-4 (DEFAULT_QAT_LR; DEFAULT_QAT_LR_8BIT = 1e-5 when every quantizer has 8 bits). */
  lr?: number;
  /** SGD momentum (default 0.9). */
  momentum?: number;
  /** Nesterov momentum for SGD (default false). */
  nesterov?: boolean;
  /** Decoupled weight decay for AdamW, L2 for SGD (default 0). */
  weightDecay?: number;
  /** AdamW (default 0.9, 0.999). */
  betas?: [number, number];
  /** AdamW (default 1e-8). */
  eps?: number;
}

/** Buffers created on first use, one per parameter and slot. */
export class Buffers {
  readonly map = new Map<string, Float32Array>();
  get(name: string, slot: string, length: number): Float32Array {
    const key = `${name}/${slot}`;
    let b = this.map.get(key);
    if (!b) {
      b = new Float32Array(length);
      this.map.set(key, b);
    } else if (b.length !== length) {
      throw new Error(`optimizer state ${key} has ${b.length} values, the parameter ${length}`);
    }
    return b;
  }
  toRecord(): Record<string, Float32Array> {
    return Object.fromEntries(this.map);
  }
  load(record: Record<string, Float32Array>): void {
    this.map.clear();
    for (const [k, v] of Object.entries(record)) this.map.set(k, v);
  }
}
