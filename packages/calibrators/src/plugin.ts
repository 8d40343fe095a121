import type { CalibratorFactory, QdeployPlugin } from '@qdeploy/core';
import { EntropyCalibrator } from './entropy.js';
import { MinMaxCalibrator } from './minmax.js';
import { MseCalibrator } from './mse.js';
import { PercentileCalibrator } from './percentile.js';

/** Factories of the four built-in methods, by registered name. */
export const calibratorFactories: Readonly<Record<'minmax' | 'entropy' | 'percentile' | 'mse', CalibratorFactory>> =
  Object.freeze({
    minmax: (options) => new MinMaxCalibrator(options),
    entropy: (options) => new EntropyCalibrator(options),
    percentile: (options) => new PercentileCalibrator(options),
    mse: (options) => new MseCalibrator(options),
  });

/** Register every method with `registerFn` (e.g. core's `registerCalibrator`, or `ctx.registerCalibrator`). */
export function registerAll(registerFn: (method: string, factory: CalibratorFactory) => void): void {
  for (const [method, factory] of Object.entries(calibratorFactories)) registerFn(method, factory);
}

/** The plugin core loads when "@qdeploy/calibrators" is listed in `plugins`. */
const plugin: QdeployPlugin = {
  name: '@qdeploy/calibrators',
  register(ctx) {
    registerAll((method, factory) => ctx.registerCalibrator(method, factory));
  },
};

export default plugin;
