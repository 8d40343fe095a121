import { describe, expect, it } from 'vitest';

import { decodeTensorRtVersion, parseStats, parseTrtexecOutput, splitLogLine } from '../src/trtexec/index.js';
import { recordedLog } from './trtexec-helpers.js';

describe('parseTrtexecOutput: TensorRT 10.x log', () => {
  it('reads every number of the performance summary', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt10.9-best.log'));
    expect(s.tensorrtVersion).toBe('10.9.0');
    expect(s.tensorrtVersionCode).toBe('100900');
    expect(s.device).toBe('NVIDIA L4');
    expect(s.precision).toBe('FP32+FP16+INT8');
    expect(s.throughputQps).toBe(3921.07);
    expect(s.queries).toBe(11765);
    expect(s.latency).toEqual({
      min: 0.270508,
      max: 0.588867,
      mean: 0.288219,
      median: 0.281738,
      percentiles: { 90: 0.297363, 95: 0.312012, 99: 0.432617 },
    });
    expect(s.gpuComputeTime).toEqual({
      min: 0.231445,
      max: 0.538086,
      mean: 0.248367,
      median: 0.241699,
      percentiles: { 90: 0.257812, 95: 0.272461, 99: 0.390625 },
    });
    expect(s.enqueueTime?.median).toBe(0.00390625);
    expect(s.enqueueTime?.percentiles[99]).toBe(0.00830078);
    expect(s.h2dLatency?.mean).toBe(0.0352183);
    expect(s.d2hLatency?.max).toBe(0.0170898);
    expect(s.endToEndHostLatency).toBeUndefined();
    expect(s.totalHostWalltimeS).toBe(3.00046);
    expect(s.totalGpuComputeTimeS).toBe(2.92204);
    expect(s.engineBuildTimeS).toBe(41.8207);
    expect(s.engineGenerationTimeS).toBe(41.2345);
    expect(s.engineDeserializeTimeS).toBe(0.0231147);
    expect(s.engineSizeMiB).toBe(25.6289);
    expect(s.inferenceSkipped).toBe(false);
  });

  it('detects the unstable-timing warning and the verdict with its command', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt10.9-best.log'));
    expect(s.unstable).toEqual({ coefficientOfVariancePct: 9.83211 });
    expect(s.enqueueBound).toBe(false);
    expect(s.warnings).toEqual([
      '* GPU compute time is unstable, with coefficient of variance = 9.83211%.',
      'If not already in use, locking GPU clock frequency or adding --useSpinWait may improve the stability.',
    ]);
    expect(s.errors).toEqual([]);
    expect(s.passed).toBe(true);
    expect(s.verdict).toMatchObject({
      status: 'PASSED',
      test: 'TensorRT.trtexec',
      versionCode: '100900',
      command: 'trtexec --onnx=resnet50.qdq.onnx --best --shapes=input:1x3x224x224',
    });
  });

  it('the fp16 recording has no performance warnings', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt10.9-fp16.log'));
    expect(s.gpuComputeTime?.mean).toBe(0.301544);
    expect(s.throughputQps).toBe(3254.43);
    expect(s.precision).toBe('FP32+FP16');
    expect(s.unstable).toBeUndefined();
    expect(s.warnings).toEqual([]);
  });

  it('parses the same log without timestamps, and without any prefix', async () => {
    const log = await recordedLog('trt10.9-best.log');
    const noStamp = log.replace(/^\[\d\d\/\d\d\/\d{4}-\d\d:\d\d:\d\d\] /gm, '');
    const noPrefix = noStamp.replace(/^\[[IWEV]\] /gm, '');
    const a = parseTrtexecOutput(log);
    const b = parseTrtexecOutput(noStamp);
    const c = parseTrtexecOutput(noPrefix);
    expect(b).toEqual(a);
    expect(c.latency).toEqual(a.latency);
    expect(c.gpuComputeTime).toEqual(a.gpuComputeTime);
    expect(c.throughputQps).toBe(3921.07);
    expect(c.engineBuildTimeS).toBe(41.8207);
    // Without the [W] tag a line is no longer a warning: that is how trtexec marks them.
    expect(c.warnings).toEqual([]);
  });
});

describe('parseTrtexecOutput: TensorRT 8.x logs', () => {
  it('8.6: 90/95/99 percentiles, no End-to-End line, enqueue-bound warning', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt8.6-int8.log'));
    expect(s.tensorrtVersion).toBe('8.6.1');
    expect(s.tensorrtVersionCode).toBe('8601');
    expect(s.device).toBe('NVIDIA A10');
    expect(s.throughputQps).toBe(3016.76);
    expect(s.latency?.percentiles).toEqual({ 90: 0.41333, 95: 0.421875, 99: 0.49707 });
    expect(s.gpuComputeTime).toEqual({
      min: 0.303101,
      max: 0.61438,
      mean: 0.315071,
      median: 0.311279,
      percentiles: { 90: 0.322754, 95: 0.330078, 99: 0.40332 },
    });
    expect(s.endToEndHostLatency).toBeUndefined();
    expect(s.totalHostWalltimeS).toBe(3.00093);
    expect(s.totalGpuComputeTimeS).toBe(2.85234);
    expect(s.engineBuildTimeS).toBe(187.405);
    expect(s.enqueueBound).toBe(true);
    expect(s.unstable).toBeUndefined();
    expect(s.warnings).toHaveLength(4);
    expect(s.warnings[0]).toMatch(/^\[TRT\] onnx2trt_utils\.cpp:374: Your ONNX model has been generated with INT64 weights/);
    expect(s.verdict?.command).toBe(
      'trtexec --onnx=resnet50.qdq.onnx --fp16 --int8 --shapes=input:1x3x224x224 --memPoolSize=workspace:4096',
    );
    expect(s.passed).toBe(true);
  });

  it('8.2: only percentile(99%) plus End-to-End Host Latency', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt8.2-fp16.log'));
    expect(s.tensorrtVersion).toBe('8.2.1');
    expect(s.device).toBe('Tesla T4');
    expect(s.throughputQps).toBe(1042.84);
    expect(s.latency).toEqual({ min: 1.04419, max: 1.61768, mean: 1.07148, median: 1.06641, percentiles: { 99: 1.2522 } });
    expect(s.endToEndHostLatency).toEqual({
      min: 1.08618,
      max: 2.91162,
      mean: 1.86434,
      median: 1.86426,
      percentiles: { 99: 2.06104 },
    });
    expect(s.gpuComputeTime?.percentiles).toEqual({ 99: 1.13086 });
    expect(s.totalGpuComputeTimeS).toBe(2.9816);
    expect(s.engineBuildTimeS).toBe(158.935);
    expect(s.engineSizeMiB).toBeUndefined();
    expect(s.enqueueBound).toBe(false);
    expect(s.passed).toBe(true);
  });

  it('a failed build: [E] lines and the FAILED verdict', async () => {
    const s = parseTrtexecOutput(await recordedLog('trt10.9-build-failure.log'));
    expect(s.passed).toBe(false);
    expect(s.verdict?.status).toBe('FAILED');
    expect(s.errors).toEqual([
      'Error[2]: [convBaseBuilder.cpp::createConvolution::259] Error Code 2: Internal Error (Assertion isOpConsistent(convolution.get()) failed. Cask convolution isConsistent check failed.)',
      'Engine could not be created from network',
      'Building engine failed',
      'Failed to create engine from model or file.',
      'Engine set up failed',
    ]);
    expect(s.throughputQps).toBeUndefined();
    expect(s.latency).toBeUndefined();
  });
});

describe('pieces', () => {
  it.each([
    ['100900', '10.9.0'],
    ['101600', '10.16.0'],
    ['100300', '10.3.0'],
    ['8601', '8.6.1'],
    ['8611', '8.6.11'],
    ['8510', '8.5.10'],
    ['8201', '8.2.1'],
    ['v7103', '7.1.3'],
  ])('decodeTensorRtVersion(%s) = %s', (code, version) => {
    expect(decodeTensorRtVersion(code)).toBe(version);
  });

  it('version from the tag alone; the build suffix [b72] is tolerated', () => {
    const s = parseTrtexecOutput('&&&& PASSED TensorRT.trtexec [TensorRT v101600] [b72] # trtexec --onnx=a.onnx');
    expect(s.tensorrtVersion).toBe('10.16.0');
    expect(s.verdict?.command).toBe('trtexec --onnx=a.onnx');
    expect(parseTrtexecOutput('&&&& PASSED TensorRT.trtexec [TensorRT v8201]').verdict).toMatchObject({
      status: 'PASSED',
      versionCode: '8201',
    });
  });

  it('"Engine built in X sec" without the final period; a run that did not finish', () => {
    const s = parseTrtexecOutput('&&&& RUNNING TensorRT.trtexec [TensorRT v8401] # trtexec\n[I] Engine built in 12.5 sec\n');
    expect(s.engineBuildTimeS).toBe(12.5);
    expect(s.passed).toBeUndefined();
    expect(s.verdict?.status).toBe('RUNNING');
  });

  it('splitLogLine', () => {
    expect(splitLogLine('[11/26/2026-10:00:00] [I] Throughput: 1 qps')).toEqual({
      timestamp: '11/26/2026-10:00:00',
      severity: 'I',
      message: 'Throughput: 1 qps',
    });
    expect(splitLogLine('[W] [TRT] something')).toEqual({ severity: 'W', message: '[TRT] something' });
    expect(splitLogLine('plain')).toEqual({ message: 'plain' });
  });

  it('parseStats handles scientific notation and custom percentiles', () => {
    expect(parseStats('min = 1e-05 ms, max = 2.5 ms, mean = 0.5 ms, median = 0.4 ms, percentile(99.9%) = 2 ms')).toEqual({
      min: 1e-5,
      max: 2.5,
      mean: 0.5,
      median: 0.4,
      percentiles: { 99.9: 2 },
    });
    expect(parseStats('min = 1 ms')).toBeUndefined();
  });
});
