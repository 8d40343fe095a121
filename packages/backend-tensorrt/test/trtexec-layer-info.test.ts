import { describe, expect, it } from 'vitest';

import { formatPrecision, parseLayerInfo, parseProfile } from '../src/trtexec/index.js';
import { fixtureText } from './trtexec-helpers.js';

describe('formatPrecision', () => {
  it.each([
    ['Row major linear FP32', 'FP32'],
    ['Channel major FP16 format where channel % 8 == 0', 'FP16'],
    ['Four wide channel vectorized row major Int8 format', 'INT8'],
    ['Thirty-two wide channel vectorized row major Int8 format', 'INT8'],
    ['Int8 NC/32HW32', 'INT8'],
    ['Channel major INT8 format where column stride % 32 == 0', 'INT8'],
    ['Two wide channel vectorized row major FP16 format', 'FP16'],
    ['Row major linear BFloat16 format', 'BF16'],
    ['Row major linear FP8 format', 'FP8'],
    ['Row major linear UInt8 format', 'UINT8'],
    ['Row major linear Int32', 'INT32'],
    ['Row major linear Int64 format', 'INT64'],
    ['Row major linear BOOL', 'BOOL'],
    ['Float', 'FP32'],
    ['Half', 'FP16'],
    ['Int8', 'INT8'],
    ['Row major linear FP32.', 'FP32'],
    ['N/A due to dynamic shapes', 'UNKNOWN'],
    ['Unknown format', 'UNKNOWN'],
  ])('%s → %s', (format, precision) => {
    expect(formatPrecision(format)).toBe(precision);
  });
});

describe('parseLayerInfo', () => {
  it('derives per-layer precision, reformats and the summary of an INT8 engine', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-int8.json'));
    expect(info.detailed).toBe(true);
    expect(info.bindings).toEqual(['input', 'output']);
    expect(info.layers.map((l) => [l.name, l.type, l.precision, l.isReformat, l.isCompute])).toEqual([
      ['QuantizeLinear_2', 'Reformat', 'INT8', true, false],
      ['conv1.weight + QuantizeLinear_7 + Conv_9 + Relu_11', 'CaskConvolution', 'INT8', false, true],
      ['MaxPool_12', 'CaskPooling', 'INT8', false, true],
      ['layer1.0.conv1.weight + QuantizeLinear_20 + Conv_22 + Relu_24', 'CaskConvolution', 'INT8', false, true],
      ['layer1.0.conv2.weight + QuantizeLinear_30 + Conv_32 + Add_34 + Relu_35', 'CaskConvolution', 'INT8', false, true],
      ['Reformatting CopyNode for Input Tensor 0 to Conv_50 + Relu_51', 'Reformat', 'FP16', true, false],
      ['Conv_50 + Relu_51', 'CudaDepthwiseConvolution', 'FP16', false, true],
      ['GlobalAveragePool_60', 'CaskPooling', 'FP16', false, true],
      ['QuantizeLinear_70', 'Reformat', 'INT8', true, false],
      ['fc.weight + QuantizeLinear_75 + Gemm_77', 'CaskConvolution', 'INT8', false, true],
      ['copied_squeeze_after_Gemm_77', 'NoOp', 'FP32', false, false],
    ]);
    expect(info.summary).toEqual({
      totalLayers: 11,
      computeLayers: 7,
      reformatLayers: 3,
      precisionReformats: 3,
      byPrecision: { INT8: 7, FP16: 3, FP32: 1 },
      computeByPrecision: { INT8: 5, FP16: 2 },
      int8ComputeLayers: 5,
      int8Share: 5 / 7,
      unknownPrecisionLayers: 0,
    });
    const fc = info.layers[9]!;
    expect(fc.weightsType).toBe('Int8');
    expect(fc.outputs[0]).toMatchObject({ name: 'fc_out', precision: 'FP32', dimensions: [1, 1000, 1, 1] });
  });

  it('explains why each reformat layer is there, naming its neighbours', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-int8.json'));
    const [q, copy, q2] = info.layers.filter((l) => l.isReformat).map((l) => l.reformat!);
    expect(q).toMatchObject({
      kind: 'quantize',
      origin: 'QDQ',
      from: { precision: 'FP32', format: 'Row major linear FP32', tensor: 'input' },
      to: { precision: 'INT8', format: 'Four wide channel vectorized row major Int8 format', tensor: 'q_input' },
      consumers: ['conv1.weight + QuantizeLinear_7 + Conv_9 + Relu_11'],
    });
    expect(q!.producer).toBeUndefined();
    expect(q!.reason).toBe(
      'FP32 → INT8 quantize (Row major linear FP32 → Four wide channel vectorized row major Int8 format) between network input "input" and "conv1.weight + QuantizeLinear_7 + Conv_9 + Relu_11" (from a Q/DQ node)',
    );
    expect(copy).toMatchObject({
      kind: 'dequantize',
      origin: 'REFORMAT',
      producer: 'layer1.0.conv2.weight + QuantizeLinear_30 + Conv_32 + Add_34 + Relu_35',
      consumers: ['Conv_50 + Relu_51'],
    });
    expect(copy!.reason).toContain('INT8 → FP16 dequantize');
    expect(q2).toMatchObject({ kind: 'quantize', producer: 'GlobalAveragePool_60', consumers: ['fc.weight + QuantizeLinear_75 + Gemm_77'] });
  });

  it('an FP16 engine: no INT8 layers, reformats at the network boundary', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-fp16.json'));
    expect(info.summary).toMatchObject({
      totalLayers: 10,
      computeLayers: 7,
      reformatLayers: 2,
      precisionReformats: 2,
      computeByPrecision: { FP16: 7 },
      int8ComputeLayers: 0,
      int8Share: 0,
    });
    const [inReformat, outReformat] = info.layers.filter((l) => l.isReformat);
    expect(inReformat!.reformat).toMatchObject({ kind: 'precision', consumers: ['Conv_9 + Relu_11'] });
    expect(inReformat!.reformat!.reason).toContain('between network input "input"');
    expect(outReformat!.reformat).toMatchObject({ kind: 'precision', producer: 'Gemm_77', consumers: ['copied_squeeze_after_Gemm_77'] });
  });

  it('names only (profilingVerbosity not detailed): reformats found by name, precision unknown', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-names-only.json'));
    expect(info.detailed).toBe(false);
    expect(info.layers).toHaveLength(11);
    expect(info.layers.every((l) => l.precision === 'UNKNOWN' && l.type === 'Unknown')).toBe(true);
    const reformats = info.layers.filter((l) => l.isReformat);
    expect(reformats.map((l) => l.name)).toEqual(['Reformatting CopyNode for Input Tensor 0 to Conv_50 + Relu_51']);
    expect(reformats[0]!.reformat).toMatchObject({ kind: 'unknown', consumers: ['Conv_50 + Relu_51'] });
    expect(info.summary.int8Share).toBeNull();
    expect(info.summary.unknownPrecisionLayers).toBe(11);
  });

  it('TensorRT 10 bare types and "N/A due to dynamic shapes"', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-trt10-dynamic.json'));
    expect(info.layers.map((l) => [l.type, l.precision])).toEqual([
      ['Reformat', 'INT8'],
      ['CaskConvolution', 'INT8'],
      ['CaskPooling', 'UNKNOWN'],
      ['gemm', 'FP16'],
      ['kgen', 'FP16'],
    ]);
    expect(info.layers[3]!.inputs[0]!.location).toBeUndefined();
    expect(info.layers[1]!.metadata).toBe('[ONNX Layer: /conv1/Conv]\u001e[ONNX Layer: /relu/Relu]');
    expect(info.summary).toMatchObject({ computeLayers: 4, int8ComputeLayers: 1, int8Share: 1 / 3, unknownPrecisionLayers: 1 });
    expect(info.layers[0]!.reformat).toMatchObject({ kind: 'quantize', origin: 'QDQ', consumers: ['/conv1/Conv + /relu/Relu'] });
  });

  it('rejects what is not a layer-information file', () => {
    expect(() => parseLayerInfo('[1, 2]')).toThrow(/expected an object with a "Layers" array/);
    expect(() => parseLayerInfo('{')).toThrow(SyntaxError);
  });
});

describe('parseProfile', () => {
  it('per-layer times, count, reformat time', async () => {
    const info = parseLayerInfo(await fixtureText('layer-info-int8.json'));
    const profile = parseProfile(await fixtureText('profile-int8.json'), info);
    expect(profile.count).toBe(2000);
    expect(profile.layers).toHaveLength(11);
    expect(profile.layers[1]).toEqual({
      name: 'conv1.weight + QuantizeLinear_7 + Conv_9 + Relu_11',
      timeMs: 84.2,
      averageMs: 0.0421,
      medianMs: 0.041468,
      percentage: 21.8701,
    });
    expect(profile.totalAverageMs).toBeCloseTo(0.1925, 10);
    // QuantizeLinear_2 + Reformatting CopyNode + QuantizeLinear_70
    expect(profile.reformatAverageMs).toBeCloseTo(0.0112 + 0.0186 + 0.0054, 10);
  });

  it('older files without medianMs; reformats recognised by name without layer info', () => {
    const p = parseProfile(
      '[ { "count" : 7075 }, { "name" : "QuantizeLinear_2", "timeMs" : 83.9859, "averageMs" : 0.0118708, "percentage" : 2.91082 },' +
        ' { "name" : "Reformatting CopyNode for Input Tensor 0 to GAP", "timeMs" : 40.2834, "averageMs" : 0.00569377, "percentage" : 1.39616 } ]',
    );
    expect(p.count).toBe(7075);
    expect(p.layers[0]).toEqual({ name: 'QuantizeLinear_2', timeMs: 83.9859, averageMs: 0.0118708, percentage: 2.91082 });
    expect(p.reformatAverageMs).toBe(0.00569377);
    expect(() => parseProfile('{}')).toThrow(/expected a JSON array/);
  });
});
