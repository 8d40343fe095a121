import { Buffers, type Optimizer, type OptimizerSpec, type OptimizerState, type Param } from './optimizer.js';

/** SGD with momentum (PyTorch's form: v = μ·v + g; w −= lr·v), optional Nesterov and L2 decay. */
export class Sgd implements Optimizer {
  readonly type = 'sgd' as const;
  private readonly buffers = new Buffers();
  private steps = 0;
  private readonly momentum: number;
  private readonly nesterov: boolean;
  private readonly weightDecay: number;

  constructor(spec: OptimizerSpec) {
    this.momentum = spec.momentum ?? 0.9;
    this.nesterov = spec.nesterov ?? false;
    this.weightDecay = spec.weightDecay ?? 0;
  }

  step(params: readonly Param[], grads: readonly Float32Array[], lr: number): void {
    const mu = this.momentum;
    params.forEach((p, k) => {
      const w = p.value, g = grads[k]!;
      const wd = p.decay ? this.weightDecay : 0;
      const plr = lr * (p.lrFactor ?? 1);
      const v = mu > 0 ? this.buffers.get(p.name, 'momentum', w.length) : null;
      for (let i = 0; i < w.length; i++) {
        let d = g[i]! + wd * w[i]!;
        if (v) {
          const vi = mu * v[i]! + d;
          v[i] = vi;
          d = this.nesterov ? d + mu * vi : vi;
        }
        w[i] = w[i]! - plr * d;
      }
    });
    this.steps++;
  }

  state(): OptimizerState {
    return { step: this.steps, buffers: this.buffers.toRecord() };
  }

  loadState(state: OptimizerState): void {
    this.steps = state.step;
    this.buffers.load(state.buffers);
  }
}
