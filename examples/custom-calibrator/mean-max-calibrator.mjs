// A third-party calibrator, written against @qdeploy/core's Calibrator interface only.
//
// "mean-max": the average over batches of each batch's max |x| (TensorFlow's moving-
// average min/max idea). Between minmax, which one outlier batch sets, and the
// histogram methods; O(1) state, so it shards and merges trivially.

class MeanMaxCalibrator {
  method = 'mean-max';
  #sum = 0;
  #batches = 0;
  #min = 0;
  #max = 0;

  collect(values) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) {
      if (values.length === 0) return;
      throw new Error('mean-max: non-finite values in the batch');
    }
    this.#sum += Math.max(-lo, hi);
    this.#batches += 1;
    this.#min = Math.min(this.#min, lo);
    this.#max = Math.max(this.#max, hi);
  }

  compute() {
    if (this.#batches === 0) throw new Error('mean-max: nothing collected');
    const amax = this.#sum / this.#batches;
    return { amax, min: Math.max(this.#min, -amax), max: Math.min(this.#max, amax) };
  }

  state() {
    return { method: this.method, version: 1, sum: this.#sum, batches: this.#batches, min: this.#min, max: this.#max };
  }

  merge(s) {
    if (s.method !== this.method) throw new Error(`mean-max: cannot merge a ${s.method} state`);
    this.#sum += s.sum;
    this.#batches += s.batches;
    this.#min = Math.min(this.#min, s.min);
    this.#max = Math.max(this.#max, s.max);
  }
}

/** The plugin: qdeploy imports this file (named in the config's `plugins`) and calls register. */
export default {
  name: 'mean-max-calibrator',
  register(ctx) {
    ctx.registerCalibrator('mean-max', () => new MeanMaxCalibrator());
  },
};
