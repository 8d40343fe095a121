import type * as ort from 'onnxruntime-node';
import type { Model } from '../ir/model.js';
import { DataType } from '../ir/dtype.js';
import { extremaOutputs, observationSession } from '../calibrate/observe.js';
import { CalibrationStopped } from '../calibrate/data/forward-loop.js';
import { modelInputsOf, validateFeed } from '../calibrate/data/validate.js';
import type { Feed, ForwardLoop } from '../calibrate/types.js';
import { inferElemTypes } from './elem-types.js';

export interface MeasureOptions {
  /** Stop after this many samples. */
  limit?: number;
  sessionOptions?: ort.InferenceSession.SessionOptions;
}

/**
 * The reference run of a strongly typed export (AutoCast's): max |x| of every float
 * tensor of an FP32 model over the user's data, reduced inside the graph (only two
 * scalars per tensor leave onnxruntime). Feeds `toStronglyTyped`'s data rule and its
 * out-of-range report.
 */
export async function measureFloatRanges(model: Model, forwardLoop: ForwardLoop, options: MeasureOptions = {}): Promise<Record<string, number>> {
  const g = model.graph;
  const types = inferElemTypes(g);
  const names = [...g.inputs, ...g.nodes.flatMap((n) => n.outputs)].filter((v) => types.get(v) === DataType.FLOAT && v.uses.length + (g.outputs.includes(v) ? 1 : 0) > 0).map((v) => v.name);
  const session = await observationSession(model, [], { enableMemPattern: false, ...options.sessionOptions }, names);
  const have = new Set(session.outputNames);
  const inputs = modelInputsOf(session);
  const ranges: Record<string, number> = {};
  let samples = 0;
  const run = async (feed: Feed) => {
    if (options.limit !== undefined && samples >= options.limit) throw new CalibrationStopped();
    const feeds = validateFeed(feed, inputs, { batchIndex: 0, source: 'reference data' });
    const out = await session.run(feeds, names.flatMap((n) => Object.values(extremaOutputs(n))).filter((k) => have.has(k)));
    for (const n of names) {
      const e = extremaOutputs(n);
      const lo = have.has(e.min) ? Math.abs(Number(out[e.min]!.data[0])) : 0;
      const hi = have.has(e.max) ? Math.abs(Number(out[e.max]!.data[0])) : 0;
      ranges[n] = Math.max(ranges[n] ?? 0, lo, hi);
    }
    samples += Object.values(feeds)[0]?.dims[0] ?? 1;
  };
  try {
    await forwardLoop(run);
  } catch (e) {
    if (!(e instanceof CalibrationStopped)) throw e;
  } finally {
    await session.release();
  }
  return ranges;
}
