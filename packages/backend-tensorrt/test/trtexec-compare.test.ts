// compareEngines drives the stand-in trtexec (test/fixtures/fake-trtexec.mjs); the numbers come
// from its recorded logs, not from a GPU.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import {
  compareEngines,
  formatComparison,
  formatNumber,
  TrtexecUsageError,
  withLabelSuffix,
  type BuildOptions,
} from '../src/trtexec/index.js';
import { FAKE_TRTEXEC, workDir } from './trtexec-helpers.js';

let dir: string;
let onnx: string;
let cleanup: () => Promise<void>;

beforeEach(async () => {
  ({ dir, onnx, cleanup } = await workDir());
});
afterEach(async () => cleanup());

const base = (scenario = 'trt10'): BuildOptions => ({
  trtexecPath: FAKE_TRTEXEC,
  shapes: { input: [1, 3, 224, 224] },
  env: { FAKE_TRTEXEC_SCENARIO: scenario },
});

describe('compareEngines', () => {
  it('builds each variant in turn and tabulates them side by side', async () => {
    const started: string[] = [];
    const cmp = await compareEngines(onnx, { ...base(), saveEngine: path.join(dir, 'model.engine') }, ['best', 'fp16'], {
      onVariantStart: (label) => started.push(label),
    });
    expect(started).toEqual(['best', 'fp16']);
    expect(cmp.entries.map((e) => e.label)).toEqual(['best', 'fp16']);
    const [best, fp16] = cmp.entries;
    expect(best!.result.args).toContain('--best');
    expect(fp16!.result.args).toContain('--fp16');
    expect(best!.result.args).toContain(`--saveEngine=${path.join(dir, 'model.best.engine')}`);
    expect(fp16!.result.args).toContain(`--saveEngine=${path.join(dir, 'model.fp16.engine')}`);
    expect(existsSync(path.join(dir, 'model.best.engine'))).toBe(true);
    expect(best!.result.layerInfo?.summary.int8Share).toBe(5 / 7);
    expect(fp16!.result.layerInfo?.summary.int8Share).toBe(0);

    const table = formatComparison(cmp);
    const lines = table.split('\n');
    expect(lines[0]).toBe(`trtexec comparison: ${onnx} (TensorRT 10.9.0, NVIDIA L4)`);
    const row = (name: string) => lines.find((l) => l.startsWith(name))!.split(/\s{2,}/);
    expect(lines[1]!.trim().split(/\s+/)).toEqual(['best', 'fp16']);
    expect(row('Precision')).toEqual(['Precision', 'FP32+FP16+INT8 (--best)', 'FP32+FP16 (--fp16)']);
    expect(row('Median latency (ms)')).toEqual(['Median latency (ms)', '0.2817', '0.3354']);
    expect(row('Mean GPU compute (ms)')).toEqual(['Mean GPU compute (ms)', '0.2484', '0.3015']);
    expect(row('Throughput (qps)')).toEqual(['Throughput (qps)', '3921', '3254']);
    expect(row('Speed-up vs fp16')).toEqual(['Speed-up vs fp16', '1.21×', '1.00×']);
    expect(row('INT8 layer share')).toEqual(['INT8 layer share', '71% (5/7)', '0% (0/7)']);
    expect(row('Reformat layers')).toEqual(['Reformat layers', '3 (3 type changes)', '2 (2 type changes)']);
    expect(row('Build time (s)')).toEqual(['Build time (s)', '41.82', '27.51']);
    expect(table).toContain('* best: GPU compute time is unstable (coefficient of variance 9.832%)');
    expect(table).not.toContain('is slower than');
  });

  it('explains an INT8 engine that is slower than FP16: reformats and where they sit', async () => {
    const qdq = onnx;
    const fp32 = path.join(dir, 'model.fp32.onnx');
    await writeFile(fp32, 'placeholder\n');
    const cmp = await compareEngines(qdq, base(), [
      // The 8.6 recording is slower than the 10.9 fp16 one: a stand-in for "INT8 slower than FP16".
      { precision: 'best', label: 'int8 (qdq)', options: { env: { FAKE_TRTEXEC_SCENARIO: 'trt8.6' } } },
      { precision: 'fp16', onnxPath: fp32 },
    ]);
    expect(cmp.entries[1]!.onnxPath).toBe(fp32);
    expect(cmp.entries[1]!.result.args[0]).toBe(`--onnx=${fp32}`);
    const table = formatComparison(cmp.entries);
    expect(table.split('\n')[0]).toBe(`trtexec comparison: ${qdq} vs ${fp32} (TensorRT 8.6.1 / 10.9.0, NVIDIA A10 / NVIDIA L4)`);
    expect(table).toMatch(/Speed-up vs fp16\s+0\.96×\s+1\.00×/);
    expect(table).toContain('* int8 (qdq): throughput may be bound by enqueue time (GPU under-utilised); try useCudaGraph.');
    expect(table).toContain(
      '* int8 (qdq) is slower than fp16 (0.96×).\nonly 71% of compute layers run in INT8; 3 reformat layers, 3 of them converting between precisions.',
    );
    expect(table).toContain(
      '  - Reformatting CopyNode for Input Tensor 0 to Conv_50 + Relu_51: INT8 → FP16 dequantize (Thirty-two wide channel vectorized row major Int8 format → Channel major FP16 format where channel % 8 == 0) between "layer1.0.conv2.weight + QuantizeLinear_30 + Conv_32 + Add_34 + Relu_35" and "Conv_50 + Relu_51"',
    );
    expect(table).toContain('  - QuantizeLinear_70: FP16 → INT8 quantize');
  });

  it('validates every variant before the first build', async () => {
    const argsOut = path.join(dir, 'argv.json');
    const options = { ...base(), env: { FAKE_TRTEXEC_SCENARIO: 'trt10', FAKE_TRTEXEC_ARGS_OUT: argsOut } };
    await expect(compareEngines(onnx, options, ['best', ['stronglyTyped', 'int8']])).rejects.toThrow(
      /compareEngines, variant "stronglyTyped\+int8": precision 'stronglyTyped' cannot be combined with int8/,
    );
    expect(existsSync(argsOut)).toBe(false);
    await expect(compareEngines(onnx, options, ['fp16', 'fp16'])).rejects.toThrow(/two variants are labelled "fp16"/);
    await expect(compareEngines(onnx, { ...options, skipInference: true })).rejects.toThrow(TrtexecUsageError);
    await expect(compareEngines(onnx, options, [])).rejects.toThrow(/at least one variant/);
  });
});

describe('formatting helpers', () => {
  it('formatNumber', () => {
    expect(formatNumber(0.0386963)).toBe('0.0387');
    expect(formatNumber(1.43823)).toBe('1.438');
    expect(formatNumber(691.435)).toBe('691.4');
    expect(formatNumber(18392)).toBe('18392');
  });

  it('withLabelSuffix', () => {
    expect(withLabelSuffix('out/m.engine', 'fp16')).toBe('out/m.fp16.engine');
    expect(withLabelSuffix('out/m', 'int8 (qdq)')).toBe('out/m.int8__qdq_');
  });

  it('formatComparison of nothing', () => {
    expect(formatComparison([])).toBe('No trtexec results to compare.');
  });
});
