/**
 * Adapters between the two ways calibration data is expressed: a data source (async
 * iterable of batches) and a ForwardLoop (the user's own loop calling `run(feed)`).
 */
import type { Feed, ForwardLoop, RunFn } from '../types.js';
import { DataError } from './errors.js';
import { UNNAMED_INPUT, type CalibrationBatch, type CalibrationDataSource } from './source.js';
import { validateFeed, type ModelInputInfo } from './validate.js';

export interface ToForwardLoopOptions {
  /** Called after each batch has been run (progress bars, logging). */
  onBatch?: (batch: CalibrationBatch) => void | Promise<void>;
  /** When given, every batch is checked with validateFeed before it is run. */
  modelInputs?: readonly ModelInputInfo[];
}

/** A ForwardLoop that runs every batch of `source`; an empty source is a DataError. */
export function toForwardLoop(source: CalibrationDataSource, options: ToForwardLoopOptions = {}): ForwardLoop {
  return async (run: RunFn) => {
    let batches = 0;
    for await (const batch of source) {
      const names = Object.keys(batch.inputs);
      const feed: Feed = names.length === 1 && names[0] === UNNAMED_INPUT ? batch.inputs[UNNAMED_INPUT]! : batch.inputs;
      const inputs = options.modelInputs
        ? validateFeed(feed, options.modelInputs, { batchIndex: batch.index, source: source.description })
        : feed;
      await run(inputs);
      batches++;
      await options.onBatch?.(batch);
    }
    if (batches === 0) throw new DataError('empty', `no calibration samples in ${source.description}`);
  };
}

/**
 * Wraps a user's ForwardLoop so every feed it runs is checked with validateFeed (and
 * passed on as name → Tensor); a loop that runs nothing is a DataError.
 */
export function withValidation(loop: ForwardLoop, modelInputs: readonly ModelInputInfo[], source = 'forwardLoop'): ForwardLoop {
  return async (run: RunFn) => {
    let batchIndex = 0;
    await loop(async (feed) => {
      const inputs = validateFeed(feed, modelInputs, { batchIndex: batchIndex++, source });
      await run(inputs);
    });
    if (batchIndex === 0) throw new DataError('empty', `no calibration samples in ${source}`);
  };
}

/** Thrown into a ForwardLoop's pending `run()` when the consumer stops early. */
export class CalibrationStopped extends Error {
  override readonly name = 'CalibrationStopped';
  constructor() {
    super('calibration stopped reading data (limit reached or an error occurred)');
  }
}

/**
 * Turns a ForwardLoop into an async iterable of the feeds it passes to `run`. Each
 * `run(feed)` resolves once the consumer has processed that feed (asked for the next
 * one), so the loop never runs ahead by more than one batch. When the consumer stops
 * early, pending and later `run` calls reject with CalibrationStopped, which the
 * adapter swallows when the loop lets it propagate.
 */
export async function* feedsFromForwardLoop(loop: ForwardLoop): AsyncGenerator<Feed> {
  const queue: Array<{ feed: Feed; resolve: () => void; reject: (e: unknown) => void }> = [];
  let stopped = false;
  let finished = false;
  let failed = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const run: RunFn = (feed) => {
    if (stopped) return Promise.reject(new CalibrationStopped());
    return new Promise<void>((resolve, reject) => {
      queue.push({ feed, resolve, reject });
      notify();
    });
  };
  const done = Promise.resolve()
    .then(() => loop(run))
    .then(
      () => {
        finished = true;
        notify();
      },
      (err: unknown) => {
        finished = true;
        failed = true;
        failure = err;
        notify();
      },
    );
  try {
    for (;;) {
      if (queue.length === 0 && !finished) await new Promise<void>((r) => (wake = r));
      const item = queue.shift();
      if (item) {
        try {
          yield item.feed;
        } finally {
          item.resolve();
        }
        continue;
      }
      if (finished) {
        if (failed && !(failure instanceof CalibrationStopped)) throw failure;
        return;
      }
    }
  } finally {
    stopped = true;
    for (const item of queue.splice(0)) item.reject(new CalibrationStopped());
    await done;
  }
}
