import { describe, expect, it } from 'vitest';
import { benchmarkModel, concreteShape, formatBenchReport, percentile } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

const MODEL = vendored('fmnist_resnet.onnx');

describe('benchmarkModel', () => {
  it('times the model on random input of its shape, dynamic batch → batchSize', async () => {
    const r = await benchmarkModel(MODEL, { batchSize: 2, iterations: 7, warmup: 1, threads: 1 });
    expect(r.inputShapes).toEqual({ input: [2, 1, 28, 28] });
    expect(r).toMatchObject({ batchSize: 2, iterations: 7, warmup: 1, threads: 1, model: MODEL });
    const l = r.latencyMs;
    expect(l.min).toBeGreaterThan(0);
    expect(l.min).toBeLessThanOrEqual(l.median);
    expect(l.median).toBeLessThanOrEqual(l.p90);
    expect(l.p90).toBeLessThanOrEqual(l.p99);
    expect(l.p99).toBeLessThanOrEqual(l.max);
    expect(l.mean).toBeGreaterThanOrEqual(l.min);
    expect(l.mean).toBeLessThanOrEqual(l.max);
    expect(r.throughput).toBeCloseTo((2 * 1000) / l.mean, 6);
    const text = formatBenchReport(r);
    expect(text).toMatch(/input\s+input \[2×1×28×28\]/);
    expect(text).toMatch(/latency ms\s+min [\d.]+\s+mean [\d.]+\s+median [\d.]+\s+p90 [\d.]+\s+p99 [\d.]+/);
    expect(text).toMatch(/samples\/s \(batch 2\)/);
  });

  it('inputShape overrides the shape; bad options are refused', async () => {
    const r = await benchmarkModel(MODEL, { inputShape: [3, 1, 28, 28], iterations: 2, warmup: 0 });
    expect(r.inputShapes.input).toEqual([3, 1, 28, 28]);
    expect(r.batchSize).toBe(3);
    await expect(benchmarkModel(MODEL, { iterations: 0 })).rejects.toThrow(/iterations must be an integer >= 1/);
    await expect(benchmarkModel(MODEL, { threads: 0 })).rejects.toThrow(/threads/);
    await expect(benchmarkModel(MODEL, { inputShape: [1, 28, 28] })).rejects.toThrow(/rank 3 but input 'input' has rank 4/);
  });
});

describe('bench helpers', () => {
  it('concreteShape and nearest-rank percentiles', () => {
    expect(concreteShape(['batch', 3, -1, null, 7], 4)).toEqual([4, 3, 4, 4, 7]);
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 90)).toBe(90);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([5], 99)).toBe(5);
    expect(percentile([], 50)).toBeNaN();
  });
});
