import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { STEP_WORKER_SOURCE } from './step-worker-source.js';

/** A graph input every worker reads: the main thread's array, mirrored in shared memory before each run. */
export interface SharedInput {
  name: string;
  value: Float32Array;
  dims: readonly number[];
}

export interface PoolResult {
  /** Mean of the workers' losses (each a mean over its equal part of the batch). */
  loss: number;
  /** Gradient output name → mean of the workers' gradients. */
  grads: Map<string, Float32Array>;
  /** The workers' logits, concatenated in batch order. */
  logits: Float32Array;
}

interface WorkerReply {
  ok: boolean;
  error?: string;
  loss?: number;
  logits?: Float32Array;
}

/**
 * Data-parallel training steps on worker threads: k workers, each with its own onnxruntime
 * session of the training graph built for 1/k of the batch, run their parts at once; the
 * losses and gradients are averaged (the loss is a mean over samples, so the mean of equal
 * parts' gradients is the whole batch's). Why: onnxruntime-node runs one session call at a
 * time on the calling thread, and a training step spreads poorly over intra-op threads (its
 * many memory-bound ops run on one), while k one-thread sessions each keep a core busy.
 */
export class StepPool {
  private shared: { name: string; source: Float32Array; mirror: Float32Array; dims: readonly number[] }[] = [];
  private grads: { name: string; parts: Float32Array[]; mean: Float32Array }[] = [];

  private constructor(private readonly workers: Worker[]) {}

  static create(size: number): StepPool {
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const workers = Array.from({ length: size }, () => {
      const w = new Worker(STEP_WORKER_SOURCE, { eval: true, workerData: { ort: ortPath } });
      w.unref(); // an idle pool does not keep the process alive (referenced while a call is pending)
      return w;
    });
    return new StepPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Gives every worker the graph (built for 1/size of the batch), its shared inputs and its gradient outputs. */
  async load(model: Uint8Array, options: ort.InferenceSession.SessionOptions, shared: readonly SharedInput[], grads: readonly { name: string; size: number }[]): Promise<void> {
    this.shared = shared.map((s) => ({ name: s.name, source: s.value, mirror: new Float32Array(new SharedArrayBuffer(s.value.byteLength)), dims: s.dims }));
    this.grads = grads.map((g) => ({ name: g.name, parts: this.workers.map(() => new Float32Array(new SharedArrayBuffer(4 * g.size))), mean: new Float32Array(g.size) }));
    const sharedMsg = this.shared.map((s) => ({ name: s.name, buffer: s.mirror.buffer, dims: s.dims }));
    await Promise.all(this.workers.map((w, i) => call(w, { type: 'load', model, options, shared: sharedMsg, grads: this.grads.map((g) => ({ name: g.name, buffer: g.parts[i]!.buffer })) })));
  }

  /**
   * One step: `batched` tensors are split along their first axis into equal parts, one per
   * worker; the shared inputs are read from their main-thread arrays as they are now.
   */
  async run(batched: Record<string, ort.Tensor>, loss: string, logits: string): Promise<PoolResult> {
    for (const s of this.shared) s.mirror.set(s.source);
    const k = this.workers.length;
    const parts = this.workers.map((_, i) => {
      const feeds: Record<string, { type: string; data: ArrayLike<unknown>; dims: number[] }> = {};
      for (const [name, t] of Object.entries(batched)) {
        const n = t.dims[0]! / k;
        const per = t.size / k;
        // slice, not subarray: a posted view would carry its whole buffer.
        feeds[name] = { type: t.type, data: (t.data as Float32Array).slice(i * per, (i + 1) * per), dims: [n, ...t.dims.slice(1)] };
      }
      return feeds;
    });
    const replies = await Promise.all(this.workers.map((w, i) => call(w, { type: 'run', feeds: parts[i], loss, logits })));
    for (const g of this.grads) meanOf(g.parts, g.mean);
    const size = replies.reduce((a, r) => a + r.logits!.length, 0);
    const all = new Float32Array(size);
    replies.reduce((offset, r) => (all.set(r.logits!, offset), offset + r.logits!.length), 0);
    return { loss: replies.reduce((a, r) => a + r.loss!, 0) / k, grads: new Map(this.grads.map((g) => [g.name, g.mean])), logits: all };
  }

  async release(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

/** out = the element-wise mean of `parts`, in one pass (two parts: the common case). */
function meanOf(parts: readonly Float32Array[], out: Float32Array): void {
  const inv = 1 / parts.length;
  if (parts.length === 2) {
    const [a, b] = parts as [Float32Array, Float32Array];
    for (let j = 0; j < out.length; j++) out[j] = (a[j]! + b[j]!) * inv;
    return;
  }
  for (let j = 0; j < out.length; j++) {
    let sum = 0;
    for (const p of parts) sum += p[j]!;
    out[j] = sum * inv;
  }
}

/** Posts one message and waits for the worker's answer (an error answer or a dead worker rejects). */
function call(w: Worker, message: unknown): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const done = () => {
      w.off('message', onMessage);
      w.off('error', onError);
      w.off('exit', onExit);
      w.unref();
    };
    const onMessage = (r: WorkerReply) => {
      done();
      if (r.ok) resolve(r);
      else reject(new Error(`QAT step worker: ${r.error}`));
    };
    const onError = (e: Error) => {
      done();
      reject(e);
    };
    const onExit = (code: number) => {
      done();
      reject(new Error(`QAT step worker exited (code ${code})`));
    };
    w.on('message', onMessage);
    w.on('error', onError);
    w.on('exit', onExit);
    w.ref();
    w.postMessage(message);
  });
}
