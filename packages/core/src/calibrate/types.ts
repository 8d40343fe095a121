import type { Tensor } from 'onnxruntime-node';

/** One batch of model inputs: a Tensor for single-input models, or name → Tensor. */
export type Feed = Tensor | Record<string, Tensor>;
/** Runs one batch through the model being calibrated. */
export type RunFn = (inputs: Feed) => Promise<void>;
/** The user's loop over their data, like the seed's `forward_loop(model)`. */
export type ForwardLoop = (run: RunFn) => Promise<void>;
