import { argmaxRows, sqnrDb } from '../evaluate/stats.js';

/** How close a model's outputs stay to the FP32 reference over a data set. */
export interface OutputMetrics {
  /** 10·log10(Σref² / Σ(ref−out)²) over every output value. */
  sqnrDb: number;
  /** Share of samples whose argmax equals the reference's (0..1). */
  agreement: number;
  /** Share of samples whose argmax equals the label (0..1), when labels were given. */
  top1?: number;
}

/** Accumulates OutputMetrics batch by batch. */
export class OutputScore {
  private signal = 0;
  private noise = 0;
  private agree = 0;
  private correct = 0;
  private samples = 0;

  constructor(private readonly hasLabels: boolean) {}

  /** `ref`, `out`: [samples × classes] rows of the first output; `labels`: this batch's. */
  add(ref: Float32Array, out: Float32Array, samples: number, labels?: Int32Array): void {
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!;
      const d = r - out[i]!;
      this.signal += r * r;
      this.noise += d * d;
    }
    const classes = ref.length / samples;
    const a = argmaxRows(ref, samples, classes);
    const b = argmaxRows(out, samples, classes);
    for (let i = 0; i < samples; i++) {
      if (a[i] === b[i]) this.agree++;
      if (labels && b[i] === labels[i]) this.correct++;
    }
    this.samples += samples;
  }

  metrics(): OutputMetrics {
    const m: OutputMetrics = { sqnrDb: sqnrDb(this.signal, this.noise), agreement: this.agree / this.samples };
    if (this.hasLabels) m.top1 = this.correct / this.samples;
    return m;
  }
}
