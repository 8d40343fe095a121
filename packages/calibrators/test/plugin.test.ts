import {
  calibratorToken,
  qdeployContainer,
  registerCalibrator,
  resolveCalibratorFactory,
  type CalibratorFactory,
  type PluginContext,
} from '@qdeploy/core';
import { describe, expect, it } from 'vitest';
import plugin, {
  EntropyCalibrator,
  MinMaxCalibrator,
  MseCalibrator,
  PercentileCalibrator,
  registerAll,
} from '../src/index.js';

describe('plugin', () => {
  it('default export is the "@qdeploy/calibrators" QdeployPlugin', () => {
    expect(plugin.name).toBe('@qdeploy/calibrators');
    expect(typeof plugin.register).toBe('function');
  });

  it('registers the four methods into the container it is handed, and they resolve to working calibrators', async () => {
    const child = qdeployContainer.createChildContainer();
    const ctx: PluginContext = {
      container: child,
      registerCalibrator: (method, factory) => registerCalibrator(method, factory, child),
      registerBackend: () => {
        throw new Error('the calibrators plugin registers no backend');
      },
    };
    await plugin.register(ctx);
    const classes = { minmax: MinMaxCalibrator, entropy: EntropyCalibrator, percentile: PercentileCalibrator, mse: MseCalibrator };
    for (const [method, cls] of Object.entries(classes)) {
      expect(child.isRegistered(calibratorToken(method))).toBe(true);
      expect(qdeployContainer.isRegistered(calibratorToken(method))).toBe(false); // not leaked into the parent
      const factory = resolveCalibratorFactory(method, child);
      const cal = factory();
      expect(cal).toBeInstanceOf(cls);
      expect(cal.method).toBe(method);
      cal.collect(new Float32Array([0.5, -2, 1]));
      expect(cal.compute().amax).toBeGreaterThan(0);
      expect(cal.compute().amax).toBeLessThanOrEqual(2);
    }
    // options reach the calibrator through the factory
    const p = resolveCalibratorFactory('percentile', child)({ percentile: 99.9 }) as PercentileCalibrator;
    expect(p.percentile).toBe(99.9);
    expect(() => resolveCalibratorFactory('percentile', child)({ percentil: 1 })).toThrow(/unknown option/);
  });

  it('registerAll hands every method to a plain function', () => {
    const seen = new Map<string, CalibratorFactory>();
    registerAll((m, f) => seen.set(m, f));
    expect([...seen.keys()].sort()).toEqual(['entropy', 'minmax', 'mse', 'percentile']);
    expect(seen.get('minmax')!()).toBeInstanceOf(MinMaxCalibrator);
    // each call makes a fresh calibrator (one per observed tensor)
    expect(seen.get('entropy')!()).not.toBe(seen.get('entropy')!());
  });
});
