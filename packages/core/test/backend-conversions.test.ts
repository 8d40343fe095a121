// A backend's table gets core's standard conversions (RemoveIdentity, RemoveDropout,
// FoldBatchNorm) unless it opts out: one that forgets them no longer leaves every
// BatchNorm unfolded.
import { describe, expect, it } from 'vitest';
import { FoldBatchNorm, STANDARD_CONVERSIONS, backendPatterns, constant, definePattern, input, loadModel, op, transform, withStandardConversions, type Backend } from '../src/index.js';
import { vendored } from './helpers/fixtures.js';

const Conv = definePattern({ name: 'Conv', root: op('Conv', [input('input'), constant('weight')]), qdqPoints: ['input'] });

describe('standard conversions are on by default for backends', () => {
  it('a table without conversions folds the BatchNorms anyway', () => {
    const forgetful: Backend = { name: 'forgetful', patterns: [Conv] };
    const patterns = backendPatterns(forgetful);
    expect(patterns.map((p) => p.name)).toEqual([...STANDARD_CONVERSIONS.map((p) => p.name), 'Conv']);
    const model = loadModel(vendored('fmnist_resnet_bn.onnx'));
    const r = transform(model, { patterns });
    expect(r.conversions.FoldBatchNorm).toBe(model.graph.nodesOf('BatchNormalization').length);
    expect(r.model.graph.nodesOf('BatchNormalization')).toHaveLength(0);
  });

  it('adds only what the table lacks, in front, and nothing when it lists them all', () => {
    expect(withStandardConversions({}, [FoldBatchNorm, Conv]).map((p) => p.name)).toEqual(['RemoveIdentity', 'RemoveDropout', 'FoldBatchNorm', 'Conv']);
    const full = [...STANDARD_CONVERSIONS, Conv];
    expect(withStandardConversions({}, full)).toBe(full);
  });

  it('standardConversions: false keeps the table exactly (a target that runs BatchNorm natively)', () => {
    const native: Backend = { name: 'native-bn', patterns: [Conv], standardConversions: false };
    expect(backendPatterns(native)).toEqual([Conv]);
    const r = transform(loadModel(vendored('fmnist_resnet_bn.onnx')), { patterns: backendPatterns(native) });
    expect(r.model.graph.nodesOf('BatchNormalization').length).toBeGreaterThan(0);
  });
});
