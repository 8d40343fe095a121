/**
 * Exponential moving average of the trained values (Polyak averaging): after update n, the
 * values of updates i ≤ n weighted by dⁿ⁻ⁱ (bias-corrected: the weights sum to 1). Training steps on the raw values; what is evaluated
 * and exported is the average, which smooths the last steps' noise (at 4 bits a weight near
 * a rounding edge flips level from step to step). It lives on the main thread beside the
 * weights: data-parallel workers never see it.
 */
export class WeightAverage {
  private readonly shadows = new Map<string, Float32Array>();
  /** Updates averaged so far. */
  updates = 0;

  constructor(readonly decay: number) {
    if (!(decay > 0 && decay < 1)) throw new Error(`emaDecay must be in (0, 1), got ${decay}`);
  }

  /**
   * How far update number n (1-based) moves the average toward the value: (1 − d) / (1 − dⁿ),
   * the bias-corrected average (as Adam's moments) written as one recurrence. It weighs the
   * values seen by dⁿ⁻ⁱ, normalized, so a short run's average neither keeps the starting
   * weights nor depends on them.
   */
  private rate(): number {
    return (1 - this.decay) / (1 - this.decay ** (this.updates + 1));
  }

  /** Folds the current values in (a value seen for the first time starts its average). */
  update(values: Iterable<{ name: string; value: Float32Array }>): void {
    const r = this.rate();
    for (const { name, value } of values) {
      const s = this.shadows.get(name);
      if (!s) {
        this.shadows.set(name, value.slice());
        continue;
      }
      for (let i = 0; i < s.length; i++) s[i] = s[i]! + r * (value[i]! - s[i]!);
    }
    this.updates++;
  }

  /** The average of `name`, or undefined before its first update. */
  get(name: string): Float32Array | undefined {
    return this.shadows.get(name);
  }

  /** The averages by name (for checkpoints). */
  entries(): Map<string, Float32Array> {
    return new Map(this.shadows);
  }

  /** Restores averages and the update count from a checkpoint. */
  load(updates: number, shadows: ReadonlyMap<string, Float32Array>): void {
    this.updates = updates;
    this.shadows.clear();
    for (const [name, v] of shadows) this.shadows.set(name, v.slice());
  }
}
